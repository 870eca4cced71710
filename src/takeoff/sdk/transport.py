"""Background delivery of events and feedback: a bounded queue, batches, retries with backoff, flush at exit.

Over ~400 lines on purpose: one Transport whose queue, batches, retries and flush share one lock and one thread; the
SDK stays a few stdlib-only modules.

The caller never waits: `submit` either puts the item in the queue at once or counts it as dropped.
Items keep their id across retries, and the server is idempotent on it, so a retried batch is stored once.
Recorded past events ("record") go to the same endpoint in batches of their own: the server refuses a batch whole
when one event is older than its lateness window, and a backfill must not take live events down with it.
A server that is down or overloaded (connection errors, 408/429/502/503/504) is waited for without limit; a batch
that keeps failing otherwise (500) is dropped after `max_error_attempts`, and a 422 naming its bad events
(`events.<index>.<field>`) drops only those and resends the rest, so one bad batch never blocks the queue.
Drops of events (not feedback, not the ones at exit) are reported to the server per (use case, release, reason),
riding on the next event batch that gets stored: the server counts a report only with a batch that stores new
events, so a retried batch carries the same report and it is counted once.
"""
from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import queue
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple
from collections.abc import Iterator

import httpx

from .forksafe import reset_after_fork

log = logging.getLogger("takeoff.sdk")

Kind = Literal["event", "record", "feedback"]
Verdict = Literal["ok", "retry", "error", "refused"]
MAX_BATCH = 1000  # the server refuses larger batches
_PATHS = {"event": "/api/v1/events", "record": "/api/v1/events", "feedback": "/api/v1/feedback"}
USER_AGENT = "takeoff-sdk"
TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})  # down or overloaded: wait for it, without limit
_EVENT_FIELD = re.compile(r"^events\.(\d+)(?:\.|$)")
MAX_REPORT_ENTRIES = 100            # "dropped" entries per batch, as the server takes them
MAX_REPORT_COUNT = 1_000_000_000    # count per entry; more waits for the next batch
_UNREPORTED_REASONS = frozenset({"unsent_at_exit", "client_closed"})  # the process is ending: nothing carries them


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


def classify_status(status_code: int) -> Verdict:
    """What to do with a batch after an HTTP answer.

    2xx done; 408/429/502/503/504 "retry" (the server is down or overloaded: retried until it is back);
    other 5xx "error" (retried a bounded number of times, then dropped); other answers "refused" at once
    (the server has judged the request itself: the same bytes get the same answer).
    """
    if 200 <= status_code < 300:
        return "ok"
    if status_code in TRANSIENT_STATUSES:
        return "retry"
    if status_code >= 500:
        return "error"
    return "refused"


def server_message(resp: httpx.Response, limit: int = 300) -> str:
    """The server's explanation of a refusal, for the log: its error message and named fields, else the raw text."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:limit]
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        fields = [f"{d.get('field')}: {d.get('message')}" for d in err.get("details") or [] if isinstance(d, dict)]
        text = "; ".join([str(err.get("message", ""))] + fields[:3])
    elif isinstance(data, dict) and "detail" in data:
        text = str(data["detail"])
    else:
        text = str(data)
    return text[:limit]


def named_bad_events(answer: Any, n_events: int) -> list[int] | None:
    """Indices of the events a 422 answer names (`events.<i>.<field>`), or None unless every detail names one.

    A detail that names no event (or an index past the batch) means the split would be a guess: then None,
    and the caller drops the batch whole.
    """
    err = answer.get("error") if isinstance(answer, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    if not isinstance(details, list) or not details:
        return None
    bad: set[int] = set()
    for d in details:
        name = d.get("field") if isinstance(d, dict) else None
        m = _EVENT_FIELD.match(name) if isinstance(name, str) else None
        if m is None or int(m.group(1)) >= n_events:
            return None
        bad.add(int(m.group(1)))
    return sorted(bad)


def names_report(answer: Any) -> bool:
    """Whether a 422 answer names the drop report (`dropped` or `dropped.<i>.<field>`)."""
    err = answer.get("error") if isinstance(answer, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    if not isinstance(details, list):
        return False
    for d in details:
        name = d.get("field") if isinstance(d, dict) else None
        if isinstance(name, str) and (name == "dropped" or name.startswith("dropped.")):
            return True
    return False


def _storable(text: str) -> bool:
    """Text the server stores and httpx sends: no NUL (a PostgreSQL text column refuses it), encodable as UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def report_key(reason: str, payload: Any) -> tuple[str, str | None, str] | None:
    """(use_case, release, reason) under which a dropped event is reported, or None when it cannot be: an entry the
    server would refuse must never ride on batches (each would be refused or resent without the report)."""
    use_case = payload.get("use_case") if isinstance(payload, dict) else None
    if not isinstance(use_case, str) or not 1 <= len(use_case) <= 64 or not _storable(use_case):
        return None
    release = payload.get("release")
    if not isinstance(release, str) or not _storable(release):
        release = None
    elif len(f"{use_case}:{release}" if release.isdigit() else release) > 100:  # as the server qualifies it
        release = None
    reason = reason[:64]
    return (use_case, release, reason) if reason and _storable(reason) else None


def _sendable(report: list[dict[str, Any]]) -> bool:
    """Whether a report encodes as httpx will send it (JSON, UTF-8)."""
    try:
        json.dumps(report, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        return False
    return True


class Answer(NamedTuple):
    """The outcome of one POST: verdict first (what to do), then what the stats and the log need."""

    verdict: Verdict
    reason: str | None = None        # drop reason when the items are not accepted: http_<code>, unsendable:<Exc>
    duplicates: int = 0              # events the server already had (a retried batch)
    accepted: int | None = None      # new events the server stored (None when it does not say)
    retry_after: float | None = None
    status: int | None = None
    message: str = ""
    bad: tuple[int, ...] = ()        # for a 422 that names its bad events: their indices in the batch
    bad_report: bool = False         # a 422 that names the batch's drop report (`dropped...`)


@dataclass
class _Stats:
    sent: int = 0
    duplicates: int = 0
    retries: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    drops_reported: int = 0          # dropped events the server has been told of (on a stored batch)
    drops_unreported: int = 0        # dropped events waiting to be reported (queued here or riding on a batch)
    last_refusal: dict[str, Any] | None = None


class Transport:
    """One background sender thread per client, started lazily on the first submit (never at import).

    In a forked child the queue, locks and counters start empty and the child starts its own sender on its first
    submit; what the parent had queued stays the parent's to send.
    """

    def __init__(self, url: str, token: str, *, max_queue: int = 10_000, batch_size: int = 500,
                 flush_interval_s: float = 1.0, timeout_s: float = 5.0, backoff_base_s: float = 0.5,
                 backoff_max_s: float = 30.0, exit_flush_timeout_s: float = 5.0, max_error_attempts: int = 5,
                 http_client: httpx.Client | None = None, http_transport: httpx.BaseTransport | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        if not isinstance(token, str):
            raise ValueError("token must be a string")
        for name, value in (("max_queue", max_queue), ("batch_size", batch_size),
                            ("max_error_attempts", max_error_attempts)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if batch_size > MAX_BATCH:
            raise ValueError(f"batch_size must be <= {MAX_BATCH}, got {batch_size}")
        for name, seconds in (("flush_interval_s", flush_interval_s), ("timeout_s", timeout_s),
                              ("backoff_base_s", backoff_base_s), ("backoff_max_s", backoff_max_s),
                              ("exit_flush_timeout_s", exit_flush_timeout_s)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                raise ValueError(f"{name} must be a number > 0, got {seconds!r}")
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
        self.max_error_attempts = max_error_attempts
        self._closed = False
        self._at_exit_registered = False
        self._fresh_state()
        reset_after_fork(self)

    def _fresh_state(self) -> None:
        """Empty queue, new locks and events, zero counters, no sender thread: a new client's state."""
        self._q: queue.Queue[tuple[Kind, dict[str, Any]]] = queue.Queue(maxsize=self.max_queue)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # submitted and not yet sent or dropped
        self._stats = _Stats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        # dropped events not yet reported, by (use_case, release, reason); insertion order is oldest first
        self._unreported: dict[tuple[str, str | None, str], int] = {}

    def _after_fork_in_child(self) -> None:
        """In a forked child: drop the parent's queue, locks and dead thread; the next submit starts a sender.

        The atexit hook registered in the parent is inherited, so the child's pending events are flushed at exit.
        """
        self._fresh_state()

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
            self._drop("queue_full", 1, report=() if kind == "feedback" else (payload,))
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
        except Exception:  # interpreter shutting down
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
        """Delivery counters: sent, duplicates (already stored), retries, dropped by reason, queue size, pending,
        the last refusal by the server (reason, status, message, items, attempts, ts) or None, and the dropped
        events reported to the server (drops_reported) or waiting to be (drops_unreported)."""
        with self._lock:
            last = self._stats.last_refusal
            return {"sent": self._stats.sent, "duplicates": self._stats.duplicates,
                    "retries": self._stats.retries, "dropped": dict(self._stats.dropped),
                    "dropped_total": sum(self._stats.dropped.values()), "queue_size": self._q.qsize(),
                    "pending": self._pending, "last_refusal": dict(last) if last else None,
                    "drops_reported": self._stats.drops_reported,
                    "drops_unreported": self._stats.drops_unreported}

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
            if not self._at_exit_registered:  # a forked child inherits the parent's registration
                atexit.register(self._at_exit)
                self._at_exit_registered = True

    def _at_exit(self) -> None:
        self.close(self.exit_flush_timeout_s)

    def _drop(self, reason: str, n: int, why: str = "", report: Any = ()) -> None:
        """Count n items as dropped for reason; the first drop of each reason logs one warning (with why).

        `report` holds the dropped payloads that are events: they wait, per (use_case, release, reason), to be
        reported to the server with a later batch (not at exit or after close: nothing would carry them).
        """
        with self._lock:
            self._stats.dropped[reason] = self._stats.dropped.get(reason, 0) + n
            first = reason not in self._warned
            self._warned.add(reason)
            if reason not in _UNREPORTED_REASONS:
                for payload in report:
                    key = report_key(reason, payload)
                    if key is not None:
                        self._unreported[key] = self._unreported.get(key, 0) + 1
                        self._stats.drops_unreported += 1
        if first:
            log.warning("takeoff sdk: dropping events (%s)%s; see client.stats()", reason, f": {why}" if why else "")

    def _give_up(self, answer: Answer, kind: Kind, items: list[dict[str, Any]], attempts: int) -> None:
        """The server will not take these items: count them under the answer's reason, keep it as last_refusal."""
        reason = answer.reason or "refused"
        n = len(items)
        with self._lock:
            self._stats.last_refusal = {"reason": reason, "status": answer.status, "message": answer.message,
                                        "items": n, "attempts": attempts, "ts": time.time()}
        status = f"HTTP {answer.status}" if answer.status is not None else reason
        self._drop(reason, n, f"{n} item(s) after {attempts} attempt(s), {status}: {answer.message}",
                   report=() if kind == "feedback" else items)
        self._resolve(n)

    def _take_report(self) -> list[dict[str, Any]]:
        """Take up to MAX_REPORT_ENTRIES unreported drop counts (one entry per key, at most MAX_REPORT_COUNT each)."""
        report: list[dict[str, Any]] = []
        with self._lock:
            for key in list(itertools.islice(self._unreported, MAX_REPORT_ENTRIES)):
                n = self._unreported.pop(key)
                take = min(n, MAX_REPORT_COUNT)
                if n > take:
                    self._unreported[key] = n - take  # the rest goes with a later batch
                use_case, release, reason = key
                report.append({"use_case": use_case, "release": release, "reason": reason, "count": take})
        return report

    def _put_back(self, report: list[dict[str, Any]]) -> None:
        """A batch that was not stored: its report was not counted, so a later batch carries it."""
        with self._lock:
            for entry in report:
                key = (entry["use_case"], entry["release"], entry["reason"])
                self._unreported[key] = self._unreported.get(key, 0) + entry["count"]

    def _discard_report(self, report: list[dict[str, Any]], answer: Answer) -> None:
        """The server refused the report itself (it should not): drop the report, not the events; warn once."""
        self._settle_report(report, reported=False)
        with self._lock:
            first = "bad_drop_report" not in self._warned
            self._warned.add("bad_drop_report")
        if first:
            log.warning("takeoff sdk: the server refused the drop report (HTTP %s: %s); resending the batch without "
                        "it, %d dropped event(s) not reported", answer.status, answer.message,
                        sum(e["count"] for e in report))

    def _settle_report(self, report: list[dict[str, Any]], reported: bool) -> None:
        """The report is done with: counted by the server (reported) or discarded."""
        n = sum(entry["count"] for entry in report)
        with self._lock:
            self._stats.drops_unreported -= n
            if reported:
                self._stats.drops_reported += n

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
                    self._deliver(http, batch_kind, events)
            for fb in (p for k, p in items if k == "feedback"):
                self._deliver(http, "feedback", [fb])

    def _deliver(self, http: httpx.Client, kind: Kind, items: list[dict[str, Any]]) -> None:
        """Send one batch (or one feedback) until it is accepted, refused or given up on; the queue then moves on.

        Transient failures are retried with backoff for as long as it takes (the same ids, so exactly once at the
        server); an "error" answer at most max_error_attempts times; a 422 naming bad events drops just those.
        An event batch carries the pending drop report; every resend of it carries the same one, and a batch that
        is not stored gives the report back for a later batch to carry.
        """
        report = self._take_report() if kind != "feedback" else []
        try:
            self._send(http, kind, items, report)
        finally:
            if report:  # not settled by _send: the batch was not stored
                self._put_back(report)

    def _send(self, http: httpx.Client, kind: Kind, items: list[dict[str, Any]],
              report: list[dict[str, Any]]) -> None:
        """_deliver's loop; it empties `report` once the report is counted by the server or discarded."""
        def give_back() -> None:  # before the items resolve, so a flush() that returns sees it back
            if report:
                if maybe_stored:  # an earlier try may have been stored, and the report counted: never count it twice
                    self._settle_report(report, reported=True)
                else:
                    self._put_back(report)
                report.clear()

        attempt = errors = posts = 0
        maybe_stored = False  # an earlier attempt may have been stored with its answer lost
        while items:
            if kind == "feedback":
                body: dict[str, Any] = items[0]
            else:
                body = {"events": items, "dropped": report} if report else {"events": items}
            answer = self._post(http, kind, body)
            posts += 1
            if answer.verdict == "ok":
                if answer.accepted == 0 and not maybe_stored:
                    give_back()  # nothing new stored (the events were all known): the server did not count it
                elif report:
                    self._settle_report(report, reported=True)
                    report.clear()
                with self._lock:
                    self._stats.sent += len(items)
                    self._stats.duplicates += answer.duplicates
                self._resolve(len(items))
                return
            if answer.verdict == "refused":
                if report and (answer.bad_report or (answer.reason or "").startswith("unsendable")
                               and not _sendable(report)):
                    self._discard_report(report, answer)
                    report.clear()
                    continue  # the same events once more, without the report
                if not answer.bad:
                    give_back()
                    self._give_up(answer, kind, items, posts)
                    return
                bad = set(answer.bad)
                rest = [e for i, e in enumerate(items) if i not in bad]
                if not rest:
                    give_back()
                self._give_up(answer, kind, [e for i, e in enumerate(items) if i in bad], posts)
                items = rest  # resend the good ones at once, with the same report
                continue
            maybe_stored = True  # "retry" or "error": the request may have been stored before the answer was lost
            if answer.verdict == "error":
                errors += 1
                if errors >= self.max_error_attempts:
                    give_back()
                    self._give_up(answer, kind, items, posts)
                    return
            attempt += 1
            with self._lock:
                self._stats.retries += 1
            if not self._wait_before_retry(attempt, answer.retry_after):
                give_back()
                self._drop("unsent_at_exit", len(items))
                self._resolve(len(items))
                return

    def _wait_before_retry(self, attempt: int, retry_after: float | None) -> bool:
        """Back off before retry number `attempt`; False when closing and the exit deadline has passed."""
        delay = max(backoff_delay(attempt, self.backoff_base_s, self.backoff_max_s), retry_after or 0.0)
        delay = min(delay, self.backoff_max_s)
        if self._stop.is_set():
            remaining = (self._deadline or 0.0) - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(delay, 0.25, remaining))
        else:
            self._stop.wait(delay)  # close() cuts the wait short to start the final drain
        return True

    def _post(self, http: httpx.Client, kind: Kind, body: dict[str, Any]) -> Answer:
        """POST one batch or feedback and classify the answer (never raises)."""
        try:
            # headers per request, so an injected client sends them too; its timeouts are its owner's to set
            resp = http.post(self.url + _PATHS[kind], json=body, headers=self._headers)
        except httpx.HTTPError:
            return Answer("retry")
        except Exception as exc:  # e.g. a payload that is not JSON: it will never go out
            return Answer("refused", f"unsendable:{type(exc).__name__}", message=str(exc)[:300])
        verdict = classify_status(resp.status_code)
        if verdict == "ok":
            return Answer("ok", duplicates=_count(resp, "duplicates") or 0, accepted=_count(resp, "accepted"))
        if verdict == "retry":
            return Answer("retry", retry_after=_retry_after(resp), status=resp.status_code)
        bad: list[int] | None = None
        bad_report = False
        if resp.status_code == 422 and kind != "feedback":
            try:
                data = resp.json()
            except ValueError:
                data = None
            bad_report = "dropped" in body and names_report(data)
            if not bad_report:
                bad = named_bad_events(data, len(body["events"]))
        return Answer(verdict, f"http_{resp.status_code}", status=resp.status_code, message=server_message(resp),
                      bad=tuple(bad or ()), bad_report=bad_report)


def _retry_after(resp: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (Retry-After in seconds), if it said so."""
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _count(resp: httpx.Response, key: str) -> int | None:
    """A count in an accepted batch's answer ("accepted", "duplicates"), or None when it does not say."""
    try:
        data = resp.json()
    except ValueError:
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
