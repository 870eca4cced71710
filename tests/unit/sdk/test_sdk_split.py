"""Canary split by consistent hashing of the unit id."""
from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from takeoff.sdk import choose_release, unit_bucket


def rel(rid: str, weight: float) -> dict:
    return {"release_id": rid, "weight": weight}


def test_bucket_follows_documented_rule():
    expected = int(hashlib.sha256(b"support-bot:user-42").hexdigest()[:8], 16) % 10000
    assert unit_bucket("support-bot", "user-42") == expected


def test_split_matches_weights_over_10k_units():
    releases = [rel("stable", 90), rel("canary", 10)]
    counts = Counter(choose_release(releases, "support-bot", f"u{i}")["release_id"] for i in range(10_000))
    assert 850 <= counts["canary"] <= 1150
    assert counts["stable"] + counts["canary"] == 10_000


def test_three_way_split_matches_weights():
    releases = [rel("a", 50), rel("b", 30), rel("c", 20)]
    counts = Counter(choose_release(releases, "uc", str(i))["release_id"] for i in range(10_000))
    for rid, w in (("a", 5000), ("b", 3000), ("c", 2000)):
        assert abs(counts[rid] - w) < 300, counts


def test_unit_is_sticky_and_list_order_does_not_matter():
    releases = [rel("stable", 80), rel("canary", 20)]
    first = {u: choose_release(releases, "uc", u)["release_id"] for u in map(str, range(500))}
    again = {u: choose_release(list(reversed(releases)), "uc", u)["release_id"] for u in map(str, range(500))}
    assert first == again


def test_small_canary_takes_the_last_buckets():
    small = [rel("stable", 95), rel("canary", 5)]
    big = [rel("stable", 50), rel("canary", 50)]
    for u in map(str, range(2000)):
        if choose_release(small, "uc", u)["release_id"] == "canary":
            # canary sits after stable (smaller weight) in the small split, so its units lie in [9500, 10000)
            assert unit_bucket("uc", u) >= 9500


def test_zero_weight_release_gets_nobody_and_single_release_gets_all():
    releases = [rel("stable", 100), rel("off", 0)]
    assert {choose_release(releases, "uc", str(i))["release_id"] for i in range(1000)} == {"stable"}
    assert choose_release([rel("only", 100)], "uc", "x")["release_id"] == "only"


def test_ties_broken_by_release_id():
    releases = [rel("b", 50), rel("a", 50)]
    low = next(str(i) for i in range(1000) if unit_bucket("uc", str(i)) < 5000)
    assert choose_release(releases, "uc", low)["release_id"] == "a"


@pytest.mark.parametrize("releases", [[], "abc", [rel("a", -1)], [rel("a", 0)], [{"weight": 10}],
                                      [rel("a", float("nan"))], [{"release_id": "a", "weight": "50"}], [5]])
def test_bad_releases_raise_value_error(releases):
    with pytest.raises(ValueError):
        choose_release(releases, "uc", "u1")


@pytest.mark.parametrize("use_case,unit", [("", "u"), (None, "u"), ("uc", None), ("uc", 5)])
def test_bad_bucket_inputs_raise_value_error(use_case, unit):
    with pytest.raises(ValueError):
        unit_bucket(use_case, unit)
