"""Graceful stop of `takeoff serve`: on SIGTERM /readyz answers 503 (draining) for a while, then in-flight requests
finish within the grace period before the process exits.

Why a uvicorn.Server subclass: uvicorn closes its listening socket as soon as it sees SIGTERM, so a load balancer
still routing here would get refused connections; the drain period keeps serving while readiness says "go away".
"""
from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import uvicorn

log = logging.getLogger("takeoff.shutdown")

# Set once this process has been asked to stop; /readyz reads it.
draining = threading.Event()


class DrainingServer(uvicorn.Server):
    """A uvicorn server that, on SIGTERM, first reports not-ready for `drain_s` seconds and only then shuts down
    (uvicorn then waits up to `timeout_graceful_shutdown` for in-flight requests). SIGINT (Ctrl-C) skips the drain;
    a second signal stops at once."""

    def __init__(self, config: uvicorn.Config, drain_s: float = 0.0) -> None:
        super().__init__(config)
        self.drain_s = drain_s
        self._timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if draining.is_set() or sig != signal.SIGTERM or self.drain_s <= 0:
            draining.set()
            if self._timer is not None:
                self._timer.cancel()
            super().handle_exit(sig, frame)
            return
        draining.set()
        log.info("SIGTERM: draining for %.1f s (/readyz answers 503), then stopping", self.drain_s)
        self._captured_signals.append(sig)  # re-raised by uvicorn after the server exits, as for a direct stop
        self._timer = threading.Timer(self.drain_s, self._stop)
        self._timer.daemon = True
        self._timer.start()

    def _stop(self) -> None:
        self.should_exit = True
