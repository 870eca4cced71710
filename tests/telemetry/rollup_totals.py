"""Test helper: events counted by a use case's rollups per grain, merged rows plus pending deltas."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text


class Totals(dict):
    """{grain: events counted}, with `pending`: how many deltas were not merged yet."""

    pending: int = 0


def rollup_totals(conn: Any, use_case: str) -> Totals:
    """Per grain (60, 3600, 86400): the rows' counts plus the pending deltas' (each delta counts in every grain).

    All reads share one snapshot: under PostgreSQL's READ COMMITTED a compaction committing between them made the
    minute rows miss deltas that the later reads no longer saw (2000 of 2400 once)."""
    conn.commit()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    out = Totals()
    for grain in (60, 3600, 86400):
        out[grain] = int(conn.scalar(text("SELECT coalesce(sum(count), 0) FROM telemetry_rollups "
                                          "WHERE use_case = :uc AND grain = :g"), {"uc": use_case, "g": grain}))
    deltas = [a if isinstance(a, dict) else json.loads(a) for a in conn.scalars(
        text("SELECT agg FROM telemetry_rollup_deltas WHERE use_case = :uc"), {"uc": use_case})]
    out.pending = len(deltas)
    for grain in out:
        out[grain] += sum(int(d["count"]) for d in deltas)
    conn.commit()
    return out
