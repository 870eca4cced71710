"""Pure rollup logic: fold events into bucket aggregates, merge aggregates, read metrics out of them.

Encodings kept in rollup rows (all JSON, all merge by addition or union):
- latency: sparse {"<fixed bucket index>": n} on takeoff.telemetry.histogram's log-scale bins (most of the 153
  bins are empty in a minute, so the sparse form is ~10x smaller than the dense list).
- scores: {name: [n, sum, sum of squares]} so means and variances merge exactly.
- features: {name: {"b": baseline id (0 = none), "c": counts}}; numeric counts are a list on the baseline's
  edges (len(edges) + 1 bins), categorical counts a dict (at most MAX_CATEGORIES keys, the rest in "__other__").
  Numeric features are binned only once a baseline exists (there are no edges before).
- units: a KMV ("k minimum values") sketch: the KMV_K smallest 52-bit hashes of the unit ids seen. It is exact
  below KMV_K distinct units, about 1/sqrt(KMV_K - 2) ≈ 6 % relative error above, merges across buckets by union,
  and, because a hash among the k smallest of a union is also among the k smallest of every part that holds it,
  it tells exactly which sampled units were active in several days: that is how repeat users are estimated.
  A capped plain set would not merge past its cap, and a HyperLogLog cannot answer the repeat-user question.
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from takeoff.telemetry import histogram

GRAINS = (60, 3600, 86400)  # minute, hour, UTC day: a read uses the coarsest rows that fit
KMV_K = 256
HASH_BITS = 52
MAX_CATEGORIES = 100
OTHER = "__other__"
TOKEN_COLUMNS = ("tokens_input", "tokens_output", "tokens_cache_read", "tokens_cache_write", "tokens_reasoning")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
COUNTERS = ("count", "errors", "fallbacks", "latency_n") + TOKEN_COLUMNS
OUTCOMES = ("success", "failure", "escalated", "overridden")


def unit_hash(unit_id: str) -> int:
    """A stable 52-bit hash of a unit id (fits a JSON number exactly on every platform)."""
    if not isinstance(unit_id, str):
        raise ValueError("unit id must be a string")
    return int.from_bytes(hashlib.blake2b(unit_id.encode(), digest_size=8).digest(), "big") >> (64 - HASH_BITS)


def kmv_merge(a: Iterable[int], b: Iterable[int], k: int = KMV_K) -> list[int]:
    """Union of two KMV sketches keeping the k smallest distinct hashes (sorted)."""
    return heapq.nsmallest(k, set(a) | set(b))


def kmv_estimate(sketch: Sequence[int], k: int = KMV_K) -> int:
    """Distinct units estimated from a KMV sketch: exact when it holds fewer than k hashes."""
    n = len(sketch)
    if n < k:
        return n
    kth = max(sketch)
    return int(round((k - 1) * (1 << HASH_BITS) / (kth + 1)))


def repeat_estimate(day_sketches: Sequence[Sequence[int]], k: int = KMV_K) -> int:
    """Units active on at least two of the given days, estimated from the days' KMV sketches."""
    union: list[int] = []
    for s in day_sketches:
        union = kmv_merge(union, s, k)
    if not union:
        return 0
    sets = [set(s) for s in day_sketches]
    repeat = sum(1 for h in union if sum(1 for s in sets if h in s) >= 2)
    return int(round(kmv_estimate(union, k) * repeat / len(union)))


def empty() -> dict[str, Any]:
    """An empty aggregate with the same keys as a rollup row."""
    agg: dict[str, Any] = {c: 0 for c in COUNTERS}
    agg.update(latency_sum_ms=0.0, cost_usd=0.0, cost_sq=0.0, first_ts=None, last_ts=None, latency={}, outcomes={},
               error_categories={}, scores={}, features={}, units=[])
    return agg


def _bin_feature(spec: Mapping[str, Any] | None, value: Any) -> tuple[str, Any] | None:
    """(kind, bin) of one feature value under a baseline spec; None when it cannot be binned."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, (int, float)):
        if spec is None or spec.get("kind") != "numeric":
            return None
        return "numeric", bisect.bisect_right(spec["edges"], float(value))
    return "categorical", str(value)


def fold(events: Iterable[Mapping[str, Any]], baseline: Mapping[str, Any] | None = None,
         grains: Sequence[int] = GRAINS) -> dict[tuple[int, int, str, str], dict[str, Any]]:
    """Aggregate normalised events (ts in Unix seconds) per (grain, bucket start, use case, release)."""
    if not grains or grains[0] != 60 or any(g % 60 for g in grains):
        raise ValueError("grains must start with 60 s and be whole minutes")
    minutes: dict[tuple[int, int, str, str], dict[str, Any]] = {}
    base_id = int(baseline["id"]) if baseline else 0
    specs: Mapping[str, Any] = baseline["features"] if baseline else {}
    for ev in events:
        ts = float(ev["ts"])
        key = (60, int(ts // 60) * 60, ev["use_case"], ev.get("release") or "")
        agg = minutes.get(key)
        if agg is None:
            agg = minutes[key] = empty()
            agg["_units"] = set()
        _fold_one(agg, ev, ts, base_id, specs)
    for agg in minutes.values():
        agg["units"] = heapq.nsmallest(KMV_K, agg.pop("_units"))
    return coarsen(minutes, grains)


def coarsen(minutes: Mapping[tuple[int, int, str, str], dict[str, Any]], grains: Sequence[int] = GRAINS
            ) -> dict[tuple[int, int, str, str], dict[str, Any]]:
    """Minute partials plus the partials of each coarser grain, summed from the minutes (each event folded once)."""
    out = dict(minutes)
    for grain in grains[1:]:
        for (_, b, uc, rel), agg in minutes.items():
            key = (grain, b // grain * grain, uc, rel)
            out[key] = merge(out[key], agg) if key in out else merge(empty(), agg)
    return out


def _fold_one(agg: dict[str, Any], ev: Mapping[str, Any], ts: float, base_id: int, specs: Mapping[str, Any]) -> None:
    # The ingest hot path (once per event): locals and direct lookups instead of helper calls.
    agg["count"] += 1
    status = ev.get("status")
    if status == "error":
        agg["errors"] += 1
    elif status == "fallback":
        agg["fallbacks"] += 1
    lat = ev.get("latency_ms")
    if lat is not None:
        agg["latency_n"] += 1
        agg["latency_sum_ms"] += float(lat)
        hist = agg["latency"]
        b = _BUCKET_KEYS[histogram.bucket_index(lat)]
        hist[b] = hist.get(b, 0) + 1
    cost = ev.get("cost_usd")
    if cost:
        cost = float(cost)
        agg["cost_usd"] += cost
        agg["cost_sq"] += cost * cost
    tokens = ev.get("tokens")
    if tokens:
        for kind, n in tokens.items():
            col = _TOKEN_COLUMN.get(kind)
            if col is not None and n:
                agg[col] += int(n)
    first = agg["first_ts"]
    if first is None:
        agg["first_ts"] = agg["last_ts"] = ts
    elif ts < first:
        agg["first_ts"] = ts
    elif ts > agg["last_ts"]:
        agg["last_ts"] = ts
    outcome = ev.get("outcome")
    if outcome:
        d = agg["outcomes"]
        d[outcome] = d.get(outcome, 0) + 1
    category = ev.get("error_category")
    if category:
        d = agg["error_categories"]
        d[category] = d.get(category, 0) + 1
    scores = ev.get("scores")
    if scores:
        into = agg["scores"]
        for name, value in scores.items():
            v = float(value)
            sc = into.get(name)
            if sc is None:
                into[name] = [1, v, v * v]
            else:
                sc[0] += 1
                sc[1] += v
                sc[2] += v * v
    features = ev.get("features")
    if features:
        _fold_features(agg["features"], features, base_id, specs)
    unit = ev.get("unit_id")
    if unit:
        agg["_units"].add(_cached_unit_hash(unit))


_BUCKET_KEYS = tuple(str(i) for i in range(histogram.BUCKET_COUNT + 1))  # the sparse histogram's keys, made once
_cached_unit_hash = functools.lru_cache(maxsize=200_000)(unit_hash)  # the same users come back batch after batch


def _fold_features(into: dict[str, Any], features: Mapping[str, Any], base_id: int, specs: Mapping[str, Any]) -> None:
    for name, value in features.items():
        spec = specs.get(name)
        binned = _bin_feature(spec, value)
        if binned is None:
            continue
        kind, where = binned
        entry = into.get(name)
        if kind == "numeric":
            if entry is None:
                entry = into[name] = {"b": base_id, "c": [0] * (len(spec["edges"]) + 1)}  # type: ignore[index]
            entry["c"][where] += 1
        else:
            if entry is None:
                entry = into[name] = {"b": base_id, "c": {}}
            counts = entry["c"]
            if not isinstance(counts, dict):
                continue  # a numeric baseline feature sent as text: not binnable, not a reason to fail
            if where in counts:
                counts[where] += 1
            elif len(counts) < MAX_CATEGORIES:
                counts[where] = 1
            else:
                counts[OTHER] = counts.get(OTHER, 0) + 1


_TOKEN_COLUMN = dict(zip(TOKEN_KINDS, TOKEN_COLUMNS))


def _merge_dict(a: Mapping[str, int], b: Mapping[str, int], cap: int | None = None) -> dict[str, int]:
    out = dict(a)
    for k, n in b.items():
        if cap is not None and k not in out and len(out) >= cap:
            k = OTHER
        out[k] = out.get(k, 0) + int(n)
    return out


def merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Sum two aggregates (row + batch partial, or rows for a query); a newer feature baseline replaces an older."""
    out = dict(a)
    for c in COUNTERS:
        out[c] = int(a.get(c) or 0) + int(b.get(c) or 0)
    out["latency_sum_ms"] = float(a.get("latency_sum_ms") or 0) + float(b.get("latency_sum_ms") or 0)
    out["cost_usd"] = float(a.get("cost_usd") or 0) + float(b.get("cost_usd") or 0)
    out["cost_sq"] = float(a.get("cost_sq") or 0) + float(b.get("cost_sq") or 0)
    firsts = [t for t in (a.get("first_ts"), b.get("first_ts")) if t is not None]
    lasts = [t for t in (a.get("last_ts"), b.get("last_ts")) if t is not None]
    out["first_ts"] = min(firsts) if firsts else None
    out["last_ts"] = max(lasts) if lasts else None
    out["latency"] = _merge_dict(a.get("latency") or {}, b.get("latency") or {})
    out["outcomes"] = _merge_dict(a.get("outcomes") or {}, b.get("outcomes") or {})
    out["error_categories"] = _merge_dict(a.get("error_categories") or {}, b.get("error_categories") or {},
                                          MAX_CATEGORIES)
    scores = {k: list(v) for k, v in (a.get("scores") or {}).items()}
    for name, (n, s, ss) in (b.get("scores") or {}).items():
        cur = scores.setdefault(name, [0, 0.0, 0.0])
        scores[name] = [cur[0] + n, cur[1] + s, cur[2] + ss]
    out["scores"] = scores
    feats = {k: dict(v) for k, v in (a.get("features") or {}).items()}
    for name, entry in (b.get("features") or {}).items():
        cur = feats.get(name)
        if cur is None or cur["b"] < entry["b"] or type(cur["c"]) is not type(entry["c"]):
            feats[name] = {"b": entry["b"], "c": entry["c"]}
        elif cur["b"] > entry["b"]:
            continue
        elif isinstance(cur["c"], dict):
            feats[name] = {"b": cur["b"], "c": _merge_dict(cur["c"], entry["c"], MAX_CATEGORIES)}
        elif len(cur["c"]) == len(entry["c"]):
            feats[name] = {"b": cur["b"], "c": [x + y for x, y in zip(cur["c"], entry["c"])]}
    out["features"] = feats
    out["units"] = kmv_merge(a.get("units") or [], b.get("units") or [])
    return out


def merge_many(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum many aggregates at once (query side): same result as folding merge() over them, without the
    per-row copies, so a 30-day read of hourly rows stays a few milliseconds."""
    out = empty()
    units: set[int] = set()
    latency: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    categories: dict[str, int] = {}
    scores: dict[str, list[float]] = {}
    features: dict[str, Any] = {}
    for r in rows:
        for c in COUNTERS:
            out[c] += int(r.get(c) or 0)
        out["latency_sum_ms"] += float(r.get("latency_sum_ms") or 0)
        out["cost_usd"] += float(r.get("cost_usd") or 0)
        out["cost_sq"] += float(r.get("cost_sq") or 0)
        for t, pick in (("first_ts", min), ("last_ts", max)):
            if r.get(t) is not None:
                out[t] = r[t] if out[t] is None else pick(out[t], r[t])
        for src, dst in ((r.get("latency"), latency), (r.get("outcomes"), outcomes),
                         (r.get("error_categories"), categories)):
            for k, n in (src or {}).items():
                dst[k] = dst.get(k, 0) + n
        for name, (n, sm, sq) in (r.get("scores") or {}).items():
            cur = scores.get(name)
            if cur is None:
                scores[name] = [n, sm, sq]
            else:
                cur[0] += n
                cur[1] += sm
                cur[2] += sq
        if r.get("features"):
            features = merge({"features": features}, {"features": r["features"]})["features"]
        if r.get("units"):
            units.update(r["units"])
    out.update(latency=latency, outcomes=outcomes, scores=scores, features=features,
               units=heapq.nsmallest(KMV_K, units))
    if len(categories) > MAX_CATEGORIES:
        top = sorted(categories.items(), key=lambda kv: -kv[1])
        categories = dict(top[:MAX_CATEGORIES])
        categories[OTHER] = categories.get(OTHER, 0) + sum(n for _, n in top[MAX_CATEGORIES:])
    out["error_categories"] = categories
    return out


def dense_latency(sparse: Mapping[str, int]) -> list[int]:
    """The fixed-bin latency list (histogram.BUCKET_COUNT long) of a sparse rollup histogram."""
    out = [0] * histogram.BUCKET_COUNT
    for i, n in sparse.items():
        out[int(i)] += int(n)
    return out


@dataclass
class Totals:
    """Additive totals read from rollup rows for one query bucket."""

    count: int = 0
    errors: int = 0
    fallbacks: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    latency: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    units: set[int] = field(default_factory=set)
    day_units: dict[int, set[int]] = field(default_factory=dict)


METRICS = ("latency_p50", "latency_p95", "latency_p99", "throughput", "error_rate", "fallback_rate", "tokens",
           "cost_per_task", "cost_per_active_user", "override_rate", "escalation_rate", "active_users",
           "repeat_users")
METRIC_HELP = {
    "latency_p50": "median latency, ms", "latency_p95": "95th percentile latency, ms",
    "latency_p99": "99th percentile latency, ms", "throughput": "events per minute",
    "error_rate": "errors / events", "fallback_rate": "fallbacks / events", "tokens": "input + output tokens",
    "cost_per_task": "USD per event", "cost_per_active_user": "USD per distinct active unit",
    "override_rate": "overridden / events with an outcome", "escalation_rate": "escalated / events with an outcome",
    "active_users": "distinct units (approximate above 256)",
    "repeat_users": "units active on 2+ UTC days within the bucket",
    "quality_<name>": "mean of the quality score <name>",
}


def check_metric(metric: str) -> str:
    """The metric name if known (quality_<score> is open-ended), else ValueError listing the names."""
    if not isinstance(metric, str) or not (metric in METRICS or (metric.startswith("quality_") and len(metric) > 8)):
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}, quality_<score name>")
    return metric


def metric_value(metric: str, t: Totals, step_s: int) -> float | None:
    """The value of one metric for one query bucket; None where a ratio or quantile has no data."""
    if metric == "throughput":
        return t.count / (step_s / 60.0)
    if metric == "tokens":
        return float(t.tokens)
    if metric == "active_users":
        return float(kmv_estimate(heapq.nsmallest(KMV_K, t.units)))
    if metric == "repeat_users":
        return float(repeat_estimate([heapq.nsmallest(KMV_K, d) for d in t.day_units.values()]))
    if metric.startswith("latency_p"):
        if not t.latency:
            return None
        return histogram.quantile(dense_latency(t.latency), int(metric[len("latency_p"):]) / 100.0)
    if metric.startswith("quality_"):
        s = t.scores.get(metric[len("quality_"):])
        return s[1] / s[0] if s and s[0] else None
    if metric in ("override_rate", "escalation_rate"):
        with_outcome = sum(t.outcomes.values())
        key = "overridden" if metric == "override_rate" else "escalated"
        return t.outcomes.get(key, 0) / with_outcome if with_outcome else None
    if metric == "cost_per_active_user":
        users = kmv_estimate(heapq.nsmallest(KMV_K, t.units))
        return t.cost_usd / users if users else None
    if t.count == 0:
        return None
    if metric == "error_rate":
        return t.errors / t.count
    if metric == "fallback_rate":
        return t.fallbacks / t.count
    if metric == "cost_per_task":
        return t.cost_usd / t.count
    raise ValueError(f"unknown metric {metric!r}")
