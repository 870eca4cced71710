"""The pure rules of review: the rubric and a review against it, agreement (hand-computed Krippendorff's alpha),
and the sampling rules."""
from __future__ import annotations

import pytest

from takeoff.review import agreement, rubric, sampling

RUBRIC = rubric.make_rubric({"scores": [{"name": "helpful", "min": 1, "max": 5}, {"name": "ok", "min": 0, "max": 1}],
                             "labels": ["made_up"], "free_text": False})


@pytest.mark.parametrize("units, alpha", [
    ([[1, 2], [1, 2]], -0.5),  # D_o = 1, D_e = 8/12
    ([[1, 1], [3, 3], [1, 3]], 4 / 9),  # D_o = 8/6, D_e = 72/30
    ([[1, 2, 3], [2, 2, 2]], -0.25),  # three reviewers: D_o = 6/6, D_e = 24/30
    ([[1, 1], [2, 2], [5]], 1.0),  # perfect agreement; the single review is not pairable
])
def test_alpha_matches_hand_computed_values(units, alpha):  # type: ignore[no-untyped-def]
    assert agreement.krippendorff_alpha(units) == pytest.approx(alpha)


def test_agreement_counts_pairs_and_exact_share():
    a = agreement.agreement([[1, 1, 2], [4, 4], [3]])
    assert (a.items, a.pairs) == (2, 4) and a.exact == pytest.approx(2 / 4)
    assert agreement.agreement([[3]]) == agreement.Agreement(0, 0, None, None)
    assert agreement.agreement([[2, 2], [2, 2]]).alpha is None  # no variation: alpha is undefined


@pytest.mark.parametrize("raw, field", [
    ({"scores": [{"name": "A", "min": 1, "max": 5}]}, "rubric.scores[0].name"),
    ({"scores": [{"name": "a", "min": 1.5, "max": 5}]}, "rubric.scores[0].min"),
    ({"scores": [{"name": "a", "min": 1, "max": 101}]}, "rubric.scores[0].max"),
    ({"labels": ["x", "Bad label"]}, "rubric.labels[1]"),
    ({"labels": ["x"], "free_text": "yes"}, "rubric.free_text"),
    ({}, "rubric.scores"),
])
def test_bad_rubrics_name_the_field(raw, field):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as exc:
        rubric.make_rubric(raw)
    assert str(exc.value).startswith(f"{field}: ")


@pytest.mark.parametrize("scores, labels, comment, field", [
    ({"helpful": 3}, [], "", "scores.ok"),
    ({"helpful": 0, "ok": 1}, [], "", "scores.helpful"),
    ({"helpful": 3.5, "ok": 1}, [], "", "scores.helpful"),
    ({"helpful": True, "ok": 1}, [], "", "scores.helpful"),
    ({"helpful": 3, "ok": 1, "tone": 2}, [], "", "scores.tone"),
    ({"helpful": 3, "ok": 1}, ["nope"], "", "labels[0]"),
    ({"helpful": 3, "ok": 1}, ["made_up", "made_up"], "", "labels"),
    ({"helpful": 3, "ok": 1}, [], "words", "comment"),
])
def test_reviews_off_the_rubric_are_refused(scores, labels, comment, field):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as exc:
        rubric.check_review(RUBRIC, scores, labels, comment)
    assert str(exc.value).startswith(f"{field}: ")


def test_a_review_on_the_rubric_is_whole_numbers():
    assert rubric.check_review(RUBRIC, {"helpful": 5.0, "ok": 0}, ["made_up"], "") == {"helpful": 5, "ok": 0}
    assert rubric.score_name("helpful") == "review_helpful"


def test_rules_match_their_kind_and_take_a_stable_share():
    err = sampling.Candidate("a", "error", "uc:2", 0, None)
    low = sampling.Candidate("b", "ok", "uc:3", 1, 2)
    rules = {1: sampling.check_rule("errors", 1.0, 2), 2: sampling.check_rule("low_rated", 1.0, 2),
             3: sampling.check_rule("canary", 1.0, 2)}
    assert sampling.select(rules, err, "s", {"uc:3"}) == 1
    assert sampling.select(rules, low, "s", {"uc:3"}) == 2
    assert sampling.matches(rules[3], low, {"uc:3"}) and not sampling.matches(rules[3], err, {"uc:3"})
    assert sampling.matches(sampling.Rule("violations"), low, ()) and not sampling.matches(sampling.Rule("violations"),
                                                                                           err, ())
    taken = [i for i in range(2000) if sampling.in_share("q", str(i), 0.1)]
    assert 150 < len(taken) < 250 and taken == [i for i in range(2000) if sampling.in_share("q", str(i), 0.1)]
    for kind, share, max_rating, field in (("x", 1, 2, "kind"), ("errors", 0, 2, "share"),
                                           ("errors", 1.5, 2, "share"), ("low_rated", 1, 5, "max_rating")):
        with pytest.raises(ValueError, match=f"^{field}: "):
            sampling.check_rule(kind, share, max_rating)
