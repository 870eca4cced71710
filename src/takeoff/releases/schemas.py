"""Release inputs: the bundle, approvals, attestations, promotion and rollback."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from takeoff.evals.schemas import EvalSpec
from takeoff.core.types import Id32, Input
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
