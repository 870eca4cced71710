"""The span and content rows of request records are what they were before requests_store.prepare/_bulk were made
cheaper (timestamps from a per-second prefix, one flattening of the parameters): the rows built and the rows stored
(every column, read back as the database holds them) for the OTLP corpus of tests/telemetry/otlp_corpus.py and odd
hand-made events, compared with a frozen copy of the code before the change, on both backends."""
from __future__ import annotations

import copy
import math
import random
import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic_core
import pytest
from sqlalchemy.orm import Session

from takeoff.core.db import transaction, utcnow
from takeoff.telemetry import capture, otlp, requests_store
from takeoff.telemetry.capture import Policy
from takeoff.telemetry.common import sqlite_time

from tests.telemetry import otlp_corpus

NOW = datetime(2026, 12, 7, 5, 0, 0, 123457, tzinfo=UTC)


# ------------------------------------------------------------------ the code before the change (frozen, verbatim)
def _old_json(value: Any) -> str:
    return pydantic_core.to_json(value, serialize_unknown=True).decode()


def _old_time(x: float, sqlite: bool) -> Any:
    dt = datetime.fromtimestamp(x, UTC)
    return dt.isoformat(" ", "microseconds")[:26] if sqlite else dt


def _old_prepare(events: Iterable[dict[str, Any]], policies: dict[str, Policy], sqlite: bool,
                 now: datetime | None = None) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    capturing = {uc for uc, p in policies.items() if p.capture}
    spans: list[tuple[Any, ...]] = []
    contents: list[tuple[Any, ...]] = []
    now = now or utcnow()
    expiry: dict[str, Any] = {}
    for ev in events:
        if "spans" in ev and ev["spans"]:
            seen: set[str] = set()
            for s in ev["spans"]:
                if s["span_id"] in seen:
                    continue
                seen.add(s["span_id"])
                spans.append((ev["id"], s["span_id"], s["trace_id"], s.get("parent_span_id"), s["name"], s.get("kind"),
                              s.get("status") or "unset", _old_time(s["start"], sqlite), s.get("duration_ms"),
                              _old_json(s.get("attributes") or {})))
        uc = ev["use_case"]
        if capturing and uc in capturing and ev.get("content"):
            policy = policies[uc]
            body, found, cut = capture.apply(ev["content"], policy)
            if body:
                if uc not in expiry:
                    expiry[uc] = (_old_time((now + timedelta(days=policy.retention_days)).timestamp(), sqlite)
                                  if policy.retention_days else None)
                contents.append((ev["id"], uc, _old_time(ev["ts"], sqlite), expiry[uc], _old_json(body),
                                 _old_json(found) if found else "{}", cut))
    return spans, contents


def _old_bulk(session: Session, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]], sqlite: bool) -> None:
    conn = session.connection()
    if not sqlite:
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        return
    one = f"({', '.join('?' * len(cols))})"
    per = max(1, 900 // len(cols))
    for i in range(0, len(rows), per):
        chunk = rows[i:i + per]
        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES {', '.join([one] * len(chunk))}",
                             tuple(v for r in chunk for v in r))


# ------------------------------------------------------------------ the inputs
def _corpus_batches() -> list[list[dict[str, Any]]]:
    """Each corpus export's events as ingestion gets them (mapped with content, checked by EventIn)."""
    out = []
    for _name, req in otlp_corpus.exports():
        mapped = otlp.span_events(req, None, lambda uc: True)
        kept, _ = otlp.check_events(mapped.events, otlp_corpus._now_s(req), otlp_corpus.LATE_S)
        unique = list({ev["id"]: ev for ev in reversed(kept)}.values())[::-1]  # one per id, as ingestion keeps
        if unique:
            out.append(unique)
    return out


def _odd_batch() -> list[dict[str, Any]]:
    """Hand-made events: integer and half-microsecond times, times across a second, duplicate span ids, empty and
    missing attributes, content with an integer ts."""
    tid, base = "0af7651916cd43dd8448eb211c80319c", 1_796_000_000

    def span(sid: str, start: Any, **kw: Any) -> dict[str, Any]:
        return {"trace_id": tid, "span_id": sid, "name": "n", "start": start, **kw}

    spans = [span("a" * 16, base), span("b" * 16, base + 0.0000005), span("c" * 16, base + 0.9999996),
             span("d" * 16, base + 0.9999994, attributes={}), span("a" * 16, base + 5.0),
             span("e" * 16, 1.0, attributes={"x": 1.5e20, "y": [1, "é"], "z": None}, kind="client", status="error",
                  duration_ms=3.25, parent_span_id="a" * 16),
             span("f" * 16, base + 0.1234565, attributes={"k": "\x00\t\n"})]
    content = {"input": [{"role": "user", "content": "mail me: bob@example.org"}]}
    return [{"id": "odd-1", "use_case": "uc-odd", "ts": base, "spans": spans, "content": content},
            {"id": "odd-2", "use_case": "uc-odd", "ts": base + 0.5, "spans": [], "content": content},
            {"id": "odd-3", "use_case": "uc-odd-2", "ts": base + 2.0000015, "content": content}]


def _policies(batch: list[dict[str, Any]]) -> dict[str, Policy]:
    """Capture on for every use case, with a content retention for every other one (expiry times too)."""
    ucs = sorted({ev["use_case"] for ev in batch})
    return {uc: capture.make_policy(uc, True, retention_days=30 if i % 2 else None) for i, uc in enumerate(ucs)}


def _batches() -> list[list[dict[str, Any]]]:
    return [*_corpus_batches(), _odd_batch()]


# ------------------------------------------------------------------ the tests
@pytest.mark.parametrize("sqlite", [True, False])
def test_rows_built_are_the_old_ones(sqlite: bool) -> None:
    batches = _batches()
    assert sum(len(ev.get("spans") or ()) for b in batches for ev in b) > 1000  # the corpus does carry span trees
    for batch in batches:
        pol = _policies(batch)
        old = _old_prepare(copy.deepcopy(batch), pol, sqlite, NOW)
        new = requests_store.prepare(copy.deepcopy(batch), pol, sqlite, NOW)
        assert all(r[-1] == new.batch for r in new.contents)  # the text search block (tele0011), added since
        assert (new.spans, [r[:-1] for r in new.contents]) == old
        assert [[type(v) for v in r] for r in new.spans] == [[type(v) for v in r] for r in old[0]]


def test_sqlite_times_are_the_old_text() -> None:
    """The per-second path against datetime's own, over random and rounding-edge times (half microseconds, times
    a hair under a second, integers, times before 2001)."""
    rng = random.Random(18)
    xs = [rng.uniform(1e-6, 1e11) for _ in range(50_000)]
    xs += [rng.randint(1_000_000_000, 2_000_000_000) + rng.randint(0, 2_000_000) / 2e6 for _ in range(50_000)]
    xs += [rng.randint(1, 4_000_000_000) + 0.9999995 + rng.choice((-1, 0, 1)) * 1e-9 for _ in range(20_000)]
    xs += [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(20_000)]
    xs = [x for x in xs if math.isfinite(x) and 0 < x < 2.5e11] + [1, 2_000_000_000, 0.5, 1e-7, 99_999_999_999.9999995]
    differ = [x for x in xs if sqlite_time(x) != _old_time(x, True)]
    assert differ == []


def _stored(session: Session, sqlite: bool) -> list[tuple[Any, ...]]:
    """Every column of the span and content rows as the database holds them (JSON as its stored text)."""
    if sqlite:
        spans = "SELECT * FROM telemetry_spans ORDER BY rowid"
        contents = ("SELECT event_id, use_case, ts, expires_at, body, redactions, truncated FROM request_content "
                    "ORDER BY rowid")  # every column but the text search block (tele0011, after the change)
    else:
        spans = ("SELECT event_id, span_id, trace_id, parent_span_id, name, kind, status, start, duration_ms, "
                 "attributes::text FROM telemetry_spans ORDER BY event_id, span_id")
        contents = ("SELECT event_id, use_case, ts, expires_at, body, redactions::text, truncated "
                    "FROM request_content ORDER BY event_id")
    conn = session.connection()
    return [tuple(r) for r in conn.exec_driver_sql(spans)] + [tuple(r) for r in conn.exec_driver_sql(contents)]


def test_rows_stored_are_the_old_ones(engine, factory) -> None:  # type: ignore[no-untyped-def]
    sqlite = engine.dialect.name == "sqlite"
    n = 0
    for batch in _batches():
        pol = _policies(batch)
        ids = {ev["id"] for ev in batch}
        stored = []
        for arm in ("old", "new"):
            with transaction(factory) as s:
                if arm == "old":
                    spans, contents = _old_prepare(copy.deepcopy(batch), pol, sqlite, NOW)
                    _old_bulk(s, "telemetry_spans", requests_store._SPAN_COLS, spans, sqlite)
                    if contents:
                        _old_bulk(s, "request_content", requests_store._CONTENT_COLS[:-1], contents, sqlite)
                else:
                    requests_store.write(s, requests_store.prepare(copy.deepcopy(batch), pol, sqlite, NOW), ids,
                                         sqlite)
                stored.append(_stored(s, sqlite))
                s.connection().exec_driver_sql("DELETE FROM telemetry_spans")
                s.connection().exec_driver_sql("DELETE FROM request_content")
        assert stored[0] == stored[1]
        n += len(stored[0])
    assert n > 1000
