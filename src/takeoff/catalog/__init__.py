"""Model catalog: approved models and vendors with effective-dated prices, limits, retention and fallbacks."""
