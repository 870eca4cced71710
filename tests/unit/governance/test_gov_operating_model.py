"""Operating model suggestion following the seed's self-check."""

from __future__ import annotations

import itertools

import pytest

from takeoff.governance.operating_model import suggest_operating_model


def test_lacking_standards_starts_centralized():
    model, reasons = suggest_operating_model(1, 5, "high", False)
    assert model == "centralized"
    assert "central control" in reasons[0]


def test_multiple_domains_and_rising_demand_is_hub_and_spoke():
    assert suggest_operating_model(3, 3, "medium", False)[0] == "hub_and_spoke"
    assert suggest_operating_model(4, 2, "high", False)[0] == "hub_and_spoke"


def test_single_domain_or_low_demand_stays_centralized():
    assert suggest_operating_model(4, 1, "high", False)[0] == "centralized"
    assert suggest_operating_model(4, 5, "low", False)[0] == "centralized"


def test_mature_many_domains_high_demand_unregulated_can_federate():
    model, reasons = suggest_operating_model(5, 4, "high", False)
    assert model == "federated"
    assert "guardrails" in reasons[0]


def test_regulated_keeps_central_governance():
    model, reasons = suggest_operating_model(5, 4, "high", True)
    assert model == "hub_and_spoke"
    assert any("highly regulated" in r for r in reasons)


def test_regulated_is_never_federated():
    for maturity, domains, demand in itertools.product(range(1, 6), (1, 2, 3, 10), ("low", "medium", "high")):
        assert suggest_operating_model(maturity, domains, demand, True)[0] != "federated"


@pytest.mark.parametrize(
    "args,fragment",
    [
        ((0, 2, "high", False), "standards_maturity"),
        ((6, 2, "high", False), "standards_maturity"),
        ((3, 0, "high", False), "domains"),
        ((3, 2.5, "high", False), "domains"),
        ((3, 2, "rising", False), "demand"),
        ((3, 2, "high", "yes"), "regulated"),
    ],
)
def test_bad_inputs(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        suggest_operating_model(*args)
