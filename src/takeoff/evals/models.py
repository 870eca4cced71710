"""Eval tables: eval sets, immutable content-hashed versions and their cases, runs and per-case results."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class EvalSet(Base):
    """A named collection of cases, optionally tied to a use case; its content lives in versions."""

    __tablename__ = "eval_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    use_case_key: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvalSetVersion(Base):
    """One immutable version: its content hash, case count and the diff against the previous version."""

    __tablename__ = "eval_set_versions"
    __table_args__ = (UniqueConstraint("eval_set_id", "version", name="uq_eval_set_versions_set_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    eval_set_id: Mapped[int] = mapped_column(ForeignKey("eval_sets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    n_cases: Mapped[int] = mapped_column(default=0)
    diff: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvalCase(Base):
    """A case of one version (never updated: a change makes a new version)."""

    __tablename__ = "eval_cases"
    __table_args__ = (UniqueConstraint("version_id", "case_id", name="uq_eval_cases_version_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("eval_set_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    case_id: Mapped[str] = mapped_column(String(200))
    case_hash: Mapped[str] = mapped_column(String(64))
    input: Mapped[Any] = mapped_column(JSON)
    expected: Mapped[Any | None] = mapped_column(JSON, default=None)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    # Where a case added from production came from: {source, request_id, use_case, release, incident, ...}; None for
    # cases written by people. Not part of the case's content hash (the same case from a file keeps it: see service).
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)


class EvalRun(Base):
    """One evaluation of a target on an eval-set version; runs as an `evals.run` job and resumes after a crash."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    use_case_key: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("eval_set_versions.id"), index=True)
    target: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scorers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    repeats: Mapped[int] = mapped_column(default=1)
    concurrency: Mapped[int] = mapped_column(default=8)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    job_id: Mapped[int | None] = mapped_column(default=None)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gate: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class EvalCaseResult(Base):
    """A finished case of a run, written as soon as it finishes (what a resumed run skips)."""

    __tablename__ = "eval_case_results"
    __table_args__ = (UniqueConstraint("run_id", "case_id", name="uq_eval_case_results_run_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[str] = mapped_column(String(200))
    passed: Mapped[bool] = mapped_column()
    pass_share: Mapped[float] = mapped_column(Float)
    error_category: Mapped[str | None] = mapped_column(String(32), default=None)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    cost_usd: Mapped[float | None] = mapped_column(Float, default=None)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
