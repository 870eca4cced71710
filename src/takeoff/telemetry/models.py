"""Telemetry tables: raw events (kept for the retention period), per-minute and per-hour rollups, baselines, feedback.

Rollups are what every reader uses. Each row covers one (grain, bucket start, use case, release) where grain is
60 s, 3600 s or a UTC day: ingestion appends deltas that the compactor folds into all three, so a 30-day dashboard
reads about 30 day rows per release whatever the event volume. Histograms are JSON (see takeoff.telemetry.rollup
for their encodings), the unit sketch packed binary (`Sketch`); the compactor updates a row under a row lock
(SELECT ... FOR UPDATE on PostgreSQL, the single writer on SQLite), so concurrent batches never lose updates.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import JSON, BigInteger, Dialect, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from takeoff.core.db import Base, utcnow

BigCount = BigInteger().with_variant(Integer, "sqlite")  # SQLite's INTEGER is 64-bit already


class Sketch(TypeDecorator[list[int]]):
    """A KMV unit sketch (sorted 52-bit hashes) stored as packed little-endian int64: 8 bytes a hash against ~17 as
    JSON text, so a full 256-hash sketch stays inside its row's page, and a read unpacks it in one numpy call
    instead of a JSON parse (tele0005). Python sees the same list of ints as before."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else np.asarray(value, dtype="<i8").tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> list[int] | None:
        return None if value is None else np.frombuffer(value, dtype="<i8").tolist()


class TelemetryEvent(Base):
    """One usage event as received (JSON batch or mapped OTLP span); the id makes resends idempotent."""

    __tablename__ = "telemetry_events"
    # (use_case, ts) serves every read of raw events and the retention (per use case); a second index on ts alone
    # cost 10-15 % of insert time on the hot path and was dropped (tele0003).
    # The requests explorer (issue 18) needs the first page of each single filter fast on 10M rows (newest first):
    # ts alone, release and model; partial indexes for the rare rows (problems, error categories). Each full index
    # costs ingestion time (bench/ingest_bench.py): one on the (keyed-hashed, so random) unit ids wrote each batch's
    # entries on hundreds of pages (40 % of a SQLite batch at 100k events); tele0016 moved it to
    # telemetry_unit_refs, merged behind ingestion, on SQLite; PostgreSQL keeps it (migration-made: UNIT_INDEX_PG).
    __table_args__ = (Index("ix_telemetry_events_uc_ts", "use_case", "ts"),
                      Index("ix_telemetry_events_ts", "ts"),
                      Index("ix_telemetry_events_release_ts", "release", "ts"),
                      Index("ix_telemetry_events_problems", "ts", sqlite_where=text("status <> 'ok'"),
                            postgresql_where=text("status <> 'ok'")),
                      Index("ix_telemetry_events_errcat_ts", "error_category", "ts",
                            sqlite_where=text("error_category IS NOT NULL"),
                            postgresql_where=text("error_category IS NOT NULL")),
                      # the explorer's model and provider filters (tele0009); its unit filter reads
                      # telemetry_unit_refs on SQLite, (unit_id, ts) on PostgreSQL (tele0016, unit_index)
                      Index("ix_telemetry_events_model_ts", "model", "ts"),
                      Index("ix_telemetry_events_provider_ts", "provider", "ts"))

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64))
    release: Mapped[str] = mapped_column(String(100), default="")
    unit_id: Mapped[str | None] = mapped_column(String(200), default=None)
    ts: Mapped[datetime] = mapped_column()
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    provider: Mapped[str | None] = mapped_column(String(100), default=None)
    cost_usd: Mapped[float | None] = mapped_column(default=None)
    error_category: Mapped[str | None] = mapped_column(String(100), default=None)
    fallback_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    # tokens, scores, features and attributes in one JSON document: one serialisation per event on the hot path
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(8), default="json")  # json | otlp


class TelemetryRollup(Base):
    """Aggregates of one bucket (minute or hour) of one use case and release; merged by addition."""

    __tablename__ = "telemetry_rollups"
    __table_args__ = (UniqueConstraint("grain", "use_case", "release", "bucket", name="uq_telemetry_rollups_key"),
                      Index("ix_telemetry_rollups_uc_grain_bucket", "use_case", "grain", "bucket"))

    id: Mapped[int] = mapped_column(primary_key=True)
    grain: Mapped[int] = mapped_column()  # seconds: 60 or 3600
    bucket: Mapped[datetime] = mapped_column()
    use_case: Mapped[str] = mapped_column(String(64))
    release: Mapped[str] = mapped_column(String(100), default="")
    # Counters are 64-bit on PostgreSQL (int4 overflows: a day row passes 2^31 tokens at ~50 events/s of 500 tokens)
    count: Mapped[int] = mapped_column(BigCount, default=0)
    errors: Mapped[int] = mapped_column(BigCount, default=0)
    fallbacks: Mapped[int] = mapped_column(BigCount, default=0)
    latency_n: Mapped[int] = mapped_column(BigCount, default=0)
    latency_sum_ms: Mapped[float] = mapped_column(default=0.0)
    cost_usd: Mapped[float] = mapped_column(default=0.0)
    cost_sq: Mapped[float] = mapped_column(default=0.0)  # sum of squared per-event costs: cost-per-task spread
    tokens_input: Mapped[int] = mapped_column(BigCount, default=0)
    tokens_output: Mapped[int] = mapped_column(BigCount, default=0)
    tokens_cache_read: Mapped[int] = mapped_column(BigCount, default=0)
    tokens_cache_write: Mapped[int] = mapped_column(BigCount, default=0)
    tokens_reasoning: Mapped[int] = mapped_column(BigCount, default=0)
    first_ts: Mapped[datetime | None] = mapped_column(default=None)
    last_ts: Mapped[datetime | None] = mapped_column(default=None)
    latency: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # sparse {"bucket index": n}
    outcomes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error_categories: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # name -> [n, sum, sumsq]
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # name -> {"b": baseline id, "c": counts}
    units: Mapped[list[int]] = mapped_column(Sketch, default=list)  # KMV sketch: the k smallest unit hashes
    dropped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # reason -> events SDKs dropped (tele0006)
    violations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # "stage:detector:action" -> n (tele0008)
    models: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # "provider/model" -> requests (tele0010)


class TelemetryRollupDelta(Base):
    """One batch's partial aggregate of one minute, not yet merged into the rollups.

    Ingestion only appends these (no read-modify-write of hot rollup rows, no row locks shared between concurrent
    batches); the compactor (takeoff.telemetry.compaction) merges them into the minute, hour and day rows and deletes
    them in the same transaction, so each event is counted once. Readers add the pending deltas of their window, so
    every answer is exact before compaction too. `agg` is a rollup.fold partial (times as Unix seconds).
    """

    __tablename__ = "telemetry_rollup_deltas"
    __table_args__ = (Index("ix_telemetry_rollup_deltas_uc_bucket", "use_case", "bucket"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    bucket: Mapped[datetime] = mapped_column()
    use_case: Mapped[str] = mapped_column(String(64))
    release: Mapped[str] = mapped_column(String(100), default="")
    agg: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TelemetryBaseline(Base):
    """Frozen per-feature bin edges (numeric) or categories of a use case, from a release's own events."""

    __tablename__ = "telemetry_baselines"

    id: Mapped[int] = mapped_column(primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64), index=True)
    release: Mapped[str] = mapped_column(String(100), default="")
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column()
    events: Mapped[int] = mapped_column(default=0)
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # name -> {"kind", "edges"|"categories"}
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelemetryFeedback(Base):
    """In-the-moment feedback on one AI response (rating 1-5, comment, time saved)."""

    __tablename__ = "telemetry_feedback"
    __table_args__ = (Index("ix_telemetry_feedback_uc_ts", "use_case", "ts"),
                      Index("ix_telemetry_feedback_request", "request_id"),  # a request's feedback (tele0007)
                      Index("ix_telemetry_feedback_unit", "unit_id"))  # a data subject's feedback (tele0007)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    use_case: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int | None] = mapped_column(default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    time_saved_s: Mapped[float | None] = mapped_column(default=None)
    unit_id: Mapped[str | None] = mapped_column(String(200), default=None)
    ts: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


from takeoff.telemetry import request_models  # noqa: E402,F401  (the request-level tables register with Base here)
