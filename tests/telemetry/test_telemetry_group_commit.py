"""Group commit of ingest batches (telemetry.group_commit): batches queued for the slot share one commit, none is
answered before that commit, one member's failure stays its own, a failed commit fails every member."""
from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from takeoff.core.actor import SYSTEM
from takeoff.telemetry import api, service
from takeoff.telemetry.group_commit import GroupSlot
from takeoff.telemetry.rollup import unit_key as _unit_key

TEST_UNIT_KEY = _unit_key("test-secret-key-for-unit-hashes")


class FakeSession:
    """Writes are pending until commit; a savepoint undoes its writes when its block raises."""

    def __init__(self, fail_commit: bool = False, bind: str = "one database") -> None:
        self.bind = bind
        self.pending: list[str] = []
        self.durable: list[str] = []
        self.commits, self.fail_commit = 0, fail_commit

    @contextlib.contextmanager
    def begin_nested(self) -> Iterator[None]:
        mark = len(self.pending)
        try:
            yield
        except BaseException:
            del self.pending[mark:]
            raise

    def commit(self) -> None:
        if self.fail_commit:
            raise RuntimeError("disk full")
        self.durable += self.pending
        self.pending = []
        self.commits += 1

    def rollback(self) -> None:
        self.pending = []

    def get_bind(self) -> str:
        return self.bind


def _writer(name: str, fail: bool = False) -> Callable[[Any], str]:
    def write(session: FakeSession) -> str:
        session.pending.append(name)
        if fail:
            raise ValueError(f"{name} failed")
        return name
    return write


def _run_queued(slot: GroupSlot, session: FakeSession, prepares: list[Callable[[], Any]]
                ) -> dict[int, tuple[str, Any, list[str]]]:
    """The first prepare holds the slot until every other thread waits for it; returns each thread's outcome
    (ok/error, value, what was durable when its answer came)."""
    gate = threading.Event()
    out: dict[int, tuple[str, Any, list[str]]] = {}

    def first() -> Any:
        gate.wait(10)
        return prepares[0]()

    def run(i: int, prepare: Callable[[], Any]) -> None:
        try:
            value = slot.ingest(session, prepare)  # type: ignore[arg-type]
            out[i] = ("ok", value, list(session.durable))
        except Exception as exc:  # the outcome under test
            out[i] = ("error", str(exc), list(session.durable))

    threads = [threading.Thread(target=run, args=(0, first))]
    threads[0].start()
    while not slot._slot.locked():
        time.sleep(0.001)
    for i, p in enumerate(prepares[1:], 1):
        threads.append(threading.Thread(target=run, args=(i, p)))
        threads[-1].start()
    deadline = time.time() + 10
    while slot._waiting < len(prepares) - 1 and time.time() < deadline:
        time.sleep(0.001)
    gate.set()
    for t in threads:
        t.join(10)
    return out


def test_queued_batches_share_one_commit_and_each_is_answered_after_it():
    slot, session = GroupSlot(), FakeSession()
    out = _run_queued(slot, session, [lambda n=n: _writer(f"b{n}") for n in range(4)])
    assert session.commits == slot.commits == 1
    assert sorted(session.durable) == ["b0", "b1", "b2", "b3"]
    for i in range(4):
        status, value, durable_then = out[i]
        assert status == "ok" and value == f"b{i}" and value in durable_then  # answered after its commit


def test_a_full_group_commits_and_the_rest_form_the_next():
    slot, session = GroupSlot(max_batches=2), FakeSession()
    out = _run_queued(slot, session, [lambda n=n: _writer(f"b{n}") for n in range(5)])
    assert session.commits == 3 and sorted(session.durable) == [f"b{n}" for n in range(5)]
    assert all(out[i][0] == "ok" and out[i][1] in out[i][2] for i in range(5))


def test_a_failing_write_fails_alone_and_the_others_are_committed():
    slot, session = GroupSlot(), FakeSession()
    out = _run_queued(slot, session, [lambda: _writer("b0"), lambda: _writer("b1", fail=True), lambda: _writer("b2")])
    assert out[1] == ("error", "b1 failed", ["b0", "b2"])
    assert session.durable == ["b0", "b2"] and out[0][0] == out[2][0] == "ok"


def test_a_failed_commit_fails_every_member():
    slot, session = GroupSlot(), FakeSession(fail_commit=True)
    out = _run_queued(slot, session, [lambda n=n: _writer(f"b{n}") for n in range(3)])
    assert all(out[i] == ("error", "disk full", []) for i in range(3))
    assert session.durable == [] and session.pending == []


def test_a_batch_refused_by_its_checks_never_joins_and_still_commits_the_group_it_found():
    def refused() -> Any:
        raise ValueError("events.3.ts: too late")

    slot, session = GroupSlot(), FakeSession()
    out = _run_queued(slot, session, [lambda: _writer("b0"), refused])  # the refused one holds the slot last
    assert out[1] == ("error", "events.3.ts: too late", ["b0"])
    assert out[0][0] == "ok" and session.durable == ["b0"] and session.commits == 1


def test_batches_for_two_databases_are_each_committed_in_their_own():
    slot, first, second = GroupSlot(), FakeSession(), FakeSession(bind="another database")
    gate = threading.Event()
    answers: dict[str, Any] = {}

    def send(name: str, session: FakeSession, wait: bool) -> None:
        def prepare() -> Any:
            if wait:
                gate.wait(10)
            return _writer(name)
        answers[name] = slot.ingest(session, prepare)  # type: ignore[arg-type]

    threads = [threading.Thread(target=send, args=("a", first, True))]
    threads[0].start()
    while not slot._slot.locked():
        time.sleep(0.001)
    threads += [threading.Thread(target=send, args=("b", second, False)),
                threading.Thread(target=send, args=("c", first, False))]
    threads[1].start()
    threads[2].start()
    while slot._waiting < 2:
        time.sleep(0.001)
    gate.set()
    for t in threads:
        t.join(10)
    assert answers == {"a": "a", "b": "b", "c": "c"}
    assert sorted(first.durable) == ["a", "c"] and second.durable == ["b"] and slot.commits == 2


def _body(use_case: str, n: int) -> bytes:
    now = time.time()
    return json.dumps({"events": [{"id": uuid.uuid4().hex, "use_case": use_case, "release": "r:1",
                                   "unit_id": f"u{j % 7}", "ts": now - j % 3, "latency_ms": 12.0}
                                  for j in range(n)]}).encode()


def _count(factory: Any, use_case: str) -> int:
    with factory() as s:  # durable: another connection sees it at once
        return int(s.execute(text("SELECT count(*) FROM telemetry_events WHERE use_case = :u"),
                             {"u": use_case}).scalar_one())


def _queued_senders(factory: Any, monkeypatch: Any, use_case: str, send: Callable[[Any], None], senders: int,
                    each: int) -> tuple[GroupSlot, list[int]]:
    """`senders` threads calling `send(session)` `each` times with a slower prepare (so batches queue, as under
    load) on a fresh slot; returns the slot and the stored count each thread saw right after each answer."""
    slot = GroupSlot()
    monkeypatch.setattr(service, "_INGEST_SLOT", slot)
    errors: list[BaseException] = []
    answered: list[int] = []

    def sender() -> None:
        try:
            for _ in range(each):
                with factory() as s:
                    send(s)
                answered.append(_count(factory, use_case))
        except BaseException as exc:  # reported below
            errors.append(exc)

    slow = service.prepare_ingest

    def slower(*a: Any, **k: Any) -> Any:
        time.sleep(0.02)
        return slow(*a, **k)

    monkeypatch.setattr(service, "prepare_ingest", slower)
    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return slot, answered


def test_concurrent_http_batches_are_all_stored_once_with_fewer_commits(factory, monkeypatch):
    """The real path (`_ingest_and_commit`), 4 threads x 5 batches: every event stored once, answered after a
    commit, and batches that queued shared commits."""
    use_case = f"group-{uuid.uuid4().hex[:8]}"
    with factory() as s:  # discovers the use case
        api._ingest_and_commit(s, SYSTEM, _body(use_case, 1), 3600, TEST_UNIT_KEY)

    def send(s: Any) -> None:
        assert api._ingest_and_commit(s, SYSTEM, _body(use_case, 50), 3600, TEST_UNIT_KEY) == (50, 0)

    slot, answered = _queued_senders(factory, monkeypatch, use_case, send, 4, 5)
    assert _count(factory, use_case) == 1 + 4 * 5 * 50
    assert slot.commits < 4 * 5  # some batches shared a commit
    assert min(answered) >= 51


@pytest.mark.parametrize("where", ["write", "commit"])
def test_a_failure_in_the_group_stores_nothing_it_answers_as_failed(factory, monkeypatch, where):
    """Real database: a write that fails is rolled back to its savepoint alone; a failed commit fails the batch."""
    slot = GroupSlot()
    monkeypatch.setattr(service, "_INGEST_SLOT", slot)
    use_case = f"group-fail-{uuid.uuid4().hex[:8]}"
    with factory() as s:
        api._ingest_and_commit(s, SYSTEM, _body(use_case, 1), 3600, TEST_UNIT_KEY)
    real = service.prepare_ingest

    def failing(*a: Any, **k: Any) -> Any:
        write = real(*a, **k)

        def broken(session: Any) -> Any:
            write(session)  # its rows are written, then the failure
            if where == "write":
                raise RuntimeError("write failed")
            session.commit = lambda: (_ for _ in ()).throw(RuntimeError("commit failed"))
            return (1, 0)
        return broken

    monkeypatch.setattr(service, "prepare_ingest", failing)
    with factory() as s, pytest.raises(RuntimeError, match=f"{where} failed"):
        api._ingest_and_commit(s, SYSTEM, _body(use_case, 20), 3600, TEST_UNIT_KEY)
    with factory() as s:
        assert s.execute(text("SELECT count(*) FROM telemetry_events WHERE use_case = :u"),
                         {"u": use_case}).scalar_one() == 1


def test_a_lone_batch_is_written_without_a_savepoint_and_its_failure_rolls_back():
    """One member alone needs no savepoint (one round trip each way less per batch); its failure is its answer."""
    nested: list[int] = []

    class Counting(FakeSession):
        def begin_nested(self):  # type: ignore[no-untyped-def]
            nested.append(1)
            return super().begin_nested()

    slot, session = GroupSlot(), Counting()
    assert slot.ingest(session, lambda: _writer("b0")) == "b0"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="b1 failed"):
        slot.ingest(session, lambda: _writer("b1", fail=True))  # type: ignore[arg-type]
    assert session.durable == ["b0"] and session.pending == [] and nested == [] and slot.commits == 1


def _span_body(use_case: str, n: int) -> bytes:
    """An OTLP export of n lone model calls of `use_case` (its service name)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", use_case
    spans, now = rs.scope_spans.add().spans, time.time_ns()
    for _ in range(n):
        sp = spans.add()
        sp.trace_id, sp.span_id, sp.name = uuid.uuid4().bytes, uuid.uuid4().bytes[:8], "chat m"
        sp.start_time_unix_nano, sp.end_time_unix_nano = now - 10**8, now
        for key, value in (("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "m")):
            a = sp.attributes.add()
            a.key, a.value.string_value = key, value
        a = sp.attributes.add()
        a.key, a.value.int_value = "gen_ai.usage.input_tokens", 5
    return req.SerializeToString()


def test_concurrent_otlp_exports_share_commits_and_each_is_answered_after_its_own(factory, monkeypatch):
    """OTLP exports take the same group commit as JSON batches: 4 senders x 4 exports, every span stored once,
    each export's spans queryable when its answer comes, and exports that queued shared commits."""
    from takeoff.telemetry import otlp, otlp_ingest

    use_case = f"otlp-group-{uuid.uuid4().hex[:8]}"
    seen = otlp.SeenTraces()

    def export(s: Any, n: int) -> list[Any]:
        return otlp_ingest.ingest_export(s, SYSTEM, _span_body(use_case, n), "application/x-protobuf", None,
                                         late_s=3600, unit_key=TEST_UNIT_KEY, limits=None, seen=seen)

    with factory() as s:  # discovers the use case
        export(s, 1)
    slot, answered = _queued_senders(factory, monkeypatch, use_case, lambda s: _assert_empty(export(s, 30)), 4, 4)
    with factory() as s:
        assert s.execute(text("SELECT count(*) FROM telemetry_events WHERE use_case = :u AND source = 'otlp'"),
                         {"u": use_case}).scalar_one() == 1 + 4 * 4 * 30
    assert slot.commits < 4 * 4
    assert min(answered) >= 31


def _assert_empty(refused: list[Any]) -> None:
    assert refused == []
