"""The explorer's export: the filtered requests streamed as JSONL or CSV, read in keyset chunks (each in a short
read session, so no lock is held while the client reads), with their redacted content on request."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from takeoff.core.db import read_session
from takeoff.requests.queries import C, Filters, _bad, _plan, _query, summary

MAX_EXPORT = 100_000
EXPORT_CHUNK = 1000


def export_rows(engine: Engine, f: Filters, unit_key: bytes, max_rows: int, content: bool = False
                ) -> Iterator[dict[str, Any]]:
    """Up to `max_rows` requests matching the filters, newest first, read in keyset chunks with a short read session
    each (bounded memory, no lock held while the client reads), with `content` each one's redacted content (null
    where none is stored). Checks `max_rows` before the first row."""
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or not 1 <= max_rows <= MAX_EXPORT:
        raise _bad("max", f"an integer from 1 to {MAX_EXPORT}")
    return _export(engine, f, unit_key, max_rows, content)


def _export(engine: Engine, f: Filters, unit_key: bytes, left: int, content: bool) -> Iterator[dict[str, Any]]:
    after: tuple[datetime, str] | None = None
    while left > 0:
        with read_session(engine) as session:
            rows = list(session.scalars(_query(f, unit_key, after, *_plan(session, f)).limit(min(EXPORT_CHUNK, left))))
            ids = [r.id for r in rows]
            if content:
                bodies = dict(session.execute(select(C.event_id, C.body).where(C.event_id.in_(ids))).tuples().all())
                out = [{**summary(r, r.id in bodies, None),
                        "content": json.loads(bodies[r.id]) if r.id in bodies else None} for r in rows]
            else:
                with_content = set(session.scalars(select(C.event_id).where(C.event_id.in_(ids))))
                out = [summary(r, r.id in with_content, None) for r in rows]
        yield from out
        if len(rows) < min(EXPORT_CHUNK, left):
            return
        left -= len(rows)
        after = (rows[-1].ts, rows[-1].id)


EXPORT_FIELDS = ("id", "ts", "use_case", "release", "status", "outcome", "latency_ms", "model", "provider",
                 "cost_usd", "tokens_input", "tokens_output", "error_category", "unit", "has_content", "source")


def export_lines(rows: Iterator[dict[str, Any]], fmt: str) -> Iterator[bytes]:
    """Rows as JSONL or CSV (a header line first), 500 rows a chunk."""
    import csv
    import io

    buf, n = io.StringIO(), 0
    writer = csv.writer(buf) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_FIELDS)
    for r in rows:
        if writer is not None:
            tokens = r["tokens"]
            writer.writerow([*(r[k] for k in EXPORT_FIELDS[:10]), tokens.get("input", 0), tokens.get("output", 0),
                             *(r[k] for k in EXPORT_FIELDS[12:])])
        else:
            buf.write(json.dumps(r, ensure_ascii=False) + "\n")
        n += 1
        if n % 500 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()
