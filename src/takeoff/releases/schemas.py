"""Release inputs (the bundle, approvals, attestations, promotion and rollback) and the release views returned."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from takeoff.evals.schemas import EvalSpec
from takeoff.core.types import Id32, Input, Output
from takeoff.sdk.safety import parse_policy


class Strict(Input):
    model_config = ConfigDict(extra="forbid")


class EvalSetRef(Strict):
    """An eval set version, by content (content_hash, the same on every server) or by this server's version label;
    neither means the latest version. Both must name the same version."""

    name: str = Field(min_length=1, max_length=100)
    version: Id32 | None = Field(default=None, description="this server's version label; default: the latest")
    content_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                     description="sha256 of the version's cases (as `evalset import` prints it)")


class DataSnapshot(Strict):
    ref: str = Field(min_length=1, max_length=500)
    hash: str = Field(default="", max_length=200)


class ReleaseIn(Strict):
    """Everything a release is: catalog model and parameters, prompts, retrieval, data snapshot, eval set, code."""

    use_case: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=300, description="catalog model 'provider/model'")
    parameters: dict[str, Any] = Field(default_factory=dict)
    prompts: dict[str, str] = Field(default_factory=dict, description="name → template; 'system' is served first")
    retrieval: dict[str, Any] = Field(default_factory=dict)
    data_snapshot: DataSnapshot | None = None
    eval_set: EvalSetRef
    eval: EvalSpec | None = None
    code_ref: str = Field(default="", max_length=200, description="git sha of the application code")
    fallback_model: str | None = Field(default=None, max_length=300)
    notes: str = Field(default="", max_length=4000)
    safety: dict[str, Any] | None = Field(default=None, description="safety policy: detectors on input and output "
                                          "with thresholds and actions (docs/safety.md)")

    @field_validator("safety")
    @classmethod
    def _valid_safety(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            parse_policy(value)  # ValueError naming the field, e.g. "safety.output[0].detector: unknown detector"
        return value


class DecisionIn(Strict):
    comment: str = Field(default="", max_length=4000)
    role: str | None = None


class RejectIn(Strict):
    comment: str = Field(min_length=1, max_length=4000)
    role: str | None = None


class AttestIn(Strict):
    item_id: str = Field(min_length=1, max_length=64)
    statement: str = Field(min_length=3, max_length=4000)


class PromoteIn(Strict):
    to: Literal["canary", "production"]
    weight: int | None = Field(default=None, ge=1, le=99, description="canary share of traffic in percent")


class RollbackIn(Strict):
    reason: str = Field(default="manual rollback", min_length=1, max_length=2000)


class EvalOverrides(Strict):
    target: dict[str, Any] | None = None
    scorers: list[dict[str, Any]] | None = None
    repeats: int | None = Field(default=None, ge=1, le=100)
    concurrency: int | None = Field(default=None, ge=1, le=1000)


# --- responses (the SDK reads `/usecases/{key}/active`; the CLI and CI read the release views) ----------------------


class ActiveReleaseOut(Output):
    """One release serving a share of a use case's traffic, with what the SDK needs to call the model."""

    release_id: str
    version: int
    weight: int = Field(description="percent of traffic")
    model: str
    provider: str
    prompt: str | None = Field(description="the 'system' prompt, else the first one")
    prompts: dict[str, Any]
    parameters: dict[str, Any]
    fallback_model: str | None
    status: str
    use_fallback: bool = Field(default=False, description="an enforced cost budget is spent: serve the fallback "
                               "(fallback_model or the application's own) until fallback_until")
    fallback_until: str | None = Field(default=None, description="when the spent budget's window resets (UTC)")


class ActiveConfigOut(Output):
    """Which releases serve a use case's traffic and in which shares (none before a first release ships)."""

    use_case: str
    releases: list[ActiveReleaseOut]


class ReleaseOut(Output):
    """A release as lists show it."""

    id: str = Field(description="'<use case>:<version>'")
    use_case: str
    version: int
    status: str
    content_hash: str
    tier: str | None
    policy_version: int | None
    canary_weight: int | None
    model: str | None
    eval_set: dict[str, Any] = Field(description="the bundle's eval set (name, content hash) and this server's version")
    created_by: str
    created_at: str
    notes: str


class ReleaseListOut(Output):
    """Releases newest first."""

    items: list[ReleaseOut]


class ChecklistItemOut(Output):
    """One item of the tier's pre-release checklist with its evidence or attestation."""

    id: str
    title: str
    evidence_kind: str
    mandatory: bool
    status: str
    detail: str | None
    satisfied: bool
    evidence: dict[str, Any]


class ChecklistOut(Output):
    """The tier's checklist for a release and the mandatory items still missing."""

    tier: str | None
    policy_version: int
    approver_roles: list[str]
    items: list[ChecklistItemOut]
    missing: list[str]


class ApprovalOut(Output):
    """One approve or reject decision."""

    username: str
    role: str
    decision: str
    comment: str
    at: str


class ReleaseTransitionOut(Output):
    """One status change of a release."""

    from_: str = Field(alias="from")
    to: str
    actor: str
    reason: str
    at: str


class ReleaseDetailOut(ReleaseOut):
    """A release with its bundle, the diff to the previous one, gate, comparison, checklist, approvals and moves."""

    bundle: dict[str, Any]
    previous: str | None
    diff: list[Any]
    gate: dict[str, Any] | None
    comparison: dict[str, Any] | None
    from_production: dict[str, Any] | None = Field(
        default=None, description="cases of its eval set version from production {count, from_incidents, cases (first 50, with "
        "provenance: request, release, incident)} and `newer`: a newer version's production cases it is not judged on")
    checklist: ChecklistOut
    approvals: list[ApprovalOut]
    transitions: list[ReleaseTransitionOut]


class PromotedOut(ReleaseOut):
    """The promoted release and the traffic split now in force."""

    active: ActiveConfigOut


class RolledBackOut(Output):
    """The release serving after a rollback and the traffic split now in force."""

    serving: ReleaseOut
    active: ActiveConfigOut
