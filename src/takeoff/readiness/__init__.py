"""Readiness: the seed's seven-item production-readiness diagnostic, computed from live evidence (reads only)."""
