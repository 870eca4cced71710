import pytest

from takeoff.outcomes.themes import Theme, feedback_themes

COMMENTS = [
    "The reply was too slow, waited forever",
    "Slow response times today",
    "Response was slow and late",
    "Wrong refund amount suggested",
    "It suggested the wrong refund policy",
    "Refund policy answer was wrong",
    "Great summary, saved me time",
    "Loved the summary, saves time",
    "Summary saved time",
]


@pytest.fixture(scope="module")
def themes():
    return feedback_themes(COMMENTS)


def _group_of(themes, comment):
    return next(t for t in themes if comment in t.examples)


def test_similar_comments_form_one_theme_each(themes):
    assert sorted(t.size for t in themes) == [3, 3, 3]
    by_term = {t.top_terms[0] for t in themes}
    assert {"refund", "slow", "summary"} <= {term for t in themes for term in t.top_terms}
    assert len(by_term) == 3
    refund = _group_of(themes, "Wrong refund amount suggested")
    assert set(refund.examples) == {
        "Wrong refund amount suggested",
        "It suggested the wrong refund policy",
        "Refund policy answer was wrong",
    }
    assert "refund" in refund.label


def test_inflections_land_in_the_same_theme(themes):
    assert _group_of(themes, "Loved the summary, saves time") is _group_of(themes, "Summary saved time")


def test_same_comments_give_the_same_themes(themes):
    assert feedback_themes(list(COMMENTS)) == themes


def test_zero_one_and_two_comments():
    assert feedback_themes([]) == []
    assert feedback_themes(["   ", ""]) == []
    one = feedback_themes(["Reply was slow"])
    assert len(one) == 1 and one[0].size == 1 and one[0].examples == ["Reply was slow"]
    assert "slow" in one[0].top_terms
    two = feedback_themes(["slow reply", "wrong refund"])
    assert sorted(t.label for t in two) == ["refund / wrong", "reply / slow"]


def test_comments_with_only_stop_words_go_to_other():
    themes = feedback_themes(["the", "it was", "Slow response", "slow response again"])
    other = [t for t in themes if t.label == "other"]
    assert len(other) == 1 and other[0].size == 2 and other[0].top_terms == []


def test_max_themes_caps_the_number_and_largest_come_first():
    themes = feedback_themes(COMMENTS + ["Summary saved time again", "great summary"], max_themes=2)
    assert len(themes) <= 2
    assert themes == sorted(themes, key=lambda t: -t.size)
    assert all(isinstance(t, Theme) and len(t.examples) <= 3 for t in themes)


def test_many_comments_are_grouped_by_topic():
    topics = {
        "latency": ["slow", "latency", "timeout", "waiting"],
        "refund": ["refund", "wrong", "policy", "amount"],
        "login": ["login", "crash", "broken", "error"],
    }
    comments = []
    for i in range(400):
        words = list(topics.values())[i % 3]
        comments.append(f"{words[i % 4]} {words[(i + 1) % 4]} {words[(i + 2) % 4]} case {i}")
    themes = feedback_themes(comments, max_themes=5)
    assert [t.size for t in themes][:3] == [134, 133, 133]
    for t in themes[:3]:
        vocab = next(v for v in topics.values() if t.top_terms[0] in v)
        assert all(any(w in ex for w in vocab) for ex in t.examples)


@pytest.mark.parametrize(
    "comments, max_themes, message",
    [
        ("slow reply", 5, "list of strings"),
        (["ok", 3], 5, r"comments\[1\] must be a string"),
        (["ok"], 0, "max_themes must be a whole number >= 1"),
        (["ok"], 2.5, "max_themes"),
    ],
)
def test_bad_input_is_refused(comments, max_themes, message):
    with pytest.raises(ValueError, match=message):
        feedback_themes(comments, max_themes=max_themes)
