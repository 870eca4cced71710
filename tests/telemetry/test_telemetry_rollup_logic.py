"""Pure rollup and edge logic: unit sketches, merges, folding grains, time and step parsing, OTLP mapping."""
from __future__ import annotations

import random
import struct
from datetime import UTC, datetime

import pytest

from takeoff.telemetry import ingest, metrics, otlp, rollup
from takeoff.telemetry.window import _cover

KEY = rollup.unit_key("test-secret-key-for-unit-hashes")


def test_kmv_is_exact_when_small_and_close_when_large():
    small = sorted(rollup.unit_hash(f"u{i}", KEY) for i in range(100))
    assert rollup.kmv_estimate(small) == 100
    sketch: list[int] = []
    for start in range(0, 50_000, 5_000):  # merging sketches of disjoint parts = sketch of the union
        part = sorted(rollup.unit_hash(f"u{i}", KEY) for i in range(start, start + 5_000))[: rollup.KMV_K]
        sketch = rollup.kmv_merge(sketch, part)
    assert abs(rollup.kmv_estimate(sketch) - 50_000) / 50_000 < 0.2


def _sketch(ids) -> list[int]:
    return sorted(rollup.unit_hash(u, KEY) for u in set(ids))[: rollup.KMV_K]


def test_repeat_users_are_units_that_were_active_in_the_lookback_before_their_bucket():
    history = [_sketch(["u9", "u8"]), _sketch(["u0", "u1"])]  # the two buckets before the range (lookback 2)
    a = _sketch(["u0", "u5", "u8"])  # u0 a bucket ago, u8 two buckets ago: both back
    b = _sketch(["u0", "u1", "u2", "u3", "u9"])  # u0 (a), u1 (history[1]); u9 only 3 buckets ago: not counted
    assert rollup.returning_estimates(history + [a, b, []], 2) == [2.0, 2.0, 0.0]
    # first visits only: nobody came back (the old "2+ days within the bucket" counted nothing at a 1-day step)
    assert rollup.returning_estimates([[], _sketch(["x", "y"])], 1) == [0.0]
    with pytest.raises(ValueError, match="lookback"):
        rollup.returning_estimates([a], 0)


def test_repeat_users_estimate_stays_close_when_buckets_overflow_the_sketch():
    before = _sketch(f"u{i}" for i in range(5_000))
    now = _sketch(f"u{i}" for i in range(3_000, 8_000))  # 2,000 of its 5,000 units came back
    [est] = rollup.returning_estimates([before, now], 1)
    assert est is not None and abs(est - 2_000) / 2_000 < 0.2
    # a small bucket after a huge one: too few of its units fall under the huge bucket's cover to tell
    huge = _sketch(f"h{i}" for i in range(200_000))
    assert rollup.returning_estimates([huge, _sketch(["a", "b", "c"])], 1) == [None]
    # ... whereas below 256 units per bucket the answer is exact, however many buckets there are
    days = [_sketch(f"d{d}-{i}" for i in range(200)) for d in range(5)]
    days.append(_sketch([f"d{d}-{i}" for d in range(5) for i in range(10)] + ["new"]))
    assert rollup.returning_estimates(days, 5) == [50.0]


def _returning_reference(sketches, lookback, k=rollup.KMV_K):
    """returning_estimates' rule written out with sets, one bucket at a time."""
    limit = 1 << rollup.HASH_BITS
    covers = [s[-1] if len(s) >= k else limit for s in sketches]
    out = []
    for i in range(lookback, len(sketches)):
        if not sketches[i]:
            out.append(0.0)
            continue
        cover = min(covers[i - lookback:i])
        earlier = set().union(*map(set, sketches[i - lookback:i]))
        sampled = [h for h in sketches[i] if h <= cover]
        if not sampled:
            out.append(None)
            continue
        units = rollup.kmv_estimate(sketches[i])
        out.append(float(round(units * sum(h in earlier for h in sampled) / len(sampled))))
    return out


@pytest.mark.parametrize("n_buckets", [12, 2100])  # packed-key sort, and the lexsort past 2^11 buckets
def test_repeat_users_agree_with_a_set_reference_on_both_sort_paths(n_buckets):
    rnd = random.Random(n_buckets)
    pool = [rnd.getrandbits(rollup.HASH_BITS) for _ in range(2000)]
    sketches = [sorted(set(rnd.sample(pool, rnd.choice([0, 5, 200, 400]))))[: rollup.KMV_K] for _ in range(n_buckets)]
    assert rollup.returning_estimates(sketches, 6) == _returning_reference(sketches, 6)


def test_union_hashes_and_sparse_quantiles_agree_with_the_plain_computations():
    import heapq

    from takeoff.telemetry import histogram

    rnd = random.Random(7)
    for _ in range(50):
        pool = [rnd.getrandbits(rollup.HASH_BITS) for _ in range(rnd.choice([10, 300, 3000]))]
        parts = [heapq.nsmallest(rollup.KMV_K, set(rnd.sample(pool, rnd.randint(0, len(pool)))))
                 for _ in range(rnd.randint(0, 20))]
        expected = heapq.nsmallest(rollup.KMV_K, set().union(*map(set, parts)))
        assert rollup.union_hashes(parts).tolist() == expected
        assert rollup.union_hashes([struct.pack(f"<{len(p)}q", *p) for p in parts]).tolist() == expected  # packed
        sparse = {str(rnd.randrange(histogram.BUCKET_COUNT)): rnd.randint(1, 50) for _ in range(rnd.randint(1, 40))}
        for q in (0.0, 0.5, 0.95, 0.99, 1.0):
            assert rollup.latency_quantile(sparse, q) == histogram.quantile(rollup.dense_latency(sparse), q)
    assert rollup.latency_quantile({}, 0.5) is None
    zeros = {"3": 0, "40": 2, "7": 0, "12": 5}  # an empty bin kept in the sparse form is skipped, not divided by
    for q in (0.0, 0.5, 1.0):
        assert rollup.latency_quantile(zeros, q) == histogram.quantile(rollup.dense_latency(zeros), q)


def test_target_checks_cover_every_target_kind_and_the_status_rules():
    targets = {"latency_p95_ms": 1000, "max_error_rate": 0.05, "uptime_pct": 95.0, "cost_per_task_usd": 0.01,
               "min_eval_pass_rate": 0.8, "throughput_per_min": 10, "unacceptable_failures": ["PII leak"]}
    good = rollup.Observed(count=100, latency_p95_ms=900.0, error_rate=0.05, cost_per_task_usd=0.01,
                           throughput_per_min=12.0, pass_rate=0.9, error_categories={"timeout": 5})
    checks = rollup.target_checks(targets, good)
    assert sorted(c.target for c in checks) == sorted(rollup.TARGET_KINDS)
    assert all(c.ok for c in checks)  # a rate equal to its target is within it
    assert rollup.target_status(100, targets, checks) == "ok"
    slow = rollup.target_checks(targets, rollup.Observed(**{**good.__dict__, "throughput_per_min": 2.0}))
    assert [c.name for c in slow if not c.ok] == ["throughput"]
    assert rollup.target_status(100, targets, slow) == "below target"  # adoption missed is not a breach
    bad = rollup.Observed(**{**good.__dict__, "error_rate": 0.06, "error_categories": {" pii leak": 1}})
    failed = {c.name for c in rollup.target_checks(targets, bad) if not c.ok}
    assert failed == {"error rate", "uptime", "unacceptable failures"}
    assert rollup.target_status(100, targets, rollup.target_checks(targets, bad)) == "breach"
    assert rollup.target_status(0, targets, []) == "no telemetry"
    assert rollup.target_status(5, {}, rollup.target_checks({}, good)) == "no targets"
    unmeasured = rollup.target_checks({"latency_p95_ms": 100}, rollup.Observed(count=5))
    assert unmeasured == [] and rollup.target_status(5, {"latency_p95_ms": 100}, unmeasured) == "not measured"
    assert rollup.pass_rate({"pass": [4, 3.0, 3.0]}, {"success": 1}) == 0.75
    assert rollup.pass_rate({}, {"success": 3, "failure": 1, "escalated": 9}) == 0.75
    assert rollup.pass_rate({}, {"escalated": 2}) is None


def _events(n, seed=0):
    rnd = random.Random(seed)
    base = 1_700_000_000.0
    return [{"id": str(i), "use_case": "uc", "release": "uc:1", "unit_id": f"u{rnd.randrange(30)}",
             "ts": base + rnd.uniform(0, 3 * 3600), "latency_ms": rnd.uniform(1, 5000),
             "status": rnd.choice(["ok", "ok", "error", "fallback"]), "outcome": rnd.choice([None, "success", "escalated"]),
             "tokens": {"input": 10, "output": 2}, "cost_usd": 0.5, "scores": {"q": rnd.random()},
             "features": {"lang": rnd.choice(["en", "fr"])}, "error_category": None} for i in range(n)]


def test_fold_once_per_grain_and_merges_agree():
    evs = _events(500)
    parts = rollup.fold(evs, key=KEY)
    for grain in rollup.GRAINS:
        rows = [a for (g, *_), a in parts.items() if g == grain]
        total = rollup.merge_many(rows)
        assert total["count"] == 500
        assert sum(total["latency"].values()) == 500
        assert total["outcomes"].get("escalated", 0) == sum(1 for e in evs if e["outcome"] == "escalated")
        assert rollup.kmv_estimate(total["units"]) == len({e["unit_id"] for e in evs})
        assert abs(total["cost_usd"] - 250.0) < 1e-6
        assert abs(total["cost_sq"] - 125.0) < 1e-6  # 500 × 0.5²: the spread canary analysis tests cost with
    split = rollup.fold(evs[:250], key=KEY)
    other = rollup.fold(evs[250:], key=KEY)
    key = next(k for k in split if k[0] == 86400)
    merged = rollup.merge(split[key], other.get(key, rollup.empty()))
    assert merged["count"] == parts[key]["count"] and merged["latency"] == parts[key]["latency"]
    assert abs(merged["cost_sq"] - parts[key]["cost_sq"]) < 1e-9
    assert merged["features"]["lang"]["c"] == parts[key]["features"]["lang"]["c"]
    with pytest.raises(ValueError):
        rollup.fold(evs, grains=(3600,), key=KEY)


def test_metric_values_and_unknown_metric():
    t = rollup.Totals(count=10, errors=2, fallbacks=1, cost_usd=1.0, outcomes={"success": 3, "overridden": 1})
    assert metrics.metric_value("error_rate", t, 60) == 0.2
    assert metrics.metric_value("override_rate", t, 60) == 0.25
    assert metrics.metric_value("throughput", t, 300) == 2.0
    assert metrics.metric_value("latency_p95", t, 60) is None
    assert metrics.metric_value("cost_per_active_user", t, 60) is None
    assert metrics.metric_value("error_rate", rollup.Totals(), 60) is None
    with pytest.raises(ValueError, match="not computed"):  # needs the buckets before it, not one bucket
        metrics.metric_value("repeat_users", t, 60)
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.check_metric("latency_p42x")
    assert metrics.check_metric("quality_faithfulness") == "quality_faithfulness"


def test_parse_time_and_step():
    t = ingest.parse_time("2026-11-25T10:00:00Z", "from")
    assert t == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert ingest.parse_time("2026-11-25T12:00:00 02:00", "from") == t  # '+' decoded as a space in a query string
    assert ingest.parse_time(str(int(t.timestamp())), "to") == t
    assert ingest.parse_time("2026-11-25T10:00:00", "from") == t  # naive means UTC
    for bad in ("", "soon", "nan", "1e30"):
        with pytest.raises(ValueError, match="'from'"):
            ingest.parse_time(bad, "from")
    assert ingest.parse_step("5m") == 300 and ingest.parse_step("1h") == 3600 and ingest.parse_step("120") == 120
    assert ingest.parse_step(None) == 60
    for bad in ("5x", "30", "90s", "-5m", "1000d"):
        with pytest.raises(ValueError, match="'step'"):
            ingest.parse_step(bad)
    assert ingest.release_key("uc", "3") == "uc:3" and ingest.release_key("uc", "uc:3") == "uc:3"
    assert ingest.release_key("uc", None) == ""


def test_cover_uses_coarse_rows_inside_and_fine_rows_at_edges():
    s, e = 86400 * 10 + 3600 * 5 + 125, 86400 * 13 + 3600 * 2 + 30
    parts = _cover(s, e, rollup.GRAINS)
    assert (86400, 86400 * 11, 86400 * 13) in parts
    assert parts[0] == (60, s - 5, 3600 * 6 + 86400 * 10)
    covered = sorted((lo, hi) for _, lo, hi in parts)
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:]))  # contiguous, no double counting


def test_otlp_parse_rejects_bad_bodies_and_maps_deprecated_names():
    with pytest.raises(otlp.OtlpError):
        otlp.parse(b"\x0a\xff\xff", "application/x-protobuf")
    with pytest.raises(otlp.OtlpError):
        otlp.parse(b"{}", "text/html")
    with pytest.raises(otlp.OtlpError):
        otlp.decompress(b"not gzip", "gzip")
    with pytest.raises(otlp.OtlpError):
        otlp.decompress(b"x", "br")
    req = otlp.parse(b'{"resourceSpans": [{"resource": {"attributes": [{"key": "takeoff.use_case", '
                     b'"value": {"stringValue": "uc"}}]}, "scopeSpans": [{"spans": [{"traceId": '
                     b'"0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708", "name": "x", '
                     b'"startTimeUnixNano": "1000000000", "endTimeUnixNano": "1500000000", "attributes": ['
                     b'{"key": "gen_ai.system", "value": {"stringValue": "openai"}}, '
                     b'{"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "7"}}, '
                     b'{"key": "gen_ai.usage.weird.new_thing", "value": {"doubleValue": 1.5}}]}]}]}]}',
                     "application/json")
    events, skipped, refused = otlp.span_events(req)
    assert skipped == 0 and len(events) == 1 and refused == []
    ev = events[0]
    assert ev["use_case"] == "uc" and ev["provider"] == "openai" and ev["tokens"] == {"input": 7}
    # the request id: the end in Unix ms (1,500 = 0x5dc), then the trace id and the span id
    assert ev["latency_ms"] == 500.0 and ev["id"] == "0000000005dc" "0102030405060708090a0b0c0d0e0f100102030405060708"
