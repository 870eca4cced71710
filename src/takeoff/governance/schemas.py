"""Governance responses: the EU AI Act classification as the API returns and stores it."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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
