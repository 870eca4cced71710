from datetime import date, datetime

import pytest

from takeoff.portfolio.scoring import (
    LENS_CRITERIA,
    RankItem,
    ScoreInput,
    aggregate,
    lens_score,
    priority,
    priority_breakdown,
    quarter_of,
    quarterly_history,
    rank,
    recommend,
)

SEED_TABLE = [
    RankItem("Customer support reply assist", 4, 4, 2),
    RankItem("Invoice anomaly detection", 3, 3, 3),
    RankItem("Credit decision automation", 5, 2, 5),
    RankItem("Sales call summarization", 3, 4, 2),
]


def test_seed_table_recommendation_is_pinned():
    rec = recommend(SEED_TABLE)
    assert rec.near_term == ["Customer support reply assist", "Sales call summarization"]
    assert rec.long_term == "Credit decision automation"
    assert [r.use_case for r in rec.ranking] == [
        "Customer support reply assist",
        "Sales call summarization",
        "Invoice anomaly detection",
        "Credit decision automation",
    ]
    assert [r.score for r in rec.ranking] == [51.2, 38.4, 21.6, 8.0]


def test_seed_recommendation_reasons_explain_it_from_the_formula():
    rec = recommend(SEED_TABLE)
    support = " ".join(rec.reasons["Customer support reply assist"])
    assert "100 × 4 × 4 × (6 − 2) / 125 = 51.2" in support
    assert "near-term" in support
    credit = " ".join(rec.reasons["Credit decision automation"])
    assert "risk 5 > 3" in credit and "governance" in credit
    assert "feasibility 2 < 3" in credit
    assert "longer-term: value 5" in credit
    invoice = " ".join(rec.reasons["Invoice anomaly detection"])
    assert "2 higher-priority use cases come first" in invoice


def test_priority_rises_with_value_and_feasibility_and_falls_with_risk():
    assert priority(4, 3, 2) > priority(3, 3, 2)
    assert priority(3, 4, 2) > priority(3, 3, 2)
    assert priority(3, 3, 3) < priority(3, 3, 2)
    assert priority(5, 5, 1) == 100.0
    assert priority(1, 1, 5) == 0.8


def test_volume_breaks_ties_but_never_beats_a_better_lens_score():
    low = RankItem("low volume", 3, 4, 2, monthly_volume=50)
    high = RankItem("high volume", 3, 4, 2, monthly_volume=200_000)
    assert [r.use_case for r in rank([low, high])] == ["high volume", "low volume"]
    # The smallest possible lens difference (0.1 on the 0-100 scale) still wins over a billion tasks a month.
    better = RankItem("better lens", 3, 4, 1.99)
    huge = RankItem("huge volume", 3, 4, 2, monthly_volume=10**12)
    assert priority_breakdown(3, 4, 1.99).base - priority_breakdown(3, 4, 2).base >= 0.1
    assert [r.use_case for r in rank([huge, better])] == ["better lens", "huge volume"]


def test_volume_formula_is_shown_with_numbers():
    p = priority_breakdown(4, 4, 2, 9_999)
    assert p.base == 51.2
    assert p.volume_bonus == pytest.approx(0.04)
    assert "log10(1 + 9,999)" in p.formula


def test_equal_scores_without_volume_rank_by_name():
    assert [r.use_case for r in rank([RankItem("b", 3, 3, 3), RankItem("a", 3, 3, 3)])] == ["a", "b"]


def test_lens_score_is_the_mean_of_rated_criteria():
    assert lens_score({"harm_if_wrong": 5, "regulatory_exposure": 5, "security_impact": 3, "reputational_risk": 4}) == 4.25
    assert lens_score({"cost_reduction": 4}, "value") == 4.0
    assert set(LENS_CRITERIA["feasibility"]) == {
        "data_availability",
        "workflow_clarity",
        "integration_complexity",
        "time_to_ship",
    }


@pytest.mark.parametrize(
    "criteria, lens, message",
    [
        ({"cost_reduction": 6}, None, "from 1 to 5"),
        ({"cost_reduction": 0}, None, "from 1 to 5"),
        ({"cost_reduction": "high"}, None, "number from 1 to 5"),
        ({"cost_reduction": True}, None, "number from 1 to 5"),
        ({"vibes": 3}, None, "unknown criterion 'vibes'"),
        ({}, None, "non-empty"),
        ({"cost_reduction": 3, "harm_if_wrong": 2}, None, "mix lenses"),
        ({"harm_if_wrong": 2}, "value", "belongs to the risk lens"),
        ({"cost_reduction": 3}, "vibes", "unknown lens"),
    ],
)
def test_lens_score_refuses_bad_input(criteria, lens, message):
    with pytest.raises(ValueError, match=message):
        lens_score(criteria, lens)


def test_aggregate_uses_median_and_shows_disagreement():
    scores = [
        ScoreInput("ana", 4, 4, 2),
        ScoreInput("bo", 5, 4, 2),
        ScoreInput("cy", 2, {"data_availability": 3, "time_to_ship": 5}, {"harm_if_wrong": 2}),
    ]
    agg = aggregate(scores)
    assert (agg.value, agg.feasibility, agg.risk) == (4.0, 4.0, 2.0)
    assert agg.scorers == 3
    assert agg.disagreement["value"].spread == 3.0
    assert agg.disagreement["value"].low == 2.0 and agg.disagreement["value"].high == 5.0
    assert agg.disagreement["value"].iqr == pytest.approx(1.5)
    assert agg.contested_lenses == ("value",)
    assert agg.disagreement["risk"].spread == 0.0


def test_a_rescore_by_the_same_scorer_replaces_the_older_one():
    scores = [
        ScoreInput("ana", 2, 2, 4, scored_on=date(2026, 10, 1)),
        ScoreInput("ana", 4, 4, 2, scored_on=date(2026, 11, 1)),
        ScoreInput("bo", 4, 4, 2, scored_on=date(2026, 10, 5)),
    ]
    agg = aggregate(scores)
    assert agg.scorers == 2
    assert (agg.value, agg.feasibility, agg.risk) == (4.0, 4.0, 2.0)


def test_quarterly_history_shows_quarter_over_quarter_change():
    scores = [
        ScoreInput("ana", 3, 2, 4, scored_on=date(2026, 8, 20)),
        ScoreInput("bo", 3, 3, 4, scored_on=date(2026, 9, 2)),
        ScoreInput("ana", 4, 4, 2, scored_on=date(2026, 11, 3)),
        ScoreInput("bo", 4, 3, 3, scored_on=date(2026, 11, 4)),
    ]
    hist = quarterly_history(scores)
    assert list(hist) == ["2026-Q3", "2026-Q4"]
    assert hist["2026-Q3"].feasibility == 2.5
    assert hist["2026-Q4"].feasibility == 3.5
    assert hist["2026-Q4"].risk == 2.5


def test_quarterly_history_needs_dates():
    with pytest.raises(ValueError, match="no scored_on date"):
        quarterly_history([ScoreInput("ana", 3, 3, 3)])


def test_quarter_of():
    assert quarter_of(date(2026, 11, 25)) == "2026-Q4"
    assert quarter_of(date(2026, 1, 1)) == "2026-Q1"
    assert quarter_of(datetime(2026, 6, 30, 23, 59)) == "2026-Q2"
    assert quarter_of(date(2026, 7, 1)) == "2026-Q3"
    with pytest.raises(ValueError, match="needs a date"):
        quarter_of("2026-11-25")


def test_score_input_refuses_out_of_range_and_unknown_criteria():
    with pytest.raises(ValueError, match="value score from 'ana' must be from 1 to 5"):
        ScoreInput("ana", 7, 3, 3)
    with pytest.raises(ValueError, match="unknown criterion"):
        ScoreInput("ana", 3, {"budget": 3}, 3)
    with pytest.raises(ValueError, match="belongs to the value lens"):
        ScoreInput("ana", 3, 3, {"cost_reduction": 3})
    with pytest.raises(ValueError, match="scorer"):
        ScoreInput(" ", 3, 3, 3)


def test_aggregate_and_rank_refuse_bad_input():
    with pytest.raises(ValueError, match="non-empty list"):
        aggregate([])
    with pytest.raises(ValueError, match="must be a ScoreInput"):
        aggregate([{"value": 3}])
    with pytest.raises(ValueError, match="appears twice"):
        rank([RankItem("a", 3, 3, 3), RankItem("a", 4, 4, 2)])
    with pytest.raises(ValueError, match="monthly_volume"):
        priority(3, 3, 3, -5)
    with pytest.raises(ValueError, match="risk must be from 1 to 5"):
        priority(3, 3, 5.5)
    with pytest.raises(ValueError, match="at least one"):
        recommend([])


def test_recommendation_from_aggregated_scores():
    agg = aggregate([ScoreInput("ana", 4, 4, 2), ScoreInput("bo", 4, 5, 1), ScoreInput("cy", 3, 4, 2)])
    item = RankItem.from_aggregate("reply assist", agg, monthly_volume=30_000)
    rec = recommend([item, RankItem("risky", 2, 2, 4)])
    assert rec.near_term == ["reply assist"]
    assert rec.long_term is None
    assert any("no longer-term bet" in n for n in rec.notes)
    assert "monthly volume 30,000 tasks" in rec.reasons["reply assist"]


def test_no_near_term_pick_when_everything_is_risky():
    rec = recommend([RankItem("credit", 5, 2, 5), RankItem("fraud", 4, 3, 4)])
    assert rec.near_term == []
    assert rec.long_term == "credit"
    assert any("no near-term pick" in n for n in rec.notes)


def test_low_volume_is_flagged():
    rec = recommend([RankItem("rare workflow", 4, 4, 2, monthly_volume=20)])
    assert any("may not pay for its operational overhead" in r for r in rec.reasons["rare workflow"])
