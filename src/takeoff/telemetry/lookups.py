"""The ingest's lookup cache: which use cases exist and their current baselines, per database, for a short TTL
(the reads every batch repeats). Baselines forget a use case here when they freeze a new one."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from takeoff.telemetry import requests_store

Lookup = Callable[[Session, set[str]], tuple[set[str], dict[str, dict[str, Any] | None]]]


class LookupCache:
    """Known use cases and their current baselines, per database, for LOOKUP_TTL_S: the reads every batch repeats.

    Only positive answers are kept (an unknown key is looked up again, then registered as discovered). A baseline
    frozen in this process is seen at once (set_baseline invalidates); one frozen by another process is used
    for binning at most LOOKUP_TTL_S later.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, use_cases: set[str], lookup: Lookup
            ) -> tuple[set[str], dict[str, dict[str, Any] | None]]:
        """(known use cases, their baselines), from the cache or `lookup` (the ingest's own read) for the rest."""
        db = str(session.get_bind().url)
        now = time.monotonic()
        with self._lock:
            hit = {uc: self._entries.get((db, uc)) for uc in use_cases}
        missing = {uc for uc, e in hit.items() if e is None or e[0] < now}
        known = use_cases - missing
        baselines = {uc: e[1] for uc, e in hit.items() if uc in known and e is not None}
        if missing:
            found, fresh = lookup(session, missing)
            known |= found
            baselines.update(fresh)
            with self._lock:
                for uc in found:
                    self._entries[(db, uc)] = (now + LOOKUP_TTL_S, fresh.get(uc))
        return known, baselines

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def forget(self, use_case: str) -> None:
        """Forget one use case (its baseline changed)."""
        with self._lock:
            for key in [k for k in self._entries if k[1] == use_case]:
                del self._entries[key]


LOOKUP_TTL_S = 2.0
LOOKUPS = LookupCache()


def clear_lookup_cache() -> None:
    """Forget every cached use-case lookup and capture policy (use cases are never deleted; a test that empties
    tables calls this)."""
    LOOKUPS.clear()
    requests_store.clear_policy_cache()
