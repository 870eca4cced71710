"""The context pipeline as data: freshness and permission hygiene of a GenAI use case's retrieval sources.

A document collection is a table (or a manifest file: CSV/Parquet opened with `open_source`, one row
per document; a folder of documents is described by its manifest) with a document id, an updated-at
timestamp and permission labels. Figures come from SQL aggregates in the source: count, age
percentiles (nearest rank), share older than the freshness SLA, and documents with no permission label.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from takeoff.data.checks import to_utc
from takeoff.data.connect import SourceConn, SourceError

PERCENTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class ContextStats:
    """Figures for one document collection, and whether it meets its SLA."""

    status: Literal["pass", "breach", "error"]
    reason: str
    documents: int = 0
    missing_id: int = 0
    age_percentiles_s: dict[str, float | None] = field(default_factory=dict)
    oldest_age_s: float | None = None
    stale: int = 0
    stale_share: float = 0.0
    unlabeled: int = 0
    duration_ms: float = 0.0


def _age_from_ts(now: datetime, raw: Any) -> float | None:
    ts = to_utc(raw)
    return None if ts is None else round((now - ts).total_seconds(), 3)


def context_stats(
    source: SourceConn,
    table: str,
    *,
    now: datetime,
    freshness_sla_s: float,
    id_column: str = "doc_id",
    updated_column: str = "updated_at",
    labels_column: str = "permission_labels",
    max_stale_share: float = 0.0,
    max_unlabeled: int = 0,
    percentiles: tuple[float, ...] = PERCENTILES,
) -> ContextStats:
    """Measure a document collection; faults (missing table/column, unreachable source) give status=error."""
    if not isinstance(source, SourceConn):
        raise ValueError("source must be a SourceConn from open_source()")
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    if not (isinstance(freshness_sla_s, (int, float)) and freshness_sla_s > 0 and math.isfinite(freshness_sla_s)):
        raise ValueError("freshness_sla_s must be a positive number of seconds")
    if not (0.0 <= max_stale_share <= 1.0) or max_unlabeled < 0:
        raise ValueError("max_stale_share must be in 0..1 and max_unlabeled >= 0")
    if not percentiles or any(not (0.0 < p < 1.0) for p in percentiles):
        raise ValueError("percentiles must be fractions strictly between 0 and 1")
    now = now.astimezone(UTC)
    t0 = time.perf_counter()

    def error(reason: str) -> ContextStats:
        return ContextStats(status="error", reason=reason, duration_ms=round((time.perf_counter() - t0) * 1000, 3))

    try:
        columns = {c for c, _ in source.columns(table)}
        for col in (id_column, updated_column, labels_column):
            if col not in columns:
                return error(f"column {col} does not exist in table {table}")
        row, ts_pcts = _aggregate(source, table, id_column, updated_column, labels_column, now, freshness_sla_s, percentiles)
    except SourceError as e:
        return error(e.reason)

    n = int(row.get("n") or 0)
    if n == 0:
        return ContextStats(status="breach", reason="collection holds no documents",
                            duration_ms=round((time.perf_counter() - t0) * 1000, 3))
    stale, unlabeled = int(row.get("stale") or 0), int(row.get("unlabeled") or 0)
    # Nearest-rank percentiles of document age: the ceil(p*n)-th document counting from the newest.
    ages = {f"p{round(p * 100):g}": _age_from_ts(now, ts_pcts.get(p)) for p in percentiles}
    share = stale / n
    problems = []
    if share > max_stale_share:
        problems.append(f"{share:.1%} of documents are older than the freshness SLA (max {max_stale_share:.1%})")
    if unlabeled > max_unlabeled:
        problems.append(f"{unlabeled} documents have no permission label (max {max_unlabeled})")
    missing_id = n - int(row.get("with_id") or 0)
    if missing_id:
        problems.append(f"{missing_id} documents have no id")
    return ContextStats(
        status="breach" if problems else "pass",
        reason="; ".join(problems) or f"{n} documents, {share:.1%} stale, all labelled",
        documents=n, missing_id=missing_id, age_percentiles_s=ages,
        oldest_age_s=_age_from_ts(now, row.get("oldest")), stale=stale, stale_share=round(share, 6),
        unlabeled=unlabeled, duration_ms=round((time.perf_counter() - t0) * 1000, 3),
    )


def _aggregate(
    source: SourceConn, table: str, id_col: str, ts_col: str, label_col: str, now: datetime, sla_s: float,
    percentiles: tuple[float, ...],
) -> tuple[dict[str, Any], dict[float, Any]]:
    q = source.quote
    t, ts, lbl = source.quote_table(table), q(ts_col), q(label_col)
    cutoff = now - timedelta(seconds=sla_s)
    if source.dialect == "sqlite":
        # SQLite keeps timestamps as text in several spellings; julianday() compares them all correctly.
        stale_expr = f"julianday({ts}) < julianday({source.param('cutoff')})"
        cutoff_param: Any = cutoff.strftime("%Y-%m-%d %H:%M:%S.%f")
    elif source.dialect == "duckdb":
        stale_expr, cutoff_param = f"{ts} < {source.param('cutoff')}", cutoff.replace(tzinfo=None)
    else:
        stale_expr, cutoff_param = f"{ts} < {source.param('cutoff')}", cutoff
    unlabeled = f"{lbl} IS NULL OR trim(CAST({lbl} AS TEXT)) IN ('', '[]', '{{}}', 'null')"
    selects = [
        "count(*) AS n", f"count({q(id_col)}) AS with_id", f"min({ts}) AS oldest",
        f"sum(CASE WHEN {stale_expr} THEN 1 ELSE 0 END) AS stale",
        f"sum(CASE WHEN {unlabeled} THEN 1 ELSE 0 END) AS unlabeled",
    ]
    if source.dialect == "postgresql":
        # Newest first, so the p-th entry is the nearest-rank p-th percentile of AGE; one sort for all.
        arr = ", ".join(f"{float(p)!r}" for p in percentiles)
        selects.append(f"percentile_disc(ARRAY[{arr}]::float8[]) WITHIN GROUP (ORDER BY {ts} DESC) AS pcts")
    row = source.aggregate(f"SELECT {', '.join(selects)} FROM {t}", {"cutoff": cutoff_param}, table=table)
    pcts: dict[float, Any] = {}
    if "pcts" in row and row["pcts"] is not None:
        pcts = dict(zip(percentiles, list(row["pcts"]), strict=True))
    elif int(row.get("n") or 0) > 0:
        # Nearest rank without an ordered-set aggregate: the database sorts, one row comes back.
        n_ts = source.aggregate(f"SELECT count({ts}) AS k FROM {t}", table=table).get("k") or 0
        for p in percentiles:
            if n_ts:
                offset = max(0, math.ceil(p * int(n_ts)) - 1)
                r = source.scalar_row(
                    f"SELECT {ts} FROM {t} WHERE {ts} IS NOT NULL ORDER BY {ts} DESC LIMIT 1 OFFSET {int(offset)}",
                    table=table,
                )
                pcts[p] = r[0] if r else None
    return row, pcts
