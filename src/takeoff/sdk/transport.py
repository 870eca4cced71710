"""Background delivery of events and feedback: a bounded queue, batches, retries with backoff, flush at exit.

The caller never waits: `submit` either puts the item in the queue at once or counts it as dropped.
Items keep their id across retries, and the server is idempotent on it, so a retried batch is stored once.
Recorded past events ("record") go to the same endpoint in batches of their own: the server refuses a batch whole
when one event is older than its lateness window, and a backfill must not take live events down with it.
"""
from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

import httpx

log = logging.getLogger("takeoff.sdk")

Kind = Literal["event", "record", "feedback"]
MAX_BATCH = 1000  # the server refuses larger batches
_PATHS = {"event": "/api/v1/events", "record": "/api/v1/events", "feedback": "/api/v1/feedback"}
USER_AGENT = "takeoff-sdk"


def check_http(http_client: Any, http_transport: Any) -> None:
    """Validate an injected HTTP client or transport (at most one of them; None means the SDK's own)."""
    if http_client is not None and http_transport is not None:
        raise ValueError("give http_client or http_transport, not both")
    if http_client is not None and not isinstance(http_client, httpx.Client):
        raise ValueError(f"http_client must be an httpx.Client (e.g. a Starlette TestClient), got {http_client!r}")
    if http_transport is not None and not isinstance(http_transport, httpx.BaseTransport):
        raise ValueError(f"http_transport must be an httpx.BaseTransport, got {http_transport!r}")


@contextlib.contextmanager
def open_http(http_client: httpx.Client | None, http_transport: httpx.BaseTransport | None,
              timeout_s: float) -> Iterator[httpx.Client]:
    """The HTTP client to send with: the injected one (left open, its owner closes it) or an own one, closed after."""
    if http_client is not None:
        yield http_client
        return
    with httpx.Client(timeout=timeout_s, transport=http_transport) as own:
        yield own


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, with jitter so clients do not sync up."""
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be an integer >= 1, got {attempt!r}")
    if base_s <= 0 or max_s <= 0:
        raise ValueError(f"base_s and max_s must be > 0, got {base_s!r} and {max_s!r}")
    ceiling = min(max_s, base_s * (2 ** min(attempt - 1, 30)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def classify_status(status_code: int) -> Literal["ok", "retry", "refused"]:
    """What to do with a batch after an HTTP answer: 2xx done, 408/429/5xx retry, other 4xx refused for good."""
    if 200 <= status_code < 300:
        return "ok"
    if status_code in (408, 429) or status_code >= 500:
        return "retry"
    return "refused"


@dataclass
class _Stats:
    sent: int = 0
    duplicates: int = 0
    retries: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


class Transport:
    """One background sender thread per client, started lazily on the first submit (never at import)."""

    def __init__(self, url: str, token: str, *, max_queue: int = 10_000, batch_size: int = 500,
                 flush_interval_s: float = 1.0, timeout_s: float = 5.0, backoff_base_s: float = 0.5,
                 backoff_max_s: float = 30.0, exit_flush_timeout_s: float = 5.0,
                 http_client: httpx.Client | None = None, http_transport: httpx.BaseTransport | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        if not isinstance(token, str):
            raise ValueError("token must be a string")
        for name, value in (("max_queue", max_queue), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if batch_size > MAX_BATCH:
            raise ValueError(f"batch_size must be <= {MAX_BATCH}, got {batch_size}")
        for name, value in (("flush_interval_s", flush_interval_s), ("timeout_s", timeout_s),
                            ("backoff_base_s", backoff_base_s), ("backoff_max_s", backoff_max_s),
                            ("exit_flush_timeout_s", exit_flush_timeout_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        check_http(http_client, http_transport)
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        self._http_client = http_client
        self._http_transport = http_transport
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval_s = float(flush_interval_s)
        self.timeout_s = float(timeout_s)
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        self.exit_flush_timeout_s = float(exit_flush_timeout_s)
        self._q: queue.Queue[tuple[Kind, dict[str, Any]]] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # submitted and not yet sent or dropped
        self._stats = _Stats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._warned: set[str] = set()

    # ---- caller side -------------------------------------------------------------------------
    def submit(self, kind: Kind, payload: dict[str, Any]) -> bool:
        """Queue one event, recorded past event or feedback without ever blocking; False (a counted drop) when it cannot."""
        if kind not in _PATHS:
            raise ValueError(f"kind must be one of {', '.join(_PATHS)}, got {kind!r}")
        if not isinstance(payload, dict):
            raise ValueError("payload must be a dict")
        if self._closed:
            self._drop("client_closed", 1)
            return False
        self._ensure_started()
        with self._lock:
            self._pending += 1
        try:
            self._q.put_nowait((kind, payload))
        except queue.Full:
            with self._lock:
                self._pending -= 1
            self._drop("queue_full", 1)
            return False
        if self._q.qsize() >= self.batch_size:
            self._wake.set()
        return True

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Ask the sender to send now and wait up to timeout_s until everything submitted is sent or dropped."""
        if timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s!r}")
        self._wake.set()
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def close(self, timeout_s: float | None = None) -> None:
        """Send what is pending (retrying until timeout_s), stop the thread, count what is left as dropped."""
        if self._closed:
            return
        self._closed = True
        try:
            atexit.unregister(self._at_exit)
        except Exception:  # noqa: BLE001 - interpreter shutting down
            pass
        timeout = self.exit_flush_timeout_s if timeout_s is None else max(0.0, float(timeout_s))
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._deadline = time.monotonic() + timeout
            self._stop.set()
            self._wake.set()
            thread.join(timeout + self.timeout_s + 1.0)
        left = 0
        while True:
            try:
                self._q.get_nowait()
                left += 1
            except queue.Empty:
                break
        if left:
            with self._idle:
                self._pending -= left
                self._idle.notify_all()
            self._drop("unsent_at_exit", left)
        s = self.stats()
        if s["dropped_total"]:
            log.warning("takeoff sdk: %d events sent, %d dropped %s", s["sent"], s["dropped_total"], s["dropped"])

    def stats(self) -> dict[str, Any]:
        """Delivery counters: sent, duplicates (already stored), retries, dropped by reason, queue size, pending."""
        with self._lock:
            return {"sent": self._stats.sent, "duplicates": self._stats.duplicates,
                    "retries": self._stats.retries, "dropped": dict(self._stats.dropped),
                    "dropped_total": sum(self._stats.dropped.values()), "queue_size": self._q.qsize(),
                    "pending": self._pending}

    # ---- sender side -------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            # daemon, so a hung server never keeps the app alive; atexit drains the queue first
            self._thread = threading.Thread(target=self._run, name="takeoff-sdk-sender", daemon=True)
            self._thread.start()
            atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        self.close(self.exit_flush_timeout_s)

    def _drop(self, reason: str, n: int) -> None:
        with self._lock:
            self._stats.dropped[reason] = self._stats.dropped.get(reason, 0) + n
            first = reason not in self._warned
            self._warned.add(reason)
        if first:
            log.warning("takeoff sdk: dropping events (%s); see client.stats()", reason)

    def _resolve(self, n: int) -> None:
        with self._idle:
            self._pending -= n
            if self._pending <= 0:
                self._idle.notify_all()

    def _run(self) -> None:
        with open_http(self._http_client, self._http_transport, self.timeout_s) as http:
            while True:
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
                self._drain(http)
                if self._stop.is_set() and self._q.empty():
                    return

    def _drain(self, http: httpx.Client) -> None:
        while True:
            items: list[tuple[Kind, dict[str, Any]]] = []
            while len(items) < self.batch_size:
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            if not items:
                return
            for batch_kind in ("event", "record"):
                events = [p for k, p in items if k == batch_kind]
                if events:
                    self._deliver(http, batch_kind, {"events": events}, len(events))
            for fb in (p for k, p in items if k == "feedback"):
                self._deliver(http, "feedback", fb, 1)

    def _deliver(self, http: httpx.Client, kind: Kind, body: dict[str, Any], n: int) -> None:
        attempt = 0
        while True:
            verdict, reason, retry_after = self._post(http, kind, body)
            if verdict == "ok":
                with self._lock:
                    self._stats.sent += n
                    if isinstance(reason, int):
                        self._stats.duplicates += reason
                self._resolve(n)
                return
            if verdict == "refused":
                self._drop(str(reason), n)
                self._resolve(n)
                return
            attempt += 1
            with self._lock:
                self._stats.retries += 1
            delay = max(backoff_delay(attempt, self.backoff_base_s, self.backoff_max_s), retry_after or 0.0)
            delay = min(delay, self.backoff_max_s)
            if self._stop.is_set():
                remaining = (self._deadline or 0.0) - time.monotonic()
                if remaining <= 0:
                    self._drop("unsent_at_exit", n)
                    self._resolve(n)
                    return
                time.sleep(min(delay, 0.25, remaining))
            else:
                self._stop.wait(delay)  # close() cuts the wait short to start the final drain

    def _post(self, http: httpx.Client, kind: Kind, body: dict[str, Any]
              ) -> tuple[Literal["ok", "retry", "refused"], str | int | None, float | None]:
        try:
            # headers per request, so an injected client sends them too; its timeouts are its owner's to set
            resp = http.post(self.url + _PATHS[kind], json=body, headers=self._headers)
        except httpx.HTTPError:
            return "retry", None, None
        except Exception as exc:  # noqa: BLE001 - e.g. a payload that is not JSON: it will never go out
            return "refused", f"unsendable:{type(exc).__name__}", None
        verdict = classify_status(resp.status_code)
        if verdict == "refused":
            return verdict, f"http_{resp.status_code}", None
        if verdict == "retry":
            try:
                retry_after = float(resp.headers.get("Retry-After", ""))
            except ValueError:
                retry_after = None
            return verdict, None, retry_after
        duplicates = 0
        try:
            data = resp.json()
            if isinstance(data, dict) and isinstance(data.get("duplicates"), int):
                duplicates = data["duplicates"]
        except ValueError:
            pass
        return "ok", duplicates, None
