"""Release gate: Wilson interval, honest 'inconclusive', latency and cost budgets, policy on blocking."""
from __future__ import annotations

import pytest

from takeoff.evals.gates import judge_gate, wilson_interval
from takeoff.evals.runner import CaseResult, summarize


def _summary(passes: int, n: int, *, latency: float = 100.0, cost: float | None = 0.001):
    results = [CaseResult(str(i), (), i < passes, 1.0 if i < passes else 0.0, 1.0, 1,
                          None if i < passes else "wrong_answer", {}, latency_ms=latency, cost_usd=cost)
               for i in range(n)]
    return summarize(results)


def test_wilson_interval_matches_hand_computed_values():
    # 8/10 at 95%: z=1.959964, centre=(0.8+z²/20)/(1+z²/10)=0.716741, half=0.226579
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490162, abs=1e-5) and high == pytest.approx(0.943318, abs=1e-5)
    zero_low, zero_high = wilson_interval(0, 10)
    assert zero_low == 0.0 and zero_high == pytest.approx(0.277533, abs=1e-5)
    low90, high90 = wilson_interval(8, 10, confidence=0.90)
    assert low90 > low and high90 < high  # less confidence, narrower interval


@pytest.mark.parametrize("args, message", [
    ((1, 0), "n must be a positive"),
    ((11, 10), "passes must be"),
    ((-1, 10), "passes must be"),
    ((5, 10, 1.5), "confidence"),
])
def test_wilson_interval_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        wilson_interval(*args)


def test_gate_passes_when_the_whole_interval_clears_the_minimum():
    result = judge_gate(_summary(990, 1000), min_pass_rate=0.95, latency_budget_p95_ms=200,
                        cost_budget_per_case=0.01)
    assert result.status == "pass" and not result.blocks
    assert result.interval[0] >= 0.95
    assert any("99.0% (990/1000)" in r for r in result.reasons)


def test_gate_is_inconclusive_when_the_interval_straddles_the_minimum():
    # 19/20 = 95% observed, above a 90% minimum, but the interval [76%, 99%] straddles it
    summary = _summary(19, 20)
    blocking = judge_gate(summary, min_pass_rate=0.90, inconclusive_blocks=True)
    assert blocking.status == "inconclusive" and blocking.blocks
    assert any("straddles" in r for r in blocking.reasons)
    lenient = judge_gate(summary, min_pass_rate=0.90, inconclusive_blocks=False)
    assert lenient.status == "inconclusive" and not lenient.blocks


def test_gate_fails_when_the_whole_interval_is_below():
    result = judge_gate(_summary(50, 100), min_pass_rate=0.9, inconclusive_blocks=False)
    assert result.status == "fail" and result.blocks


def test_gate_fails_on_latency_or_cost_budget_even_with_good_quality():
    slow = judge_gate(_summary(1000, 1000, latency=900), min_pass_rate=0.9, latency_budget_p95_ms=500)
    assert slow.status == "fail" and any("exceeds the budget of 500 ms" in r for r in slow.reasons)
    costly = judge_gate(_summary(1000, 1000, cost=0.05), min_pass_rate=0.9, cost_budget_per_case=0.01)
    assert costly.status == "fail" and any("cost per case $0.050000" in r for r in costly.reasons)


def test_unknown_cost_or_no_cases_is_never_a_silent_pass():
    no_cost = judge_gate(_summary(1000, 1000, cost=None), min_pass_rate=0.9, cost_budget_per_case=0.01)
    assert no_cost.status == "inconclusive" and no_cost.blocks
    empty = judge_gate(summarize([]), min_pass_rate=0.9)
    assert empty.status == "inconclusive" and empty.interval is None


@pytest.mark.parametrize("kwargs, message", [
    ({"min_pass_rate": 1.2}, "min_pass_rate"),
    ({"min_pass_rate": 0.9, "latency_budget_p95_ms": -1}, "latency_budget_p95_ms"),
    ({"min_pass_rate": 0.9, "cost_budget_per_case": "cheap"}, "cost_budget_per_case"),
])
def test_gate_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        judge_gate(_summary(1, 1), **kwargs)
    with pytest.raises(ValueError, match="RunSummary"):
        judge_gate({"pass_rate": 1.0}, 0.9)
