"""Operating model suggestion (centralized | hub_and_spoke | federated) from the seed's self-check.

The self-check, in order:
  1. Lacking basic standards and tooling (maturity 1-2): start with central control -> centralized.
  2. Multiple domains and rising demand (medium or high): hub_and_spoke balances speed and control; federated only
     when standards are strong (maturity 4-5), there are three or more domains, demand is high and the
     organization is not highly regulated (federated raises risk and duplication unless guardrails are strong).
  3. Otherwise (one domain, or low demand): a single central team can serve it -> centralized.
  Highly regulated organizations keep strong central governance even when delivery is distributed: never federated.
"""

from __future__ import annotations

from typing import Literal

OperatingModel = Literal["centralized", "hub_and_spoke", "federated"]
OPERATING_MODELS: tuple[OperatingModel, ...] = ("centralized", "hub_and_spoke", "federated")
DEMAND_LEVELS: tuple[str, ...] = ("low", "medium", "high")


def suggest_operating_model(
    standards_maturity: int, domains: int, demand: str, regulated: bool
) -> tuple[OperatingModel, tuple[str, ...]]:
    """Suggest an operating model and the reasons, following the seed's three-line self-check."""
    if isinstance(standards_maturity, bool) or not isinstance(standards_maturity, int) or not 1 <= standards_maturity <= 5:
        raise ValueError(f"standards_maturity must be an integer from 1 to 5; got {standards_maturity!r}")
    if isinstance(domains, bool) or not isinstance(domains, int) or domains < 1:
        raise ValueError(f"domains must be a whole number of at least 1; got {domains!r}")
    if demand not in DEMAND_LEVELS:
        raise ValueError(f"demand must be one of low, medium, high; got {demand!r}")
    if not isinstance(regulated, bool):
        raise ValueError(f"regulated must be true or false; got {regulated!r}")

    reasons: list[str] = []
    model: OperatingModel
    if standards_maturity <= 2:
        model = "centralized"
        reasons.append(f"standards and tooling maturity is {standards_maturity}/5: start with central control")
        if domains > 1 and demand != "low":
            reasons.append("revisit hub-and-spoke once shared standards and a platform exist")
    elif domains > 1 and demand != "low":
        strong = standards_maturity >= 4 and domains >= 3 and demand == "high"
        if strong and not regulated:
            model = "federated"
            reasons.append(
                f"{domains} domains, high demand and mature standards ({standards_maturity}/5): "
                "domain teams can own delivery under strong guardrails"
            )
        else:
            model = "hub_and_spoke"
            reasons.append(f"{domains} domains and {demand} demand: hub-and-spoke balances speed and control")
    else:
        model = "centralized"
        why = "a single domain" if domains == 1 else "low demand"
        reasons.append(f"{why}: one central team can serve it without becoming a bottleneck")
    if regulated:
        reasons.append("highly regulated: keep strong central governance even if delivery is distributed")
    return model, tuple(reasons)
