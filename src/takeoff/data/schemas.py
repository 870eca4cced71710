"""Inputs of the data-foundation API (Pydantic v2, unknown fields refused) and the check-run views it returns."""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, Field

from takeoff.core.types import Count, Input, Output

Interface = Literal["api", "warehouse", "lakehouse", "database", "file"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"


class ContextConfig(Input):
    """How a document collection (retrieval source) is laid out and what freshness it must keep."""

    model_config = ConfigDict(extra="forbid")

    freshness_sla_s: float = Field(gt=0, description="documents older than this count as stale")
    id_column: str = Field(default="doc_id", min_length=1, max_length=200)
    updated_column: str = Field(default="updated_at", min_length=1, max_length=200)
    labels_column: str = Field(default="permission_labels", min_length=1, max_length=200)
    max_stale_share: float = Field(default=0.0, ge=0.0, le=1.0)
    max_unlabeled: Count = Field(default=0)


class SourceIn(Input):
    """Register a data source (system of record) or a document collection."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="lowercase key used in URLs and the CLI")
    entity: str = Field(min_length=1, max_length=200, description="what it is the system of record for")
    owner: str = Field(min_length=1, max_length=100, description="a username holding the data_owner role")
    interface: Interface
    connection: str = Field(min_length=1, max_length=4000, description="SQLAlchemy URL or CSV/Parquet path")
    table: str = Field(default="", max_length=200, description="table or view the checks read (files: 'data')")
    kind: Literal["dataset", "collection"] = "dataset"
    checks: list[dict[str, Any]] = Field(default_factory=list)
    context: ContextConfig | None = None
    use_cases: list[str] = Field(default_factory=list)
    conflict_resolution: str = Field(default="", max_length=4000)
    description: str = Field(default="", max_length=4000)


class SourcePatch(Input):
    """Change some fields of a data source; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    entity: str | None = Field(default=None, min_length=1, max_length=200)
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    interface: Interface | None = None
    connection: str | None = Field(default=None, min_length=1, max_length=4000)
    table: str | None = Field(default=None, max_length=200)
    checks: list[dict[str, Any]] | None = None
    context: ContextConfig | None = None
    use_cases: list[str] | None = None
    conflict_resolution: str | None = Field(default=None, max_length=4000)
    description: str | None = Field(default=None, max_length=4000)


class AnnouncementIn(Input):
    """A schema change announced ahead by the owner: from `date` on, it does not alert."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date
    description: str = Field(min_length=1, max_length=1000)
    columns: list[str] = Field(default_factory=list)


class AccessRuleIn(Input):
    """Which roles may read a field; sensitive fields also need an approved, time-limited grant."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(default_factory=list)
    sensitive: bool = False


class AccessRulesIn(Input):
    """The full set of access rules of a source (replaces the previous set)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[AccessRuleIn]


class AccessRequestIn(Input):
    """Ask for time-limited access to sensitive fields, saying why."""

    model_config = ConfigDict(extra="forbid")

    fields: list[str] = Field(min_length=1)
    reason: str = Field(min_length=3, max_length=2000)
    hours: int = Field(default=24, ge=1, le=720)


class DecisionIn(Input):
    """A data owner's decision on an access request."""

    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: str = Field(default="", max_length=2000)


class CheckRunOut(Output):
    """One stored run of a source's SLA checks with each check's figures."""

    id: int
    status: str = Field(description="pass | breach | error")
    trigger: str = Field(description="manual | schedule")
    actor: str
    started_at: str
    finished_at: str
    duration_ms: float
    results: list[Any]
    context: dict[str, Any] | None
    incidents: list[Any]


class CheckRunNowOut(CheckRunOut):
    """The run just made, with the source's name."""

    source: str


class CheckRunListOut(Output):
    """Stored check runs, newest first."""

    items: list[CheckRunOut]
    total: int
