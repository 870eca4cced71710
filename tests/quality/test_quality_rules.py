"""Pure rules of online evaluation (sampling, budget, verdicts, judge cost, content text) and the canary's
comparison of every quality score the two sides share."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from takeoff.monitoring.canary_analysis import other_scores
from takeoff.quality import rules


def test_sampling_is_deterministic_near_the_rate_and_independent_per_evaluator():
    ids = [f"req-{i}" for i in range(4000)]
    a = {i for i in ids if rules.sampled("judge", i, 0.25)}
    assert a == {i for i in ids if rules.sampled("judge", i, 0.25)}  # same request, same answer
    assert 900 < len(a) < 1100
    b = {i for i in ids if rules.sampled("other", i, 0.25)}
    assert 150 < len(a & b) < 350  # independent draws overlap about rate² of the requests
    assert {i for i in ids if rules.sampled("judge", i, 0.1)} <= a  # a lower rate samples a subset
    assert all(rules.sampled("x", i, 1.0) for i in ids[:50]) and not any(rules.sampled("x", i, 0.0) for i in ids[:50])


def test_budget_and_cost():
    assert not rules.budget_spent(0.99, 1.0) and rules.budget_spent(1.0, 1.0) and not rules.budget_spent(5, None)
    assert rules.budget_left(0.3, 1.0) == pytest.approx(0.7) and rules.budget_left(2, 1.0) == 0.0
    assert rules.budget_left(2, None) is None
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    assert rules.call_cost(usage, {"input": 5.0, "output": 50.0}) == pytest.approx(0.01)
    assert rules.call_cost(None, {"input": 5.0}) == 0.0
    assert rules.call_cost({"prompt_tokens": -5, "completion_tokens": True}, {"input": 5.0, "output": 5.0}) == 0.0


@pytest.mark.parametrize("text, problem", [
    ('{"score": 0.8, "passed": true}', None),
    ('```json\n{"score": 1}\n```', None),
    ("looks fine to me", "not JSON"),
    ("[0.8]", "not a JSON object"),
    ('{"score": 1.5}', "'score'"),
    ('{"score": "high"}', "'score'"),
    ('{"score": true}', "'score'"),
    ('{"score": 0.5, "passed": "yes"}', "'passed'"),
    (None, "no text"),
])
def test_a_malformed_verdict_is_named(text, problem):
    found = rules.verdict_problem(text)
    assert (found is None) if problem is None else (problem in found)


def test_content_texts_read_messages_system_and_tool_calls():
    body = {"system": "You answer tickets.", "input": [{"role": "user", "content": "Where is my refund?"}],
            "output": [{"role": "assistant", "content": [{"type": "text", "text": "On its way."}]}],
            "tool_calls": [{"name": "lookup", "arguments": "{}"}]}
    inp, out = rules.content_texts(body)
    assert inp == "You answer tickets.\nWhere is my refund?"
    assert out.startswith("On its way.") and '"name": "lookup"' in out
    assert rules.content_texts({}) == ("", "")
    assert rules.score_name("judge") == "online_judge"


def _side(n: int, mean: float, sd: float = 0.1) -> SimpleNamespace:
    return SimpleNamespace(count=n, errors=0, latency_counts=[], cost_usd=0.0, cost_sq=0.0,
                           scores={"online_judge": [n, n * mean, n * (mean * mean + sd * sd)]})


def test_the_canary_compares_online_scores_between_canary_and_production():
    worse = other_scores(_side(600, 0.6), _side(600, 0.9), ["online_judge"], 500)
    assert worse["breaches"][0][0] == "quality_online_judge"
    assert worse["checks"][0]["metric"] == "quality_online_judge" and worse["checks"][0]["status"] == "breach"
    same = other_scores(_side(600, 0.9), _side(600, 0.9), ["online_judge"], 500)
    assert not same["breaches"] and same["checks"][0]["status"] == "ok"
    few = other_scores(_side(20, 0.1), _side(600, 0.9), ["online_judge"], 500)
    assert not few["breaches"] and few["checks"][0]["status"] == "not_enough_data"
