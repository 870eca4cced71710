"""The foundation: database, settings, errors, the actor and its permissions, bounded types, domain events.

Every domain builds on it; it imports no domain (an import contract in pyproject.toml keeps it so).
"""
