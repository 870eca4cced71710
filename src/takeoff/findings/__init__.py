"""Audit findings per use case: recorded, tracked to closure, and read by the quarterly review and readiness."""
