"""Durable job queue in the database: claim with lease, retry with backoff, idempotent completion."""
