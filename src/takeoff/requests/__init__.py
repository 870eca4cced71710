"""Requests: the explorer over request records (list, detail, export), capture policies and unit deletion."""
