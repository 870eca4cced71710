"""Governance shapes: request bodies (policies, RACI, roles, organization, EU AI Act answers, apply) and the EU AI
Act classification as the API returns and stores it."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StrictBool, StrictInt,
                      ValidationInfo, WithJsonSchema, field_validator)
from pydantic.json_schema import SkipJsonSchema

from takeoff.core.types import INT32_MAX, Input, JsonObject
from takeoff.governance.eu_ai_act import LEGACY_KEYS, EUAnswers, parse_answers


class EUTriggerOut(BaseModel):
    """One answer that engaged an article and point, and why."""

    answer: str
    article: str
    reason: str


class EUClassificationOut(BaseModel):
    """The category, its triggers and obligations, the duties stacked on it (Art. 50, GPAI) and the tier floor."""

    model_config = ConfigDict(extra="allow")  # results stored by an earlier questionnaire may carry fewer keys

    category: str
    triggers: list[EUTriggerOut]
    obligations: list[str]
    annex_iii_points: list[str] = []
    transparency: list[EUTriggerOut] = []
    gpai: bool = False
    gpai_systemic_risk: bool = False
    gpai_obligations: list[str] = []
    gpai_triggers: list[EUTriggerOut] = []
    art_6_3_assessment: str = ""
    tier_floor: str = "low"
    notes: list[str] = []


class EUUseCaseOut(BaseModel):
    """A use case's stored classification with the tier it now has."""

    use_case: str
    eu_category: str | None
    risk_tier: str | None
    risk_tier_suggested: str | None = None
    result: EUClassificationOut


# --- request bodies: the shape is checked here (422 naming the field); the service checks what needs the database
# (people exist, one accountable, a decision's role holds its permission) and the policy's own rules.

def _as_list(value: Any) -> Any:
    return [] if value is None else [value] if isinstance(value, str) else value


Usernames = Annotated[list[str], BeforeValidator(_as_list)]
"""Usernames for a role or RACI letter (one name may be given as a string; null means nobody)."""


class ChecklistItemIn(Input):
    """One pre-release checklist item of a tier policy."""

    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=2000)
    evidence_kind: str = Field(min_length=1, max_length=200)
    mandatory: StrictBool


class TierPolicyIn(Input):
    """A new version of a tier's policy (the tier, if given, must match the address) and a note on why."""

    tier: Literal["low", "medium", "high"] | None = None
    approver_roles: list[str] = Field(max_length=20)
    checklist: list[ChecklistItemIn] = Field(max_length=200)
    inconclusive_blocks: StrictBool = True
    note: str | None = Field(default="", max_length=2000)


class RaciIn(Input):
    """Responsible, accountable (exactly one), consulted and informed people of a use case."""

    responsible: Usernames = Field(default=None)
    accountable: Usernames = Field(default=None)
    consulted: Usernames = Field(default=None)
    informed: Usernames = Field(default=None)


class UseCaseRolesIn(Input):
    """People of the seed's roles for one use case (the roles named are replaced; one business and product owner)."""

    business_owner: Usernames = Field(default=None)
    product_owner: Usernames = Field(default=None)
    data_owner: Usernames = Field(default=None)
    ai_engineer: Usernames = Field(default=None)
    platform_engineer: Usernames = Field(default=None)
    risk_partner: Usernames = Field(default=None)
    security_partner: Usernames = Field(default=None)


class RolesIn(Input):
    """People of the seed's roles, organization-wide (the roles named are replaced)."""

    business_owner: list[str] = Field(default=None)
    product_owner: list[str] = Field(default=None)
    data_owner: list[str] = Field(default=None)
    ai_engineer: list[str] = Field(default=None)
    platform_engineer: list[str] = Field(default=None)
    risk_partner: list[str] = Field(default=None)
    security_partner: list[str] = Field(default=None)


class SelfCheckIn(Input):
    """The seed's operating-model self-check (all four answers, or none)."""

    standards_maturity: StrictInt | None = Field(default=None, ge=1, le=5)
    domains: StrictInt | None = Field(default=None, ge=1, le=INT32_MAX)
    demand: Literal["low", "medium", "high"] | None = None
    regulated: StrictBool | None = None


def _setting(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, list)) or (
            isinstance(value, list) and not all(isinstance(v, str) for v in value)):
        raise ValueError("must be text, a number or a list of texts")
    return value


Setting = Annotated[Any, PlainValidator(_setting), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "number"}, {"type": "array", "items": {"type": "string"}}]})]
"""A constraint or platform value: text, a number or a list of texts (the service bounds its length)."""


class ConstraintsIn(Input):
    """Constraints the organization works under."""

    regulations: Setting = Field(default=None)
    privacy: Setting = Field(default=None)
    latency: Setting = Field(default=None)
    budget: Setting = Field(default=None)
    vendor_restrictions: Setting = Field(default=None)


class PlatformsIn(Input):
    """The platforms the organization uses for each concern."""

    experimentation: Setting = Field(default=None)
    deployment: Setting = Field(default=None)
    monitoring: Setting = Field(default=None)
    access_control: Setting = Field(default=None)


class OrganizationPatch(Input):
    """Organization settings to change (only the fields given); decision rights map a decision to a role (or null)."""

    name: str = Field(default=None, max_length=200, description="may be empty, not null")
    operating_model: Literal["centralized", "hub_and_spoke", "federated"] | None = None
    self_check: SelfCheckIn | None = None
    constraints: ConstraintsIn | None = None
    platforms: PlatformsIn | None = None
    decision_rights: dict[str, str | None] | None = None


class EUAnswersIn(EUAnswers, Input):
    """The EU AI Act questionnaire as a request body; an answer of the earlier questionnaire is refused with a hint
    (422 naming it), and is not part of the documented shape."""

    annex_iii_area: SkipJsonSchema[Any] = Field(default=None, exclude=True)
    deepfake_or_public_interest_text: SkipJsonSchema[Any] = Field(default=None, exclude=True)
    gpai_systemic_risk: SkipJsonSchema[Any] = Field(default=None, exclude=True)

    @field_validator(*LEGACY_KEYS)
    @classmethod
    def _legacy(cls, value: Any, info: ValidationInfo) -> Any:
        parse_answers({info.field_name: value})  # raises AnswersError (a ValueError) with the hint
        return value


class ApplyIn(Input):
    """YAML documents already parsed by the CLI: each {file, line, doc}."""

    documents: list[JsonObject]
