"""Fork safety: objects with threads or locks reset them in a forked child, which has only the forking thread.

A client made before `os.fork` (gunicorn, celery prefork) would otherwise keep the parent's dead sender thread,
its queue and possibly a lock another thread held at the fork. One hook is registered at import (no network);
each registered object resets itself lazily: its next use in the child starts fresh threads.
"""
from __future__ import annotations

import logging
import os
import weakref
from typing import Protocol

log = logging.getLogger("takeoff.sdk")


class ForkAware(Protocol):
    def _after_fork_in_child(self) -> None: ...


_LIVE: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def reset_after_fork(obj: ForkAware) -> None:
    """Have `obj._after_fork_in_child()` run in every child forked from now on (held weakly: no leak)."""
    _LIVE.add(obj)


def _after_fork_in_child() -> None:
    """The at-fork hook: reset every live registered object; one failing never stops the others or the child."""
    for obj in list(_LIVE):
        try:
            obj._after_fork_in_child()
        except Exception:  # a telemetry client must never break the forked app
            log.debug("takeoff sdk: reset after fork failed for %r", obj, exc_info=True)


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
