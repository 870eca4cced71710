"""Drift checks from histograms on baseline bins, with the multiple-testing correction."""

import numpy as np
import pytest

from takeoff.monitoring.drift import DEFAULT_THRESHOLDS, categorical_drift, check_features, numeric_drift
from takeoff.telemetry.histogram import baseline_edges, bin_counts, category_counts

N = 5_000


def _numeric_spec(ref, cur, **extra):
    edges = baseline_edges(ref)
    return {"kind": "numeric", "edges": edges, "reference": bin_counts(ref, edges),
            "current": bin_counts(cur, edges), **extra}


def _categorical_spec(ref, cur):
    return {"kind": "categorical", "reference": category_counts(ref), "current": category_counts(cur)}


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_mean_shift_is_flagged(rng):
    ref, cur = rng.normal(0, 1, N), rng.normal(0.5, 1, N)
    spec = _numeric_spec(ref, cur)
    res = numeric_drift(spec["reference"], spec["current"], spec["edges"], feature="amount")
    assert res.status == "drift"
    assert "wasserstein" in res.exceeded
    assert res.statistics["wasserstein"] == pytest.approx(0.5, abs=0.08)


def test_scale_change_is_flagged_even_though_decile_psi_would_miss_it(rng):
    ref, cur = rng.normal(0, 2.0, N), rng.normal(0, 2.6, N)
    spec = _numeric_spec(ref, cur)
    res = numeric_drift(spec["reference"], spec["current"], spec["edges"])
    assert res.status == "drift"


def test_same_distribution_is_not_flagged(rng):
    ref, cur = rng.lognormal(0, 0.5, N), rng.lognormal(0, 0.5, N)
    spec = _numeric_spec(ref, cur)
    res = numeric_drift(spec["reference"], spec["current"], spec["edges"])
    assert res.status == "no_drift"
    assert res.exceeded == []


def test_categorical_shift_flagged_and_stable_not(rng):
    levels = [f"l{i}" for i in range(10)]
    p = 1 / np.arange(1, 11)
    p /= p.sum()
    q = p.copy()
    q[0] -= 0.15
    q[9] += 0.15
    ref = rng.choice(levels, N, p=p)
    shifted = categorical_drift(category_counts(ref), category_counts(rng.choice(levels, N, p=q)))
    stable = categorical_drift(category_counts(ref), category_counts(rng.choice(levels, N, p=p)))
    assert shifted.status == "drift" and "js_distance" in shifted.exceeded
    assert stable.status == "no_drift"
    assert 0 < stable.statistics["chi2_p_value"] <= 1


def test_new_category_in_current_counts_as_drift(rng):
    ref = {"a": 500, "b": 500}
    cur = {"a": 300, "b": 300, "new": 400}
    assert categorical_drift(ref, cur).status == "drift"


def test_report_flags_exactly_the_shifted_features(rng):
    features = {
        "mean_shift": _numeric_spec(rng.normal(0, 1, N), rng.normal(0.5, 1, N)),
        "scale": _numeric_spec(rng.exponential(2.0, N), rng.exponential(2.6, N)),
        "stable_a": _numeric_spec(rng.gamma(2, 1.5, N), rng.gamma(2, 1.5, N)),
        "stable_b": _numeric_spec(rng.uniform(0, 10, N), rng.uniform(0, 10, N)),
        "channel": _categorical_spec(rng.choice(["web", "app", "mail"], N), rng.choice(["web", "app", "mail"], N)),
    }
    report = check_features(features)
    assert report.status == "drift"
    assert sorted(report.drifted) == ["mean_shift", "scale"]
    assert all(f.p_adjusted >= f.p_value for f in report.features)
    assert report.to_dict()["drifted"] == report.drifted


def test_bh_keeps_false_alarms_down_on_50_unshifted_features(rng):
    # loose effect thresholds so the decision rests on the p-values alone: without correction ~5 % of 50 fire
    loose = {"wasserstein": 0.0, "psi": 0.0, "js_distance": 0.0}
    false_alarms_raw = false_alarms_bh = 0
    for _ in range(4):
        features = {f"f{i}": _numeric_spec(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)) for i in range(50)}
        report = check_features(features, loose, fdr=0.05)
        false_alarms_bh += len(report.drifted)
        false_alarms_raw += sum(f.p_value < 0.05 for f in report.features)
    assert false_alarms_bh <= 1
    assert false_alarms_raw >= 4  # uncorrected p < 0.05 would have raised these alarms


def test_bh_still_finds_a_real_shift_among_50_features(rng):
    features = {f"f{i}": _numeric_spec(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)) for i in range(49)}
    features["shifted"] = _numeric_spec(rng.normal(0, 1, 2000), rng.normal(0.6, 1, 2000))
    assert check_features(features).drifted == ["shifted"]


def test_empty_baseline_gives_not_enough_data():
    edges = [0.0, 1.0, 2.0]
    res = numeric_drift([0, 0, 0, 0], [10, 50, 50, 10], edges)
    assert res.status == "not_enough_data"
    assert "baseline" in res.reason
    assert categorical_drift({}, {"a": 1000}).status == "not_enough_data"
    report = check_features({"x": {"kind": "numeric", "edges": edges, "reference": [0] * 4, "current": [5] * 4}})
    assert report.status == "not_enough_data" and report.drifted == []


def test_small_current_window_gives_not_enough_data(rng):
    spec = _numeric_spec(rng.normal(size=N), rng.normal(3, 1, 50))
    assert numeric_drift(spec["reference"], spec["current"], spec["edges"]).status == "not_enough_data"
    res = numeric_drift(spec["reference"], spec["current"], spec["edges"], {"min_current": 20})
    assert res.status == "drift"


def test_use_case_can_raise_a_threshold(rng):
    spec = _numeric_spec(rng.normal(0, 1, N), rng.normal(0.5, 1, N))
    strict = {"wasserstein": 1.0, "psi": 5.0}
    assert check_features({"x": {**spec, "thresholds": strict}}).drifted == []
    assert check_features({"x": spec}, strict).drifted == []
    assert set(DEFAULT_THRESHOLDS) >= {"wasserstein", "psi", "js_distance", "min_reference", "min_current"}


@pytest.mark.parametrize(
    "call",
    [
        lambda: numeric_drift([1, 2, 3], [1, 2, 3, 4], [0.0, 1.0, 2.0]),  # current length mismatch
        lambda: numeric_drift([1, 2, 3], [1, 2, 3], [0.0, 1.0, 2.0]),  # counts must be len(edges) + 1
        lambda: numeric_drift([1, -2, 3, 4], [1, 2, 3, 4], [0.0, 1.0, 2.0]),
        lambda: numeric_drift([1, 2, 3, 4], [1, 2, 3, 4], [0.0, 2.0, 1.0]),
        lambda: numeric_drift([1, 2, 3, 4], [1, 2, 3, 4], [0.0, 1.0, 2.0], {"wasserstien": 0.1}),
        lambda: numeric_drift([1, 2, 3, 4], [1, 2, 3, 4], [0.0, 1.0, 2.0], {"psi": -1}),
        lambda: numeric_drift([1, 2, 3, 4], [1, 2, 3, 4], [0.0, 1.0, 2.0], {"min_current": 0.5}),
        lambda: categorical_drift({"a": 1.5}, {"a": 1}),
        lambda: categorical_drift({"a": 1}, ["a"]),
        lambda: check_features({"x": {"kind": "text", "reference": {}, "current": {}}}),
        lambda: check_features({"x": {"kind": "numeric", "reference": [1], "current": [1]}}),
        lambda: check_features({}, fdr=1.5),
        lambda: check_features([("x", {})]),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_binned_statistics_match_the_raw_data_versions(rng):
    from scipy import stats

    ref, cur = rng.gamma(2.0, 1.5, 20_000), rng.gamma(2.0, 1.8, 20_000)
    spec = _numeric_spec(ref, cur)
    res = numeric_drift(spec["reference"], spec["current"], spec["edges"])
    raw_ks = stats.ks_2samp(ref, cur).statistic
    raw_w = stats.wasserstein_distance(ref, cur) / ref.std()
    assert res.statistics["ks_statistic"] == pytest.approx(raw_ks, abs=0.01)
    assert res.statistics["wasserstein"] == pytest.approx(raw_w, rel=0.05)
