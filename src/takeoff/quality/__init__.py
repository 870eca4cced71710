"""Online evaluation of production traffic: evaluators per use case score a sampled share of new requests."""
