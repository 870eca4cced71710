"""Risk tiers (low, medium, high): a rule-based suggestion with its reasons, overrides and the EU AI Act floor.

The rule, in order (first match wins):
  high   if harm if wrong is 5; or harm >= 4 and the system automates decisions; or harm >= 4 in a regulated
         domain; or it automates decisions on personal data in a regulated domain.
  medium if harm if wrong >= 3; or it automates decisions; or it is in a regulated domain; or it handles personal
         data of external users.
  low    otherwise (internal assistance with limited harm: "low-risk internal tooling should move fast").
An EU AI Act category of prohibited or high_risk forces the tier to high whatever the factors say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Tier = Literal["low", "medium", "high"]
TIER_ORDER: tuple[Tier, ...] = ("low", "medium", "high")
DECISION_MODES: tuple[str, ...] = ("assist", "automate")
EU_CATEGORIES: tuple[str, ...] = ("prohibited", "high_risk", "limited_risk", "minimal_risk")
MIN_JUSTIFICATION_CHARS = 30


@dataclass(frozen=True)
class TierFactors:
    """The answers the tier rule reads: harm if wrong (1-5), assist or automate, personal data, regulation, reach."""

    harm_if_wrong: int
    decision_mode: str
    personal_data: bool
    regulated_domain: bool
    external_users: bool

    def __post_init__(self) -> None:
        if isinstance(self.harm_if_wrong, bool) or not isinstance(self.harm_if_wrong, int):
            raise ValueError(f"harm_if_wrong must be an integer from 1 to 5; got {self.harm_if_wrong!r}")
        if not 1 <= self.harm_if_wrong <= 5:
            raise ValueError(f"harm_if_wrong must be from 1 to 5; got {self.harm_if_wrong}")
        if self.decision_mode not in DECISION_MODES:
            raise ValueError(f"decision_mode must be 'assist' or 'automate'; got {self.decision_mode!r}")
        for name in ("personal_data", "regulated_domain", "external_users"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false; got {getattr(self, name)!r}")


@dataclass(frozen=True)
class TierSuggestion:
    """The suggested tier and the plain-language reasons that produced it."""

    tier: Tier
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class TierOverride:
    """A checked override: from the suggested tier to the chosen one, and whether it lowers the tier."""

    suggested: Tier
    chosen: Tier
    lowers: bool
    justification: str


def _factors(factors: TierFactors | Mapping[str, Any]) -> TierFactors:
    if isinstance(factors, TierFactors):
        return factors
    if not isinstance(factors, Mapping):
        raise ValueError("tier factors must be a mapping or TierFactors")
    expected = ("harm_if_wrong", "decision_mode", "personal_data", "regulated_domain", "external_users")
    missing = [k for k in expected if k not in factors]
    if missing:
        raise ValueError(f"tier factors missing: {', '.join(missing)}")
    extra = sorted(set(factors) - set(expected))
    if extra:
        raise ValueError(f"unknown tier factor: {extra[0]}")
    return TierFactors(**{k: factors[k] for k in expected})


def suggest_tier(factors: TierFactors | Mapping[str, Any]) -> TierSuggestion:
    """Suggest a risk tier from the five factors, with every reason that applied (see the module rule)."""
    f = _factors(factors)
    automates = f.decision_mode == "automate"
    high: list[str] = []
    if f.harm_if_wrong == 5:
        high.append("harm if wrong is 5 (severe)")
    if f.harm_if_wrong >= 4 and automates:
        high.append(f"harm if wrong is {f.harm_if_wrong} and the system automates decisions")
    if f.harm_if_wrong >= 4 and f.regulated_domain:
        high.append(f"harm if wrong is {f.harm_if_wrong} in a regulated domain")
    if automates and f.personal_data and f.regulated_domain:
        high.append("automates decisions on personal data in a regulated domain")
    if high:
        return TierSuggestion("high", tuple(high))

    medium: list[str] = []
    if f.harm_if_wrong >= 3:
        medium.append(f"harm if wrong is {f.harm_if_wrong} (material)")
    if automates:
        medium.append("automates decisions rather than assisting a person")
    if f.regulated_domain:
        medium.append("operates in a regulated domain")
    if f.personal_data and f.external_users:
        medium.append("handles personal data and serves external users")
    if medium:
        return TierSuggestion("medium", tuple(medium))

    low = [f"harm if wrong is {f.harm_if_wrong} (limited)", "assists a person who makes the decision"]
    low.append("serves external users" if f.external_users else "internal users only")
    if f.personal_data:
        low.append("personal data used internally only")
    return TierSuggestion("low", tuple(low))


def _tier(value: Any, name: str) -> Tier:
    if value not in TIER_ORDER:
        raise ValueError(f"{name} must be one of low, medium, high; got {value!r}")
    return value  # type: ignore[no-any-return]


def tier_rank(tier: str) -> int:
    """Position of a tier in TIER_ORDER (low=0, high=2)."""
    return TIER_ORDER.index(_tier(tier, "tier"))


def lowers_tier(suggested: str, chosen: str) -> bool:
    """Whether choosing `chosen` instead of `suggested` lowers the risk tier."""
    return tier_rank(chosen) < tier_rank(suggested)


def tier_floor_for_eu(category: str | None) -> Tier:
    """Lowest tier allowed by an EU AI Act category: prohibited and high_risk force high; others leave it open."""
    if category is None:
        return "low"
    if category not in EU_CATEGORIES:
        raise ValueError(f"EU AI Act category must be one of {', '.join(EU_CATEGORIES)}; got {category!r}")
    return "high" if category in ("prohibited", "high_risk") else "low"


def apply_eu_floor(tier: str, category: str | None) -> Tier:
    """The tier raised, if needed, to the EU AI Act floor."""
    floor = tier_floor_for_eu(category)
    return floor if tier_rank(floor) > tier_rank(tier) else _tier(tier, "tier")


def check_override(
    suggested: str, chosen: str, justification: str, *, eu_category: str | None = None
) -> TierOverride:
    """Validate a tier override: it needs a written justification and may not go below the EU AI Act floor."""
    s, c = _tier(suggested, "suggested tier"), _tier(chosen, "chosen tier")
    text = justification.strip() if isinstance(justification, str) else ""
    if len(text) < MIN_JUSTIFICATION_CHARS:
        raise ValueError(
            f"a tier override needs a justification of at least {MIN_JUSTIFICATION_CHARS} characters; got {len(text)}"
        )
    floor = tier_floor_for_eu(eu_category)
    if tier_rank(c) < tier_rank(floor):
        raise ValueError(f"EU AI Act category {eu_category} requires tier {floor}; cannot override to {c}")
    return TierOverride(suggested=s, chosen=c, lowers=lowers_tier(s, c), justification=text)
