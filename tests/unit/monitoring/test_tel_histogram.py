"""Fixed latency histogram and baseline-binned feature histograms."""

import json

import numpy as np
import pytest

from takeoff.telemetry.histogram import (
    BUCKET_COUNT,
    LATENCY_EDGES_MS,
    RELATIVE_BUCKET_WIDTH,
    baseline_edges,
    bin_counts,
    bucket_index,
    category_counts,
    latency_counts,
    merge,
    quantile,
)


def test_layout_covers_1ms_to_10min_with_under_10_percent_buckets():
    assert LATENCY_EDGES_MS[0] == 1.0
    assert LATENCY_EDGES_MS[-1] >= 600_000
    assert len(LATENCY_EDGES_MS) == BUCKET_COUNT - 1
    assert 0.08 <= RELATIVE_BUCKET_WIDTH <= 0.10


def test_bucket_index_edges_and_extremes():
    assert bucket_index(0) == 0
    assert bucket_index(0.5) == 0
    assert bucket_index(1.0) == 1
    assert bucket_index(LATENCY_EDGES_MS[10]) == 11
    assert bucket_index(3_600_000) == BUCKET_COUNT - 1


def test_single_and_batch_bucketing_agree():
    values = np.random.default_rng(1).lognormal(5, 2, 2000)
    batch = latency_counts(values)
    single = [0] * BUCKET_COUNT
    for v in values:
        single[bucket_index(float(v))] += 1
    assert batch == single


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_quantile_within_one_bucket_of_numpy(q):
    values = np.random.default_rng(2).lognormal(6, 1, 50_000)
    est = quantile(latency_counts(values), q)
    exact = float(np.quantile(values, q))
    assert abs(est - exact) / exact <= RELATIVE_BUCKET_WIDTH


def test_quantile_of_empty_histogram_is_none():
    assert quantile([0] * BUCKET_COUNT, 0.95) is None


def test_merge_adds_counts_and_serialises():
    a = latency_counts([10, 20, 30])
    b = latency_counts([10, 5000])
    m = merge(a, b)
    assert sum(m) == 5
    assert m[bucket_index(10)] == 2
    assert json.loads(json.dumps(m)) == m
    assert merge({"a": 1}, {"a": 2, "b": 3}) == {"a": 3, "b": 3}


def test_baseline_edges_bins_reference_evenly_and_catches_values_beyond():
    ref = np.random.default_rng(3).normal(size=10_000)
    edges = baseline_edges(ref, n_bins=100)
    assert len(edges) == 101 and all(isinstance(e, float) for e in edges)
    counts = bin_counts(ref, edges)
    assert len(counts) == len(edges) + 1 and sum(counts) == ref.size
    assert max(counts[1:-1]) <= 110  # ~100 per quantile bin
    beyond = bin_counts([-100.0, 100.0], edges)
    assert beyond[0] == 1 and beyond[-1] == 1


def test_discrete_baseline_gets_unique_edges():
    edges = baseline_edges([1, 1, 1, 2, 2, 3] * 100, n_bins=100)
    assert edges == [1.0, 2.0, 3.0]


def test_category_counts_are_plain_dict():
    assert category_counts(["a", "b", "a"]) == {"a": 2, "b": 1}
    assert category_counts([]) == {}


@pytest.mark.parametrize(
    "call",
    [
        lambda: bucket_index(-1),
        lambda: bucket_index(float("nan")),
        lambda: bucket_index("12"),
        lambda: quantile([1] * 3, 0.5),  # wrong number of buckets
        lambda: quantile([0] * BUCKET_COUNT, 1.5),
        lambda: quantile([-1] + [0] * (BUCKET_COUNT - 1), 0.5),
        lambda: merge([1, 2], [1, 2, 3]),
        lambda: merge([1, 2], {"a": 1}),
        lambda: merge({"a": -1}, {"a": 1}),
        lambda: baseline_edges([]),
        lambda: baseline_edges([1.0, 2.0], n_bins=0),
        lambda: bin_counts([1.0], [2.0, 1.0]),
        lambda: bin_counts([1.0], []),
        lambda: latency_counts([5, -3]),
        lambda: category_counts("abc"),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_binning_a_large_batch_equals_binning_it_in_small_pieces():
    rng = np.random.default_rng(4)
    edges = baseline_edges(rng.normal(size=5_000))
    values = rng.normal(0.2, 1.3, 40_000)
    values[::97] = np.nan  # missing values are not binned
    values[:50] = edges[3]  # values exactly on an edge go to the bin that starts there
    whole = bin_counts(values, edges)
    pieces = [0] * (len(edges) + 1)
    for start in range(0, values.size, 500):
        pieces = merge(pieces, bin_counts(values[start:start + 500], edges))
    assert whole == pieces
    assert sum(whole) == int(np.count_nonzero(~np.isnan(values)))
