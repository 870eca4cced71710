"""Request-level tables (issue 18): the span tree of a request, its captured content, and each use case's capture
policy. A request record is a telemetry_events row; these hang off its id. No chart reads them (rollups serve
every aggregate); they serve drill-down, review and deletion on a data subject's request."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


# Text search objects made by the migration only (tele0011), outside the models: SQLite's FTS5 table over
# request_text_blocks.words (and its shadow tables), PostgreSQL's pg_trgm GIN index. Schema comparisons skip them.
TEXT_SEARCH_FTS = "request_text_fts"
TEXT_SEARCH_TRGM_INDEX = "ix_request_text_blocks_words_trgm"
# PostgreSQL's index of the events' unit ids (tele0009), kept there only (tele0016, takeoff.telemetry.unit_index):
# SQLite uses telemetry_unit_refs instead
UNIT_INDEX_PG = "ix_telemetry_events_unit_ts"


def unmodelled(name: str | None) -> bool:
    """Whether a database object is one of the objects above (made by migrations for one backend, not in the
    models on purpose)."""
    return bool(name) and (str(name).startswith(TEXT_SEARCH_FTS) or name in (TEXT_SEARCH_TRGM_INDEX, UNIT_INDEX_PG))


class CapturePolicy(Base):
    """What a use case's requests may keep: content (off by default; redacted and capped when on), for how long,
    and whether unit ids are stored keyed-hashed (the default) or raw. No row = the defaults."""

    __tablename__ = "telemetry_capture_policies"

    use_case: Mapped[str] = mapped_column(String(64), primary_key=True)
    capture: Mapped[bool] = mapped_column(default=False)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # built-in detectors applied (redact.KINDS)
    patterns: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # operator patterns {name, pattern}
    max_chars: Mapped[int] = mapped_column(default=4000)  # per content field; longer is cut with a marker
    retention_days: Mapped[int | None] = mapped_column(default=None)  # content; None = as long as the raw events
    unit_ids: Mapped[str] = mapped_column(String(8), default="hashed")  # hashed | raw
    updated_by: Mapped[str] = mapped_column(String(100), default="system")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelemetrySpan(Base):
    """One span of a request's tree (OTLP), keyed by the request (event id) and its span id."""

    __tablename__ = "telemetry_spans"
    __table_args__ = (Index("ix_telemetry_spans_start", "start"),)  # retention

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    span_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    parent_span_id: Mapped[str | None] = mapped_column(String(16), default=None)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(32), default=None)
    status: Mapped[str] = mapped_column(String(8), default="unset")
    start: Mapped[datetime] = mapped_column()
    duration_ms: Mapped[float | None] = mapped_column(default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RequestContent(Base):
    """The captured content of one request, redacted and capped under its use case's policy when it was stored.

    `body` is the content as JSON text (searched with LIKE on SQLite, a regular expression on PostgreSQL: the
    explorer's text search); `expires_at` is the policy's content retention (None: kept as long as the request)."""

    __tablename__ = "request_content"
    __table_args__ = (Index("ix_request_content_uc_ts", "use_case", "ts"),
                      Index("ix_request_content_ts", "ts"),  # has-content first pages (tele0009)
                      Index("ix_request_content_expires", "expires_at"),
                      Index("ix_request_content_batch", "batch"))  # a text search block's rows (tele0011)

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    body: Mapped[str] = mapped_column(Text, default="{}")
    redactions: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # kind -> replaced
    truncated: Mapped[int] = mapped_column(default=0)  # fields cut at max_chars
    batch: Mapped[int | None] = mapped_column(BigInteger, default=None)  # the ingest batch: its text search block


class TextBlock(Base):
    """One ingest batch's text search block (takeoff.telemetry.text_index): the distinct words of its content rows'
    bodies, which the trigram index covers; a search tests the rows of the blocks that match."""

    __tablename__ = "request_text_blocks"

    batch: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    words: Mapped[str] = mapped_column(Text, default="")
    rows: Mapped[int] = mapped_column(default=0)  # content rows when built


class TextPending(Base):
    """An ingest batch whose block is still to build (or to rebuild after a deletion); `gen` changes at each
    re-queue, so a compactor that read the batch before a deletion does not write its old words."""

    __tablename__ = "request_text_pending"

    batch: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rows: Mapped[int] = mapped_column(default=0)
    gen: Mapped[int] = mapped_column(default=0)


class UnitRef(Base):
    """A request holding a unit id, keyed by the unit then time: what the explorer's unit filter and a unit's
    deletion read on SQLite. Written behind ingestion in sorted merges (takeoff.telemetry.unit_index), not an index
    on telemetry_events, whose entries each batch wrote all over it; empty on PostgreSQL (an index serves there)."""

    __tablename__ = "telemetry_unit_refs"
    __table_args__ = {"sqlite_with_rowid": False}

    unit_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class UnitPending(Base):
    """The unit refs of requests stored since the last merge, in the order they were stored (a batch appends them
    to the same few pages); reads of a unit scan them too."""

    __tablename__ = "telemetry_unit_pending"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(200))
    ts: Mapped[datetime] = mapped_column()
    event_id: Mapped[str] = mapped_column(String(128))
