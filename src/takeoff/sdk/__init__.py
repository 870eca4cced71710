"""takeoff SDK for AI applications: active release by canary split, tracking, guard, feedback.

Imports httpx and the standard library only; nothing touches the network at import.
"""
from .client import BUCKETS, ActiveConfig, Client, choose_release, unit_bucket
from .guard import CircuitBreaker, CostBudget, Guard, GuardOutcome, GuardRejected, Reservation, TokenBucket
from .tracking import ERROR_CATEGORIES, OUTCOMES, STATUSES, TOKEN_KINDS, TrackSpec, Tracker, current_tracker
from .transport import MAX_BATCH, Transport, backoff_delay, classify_status

__all__ = [
    "ActiveConfig", "BUCKETS", "CircuitBreaker", "Client", "CostBudget", "ERROR_CATEGORIES", "Guard",
    "GuardOutcome", "GuardRejected", "MAX_BATCH", "OUTCOMES", "Reservation", "STATUSES", "TOKEN_KINDS",
    "TokenBucket", "TrackSpec", "Tracker", "Transport", "backoff_delay", "choose_release", "classify_status",
    "current_tracker", "unit_bucket",
]
