"""Pure rollup logic: fold events into bucket aggregates, merge aggregates, read metrics out of them.

Over ~400 lines on purpose: one rollup row encoding, whose fold, merge and read must change together, with the
scale-target checks read from it.

Encodings kept in rollup rows (all JSON, all merge by addition or union):
- latency: sparse {"<fixed bucket index>": n} on takeoff.telemetry.histogram's log-scale bins (most of the 153
  bins are empty in a minute, so the sparse form is ~10x smaller than the dense list).
- scores: {name: [n, sum, sum of squares]} so means and variances merge exactly.
- features: {name: {"b": baseline id (0 = none), "c": counts}}; numeric counts are a list on the baseline's
  edges (len(edges) + 1 bins), categorical counts a dict (at most MAX_CATEGORIES keys, the rest in "__other__").
  Numeric features are binned only once a baseline exists (there are no edges before).
- units: a KMV ("k minimum values") sketch: the KMV_K smallest 52-bit keyed hashes of the unit ids seen (keyed by
  the server secret, `unit_key`, so a sketch cannot be matched against a list of known ids). It is exact
  below KMV_K distinct units, about 1/sqrt(KMV_K - 2) ≈ 6 % relative error above, merges across buckets by union,
  and, because a hash at or below a sketch's largest (or in a sketch that is not full) is in the sketch exactly
  when its unit is in that part, it tells which sampled units were also active earlier: that is how repeat
  (returning) users are estimated (`returning_estimates`).
  A capped plain set would not merge past its cap, and a HyperLogLog cannot answer the repeat-user question.

The scale-target rules (`target_checks`, `target_status`) live here too: they compare these metrics with a use
case's targets and are pure, so the overview and its tests share them.

Why one module of about 600 lines: fold (ingest), merge (compaction and reads) and Totals (series) must agree on
one encoding, and they are read together; the metric definitions are `metrics.py`'s.
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from takeoff.sdk.tracking import TOKEN_KINDS
from takeoff.telemetry import histogram

GRAINS = (60, 3600, 86400)  # minute, hour, UTC day: a read uses the coarsest rows that fit
KMV_K = 256
HASH_BITS = 52
MAX_CATEGORIES = 100
OTHER = "__other__"
TOKEN_COLUMNS = tuple(f"tokens_{kind}" for kind in TOKEN_KINDS)  # the SDK's token kinds, one rollup column each
COUNTERS = ("count", "errors", "fallbacks", "latency_n") + TOKEN_COLUMNS


@functools.lru_cache(maxsize=8)
def unit_key(secret_key: str) -> bytes:
    """The key of unit-id hashes, derived from the server secret (Settings.resolved_secret_key) for this one purpose,
    so a stored sketch cannot be matched against the hashes of a list of known user ids without the secret."""
    if not isinstance(secret_key, str) or len(secret_key) < 8:
        raise ValueError("the secret key must be text of at least 8 characters")
    return hashlib.blake2b(secret_key.encode(), digest_size=32, person=b"takeoff-unit-v1").digest()


def unit_hash(unit_id: str, key: bytes) -> int:
    """A stable, keyed 52-bit hash of a unit id (fits a JSON number exactly on every platform); `key` is
    `unit_key(secret)`: the same id hashes alike on one server and unrelatedly under another secret."""
    if not isinstance(unit_id, str):
        raise ValueError("unit id must be a string")
    if not isinstance(key, bytes) or not 16 <= len(key) <= 64:
        raise ValueError("unit hashes need a key of 16-64 bytes (rollup.unit_key of the server secret)")
    return int.from_bytes(hashlib.blake2b(unit_id.encode(), digest_size=8, key=key).digest(), "big") >> (64 - HASH_BITS)


def kmv_merge(a: Iterable[int], b: Iterable[int], k: int = KMV_K) -> list[int]:
    """Union of two KMV sketches keeping the k smallest distinct hashes (sorted)."""
    return heapq.nsmallest(k, set(a) | set(b))


def kmv_estimate(sketch: Sequence[int], k: int = KMV_K) -> int:
    """Distinct units estimated from a KMV sketch: exact when it holds fewer than k hashes."""
    n = len(sketch)
    if n < k:
        return n
    kth = int(sketch[-1])  # sketches are sorted: every producer (fold, kmv_merge, union_hashes) returns them so
    return int(round((k - 1) * (1 << HASH_BITS) / (kth + 1)))


def as_hashes(sketch: Sequence[int] | bytes) -> np.ndarray:
    """A sketch as an int64 array: a rollup row's packed bytes (read without unpacking to a list), or a list."""
    if isinstance(sketch, (bytes, memoryview)):
        return np.frombuffer(sketch, dtype="<i8")
    return np.asarray(sketch, dtype=np.int64)


def union_hashes(sketches: Iterable[Sequence[int] | bytes], k: int = KMV_K) -> np.ndarray:
    """The KMV sketch of the union of parts from the parts' sorted sketches (a sorted int64 array). Only hashes at
    or below the smallest largest hash of a full part can be among the union's k smallest, so the rest is dropped
    before the sort; past 4k hashes a partition keeps the 4k smallest, which usually hold k distinct ones (one unit
    is in several parts)."""
    parts = [as_hashes(s) for s in sketches if len(s)]
    if len(parts) <= 1:
        return parts[0][:k] if parts else np.empty(0, dtype=np.int64)
    cover = min((int(s[-1]) for s in parts if len(s) >= k), default=_NO_COVER_LIMIT)
    hashes = np.concatenate(parts)
    hashes = hashes[hashes <= cover]
    if len(hashes) > 4 * k:
        few = _distinct_sorted(np.partition(hashes, 4 * k)[:4 * k])
        if len(few) >= k:
            return few[:k]
    return _distinct_sorted(hashes)[:k]


def _distinct_sorted(hashes: np.ndarray) -> np.ndarray:
    """The distinct values of an int array, sorted (a sort and a neighbour compare: faster than np.unique here)."""
    if not len(hashes):
        return hashes
    ordered = np.sort(hashes)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def returning_estimates(sketches: Sequence[Sequence[int]], lookback: int, k: int = KMV_K) -> list[float | None]:
    """Repeat users per bucket: of the units in bucket i, how many were also active in the `lookback` buckets
    before it; `sketches` are the buckets' KMV sketches in time order, the first `lookback` of them only history.

    A unit's presence in an earlier bucket can be read from that bucket's sketch only for hashes at or below its
    largest hash (all hashes when it is not full), so bucket i is sampled by its hashes at or below the smallest
    such cover in its lookback: exact while every bucket holds fewer than k units, a hash-threshold sample of
    bucket i's units otherwise (fewer sampled units, so a wider error, when an earlier bucket is much busier).
    None where that sample is empty (too few of bucket i's units fall under the cover to tell)."""
    if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 1:
        raise ValueError(f"lookback must be an integer >= 1, got {lookback!r}")
    arrays = [as_hashes(s) for s in sketches]
    sizes = [len(s) for s in arrays]
    hashes = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)
    starts = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
    covers = [_NO_COVER_LIMIT] * len(sketches)  # a bucket's cover: its largest hash when full
    if any(n >= k for n in sizes):
        filled = [i for i, n in enumerate(sizes) if n]  # consecutive segments of the hash array, one per bucket
        for i, top in zip(filled, np.maximum.reduceat(hashes, starts[filled]).tolist()):
            if sizes[i] >= k:
                covers[i] = top
    window_cover = _sliding_min(covers, lookback)  # per bucket: the smallest cover of the lookback before it
    # every (hash, bucket) pair, sorted by hash then bucket: a hash's previous bucket is the pair before it
    buckets = np.repeat(np.arange(len(sketches), dtype=np.int64), sizes)
    if len(sketches) <= 1 << _BUCKET_BITS:  # one int64 key per pair, hash above bucket: a plain sort, ~3x lexsort's
        keys = np.sort((hashes << _BUCKET_BITS) | buckets)
        hashes, buckets = keys >> _BUCKET_BITS, keys & ((1 << _BUCKET_BITS) - 1)
    else:
        order = np.lexsort((buckets, hashes))
        hashes, buckets = hashes[order], buckets[order]
    previous = np.full(len(hashes), -(1 << 62), dtype=np.int64)
    same = hashes[1:] == hashes[:-1]
    previous[1:][same] = buckets[:-1][same]
    sampled = hashes <= np.asarray(window_cover, dtype=np.int64)[buckets]
    came_back = sampled & (previous >= buckets - lookback)
    n_sampled = np.bincount(buckets[sampled], minlength=len(sketches)).tolist()
    n_back = np.bincount(buckets[came_back], minlength=len(sketches)).tolist()
    out: list[float | None] = []
    for i in range(lookback, len(sketches)):
        if not sizes[i]:
            out.append(0.0)
        elif not n_sampled[i]:
            out.append(None)
        else:
            units = sizes[i] if sizes[i] < k else int(round((k - 1) * (1 << HASH_BITS) / (covers[i] + 1)))
            out.append(float(round(units * n_back[i] / n_sampled[i])))
    return out


def _sliding_min(values: Sequence[int], width: int) -> list[int]:
    """out[i] = min(values[i - width:i]) (the limit itself when that is empty), by a monotonic deque."""
    out: list[int] = []
    window: deque[int] = deque()  # indices whose values increase: the front is the window's minimum
    for i, v in enumerate(values):
        while window and window[0] < i - width:
            window.popleft()
        out.append(values[window[0]] if window else _NO_COVER_LIMIT)
        while window and values[window[-1]] >= v:
            window.pop()
        window.append(i)
    return out


_NO_COVER_LIMIT = 1 << HASH_BITS  # above every hash: a sketch that is not full holds every unit of its bucket
_BUCKET_BITS = 63 - HASH_BITS  # bucket indices packed under a hash in returning_estimates' sort keys


# The violations key that counts resolved safety findings (takeoff.review: a reviewer handled them, or an incident
# linking the request was resolved), added to the request's own minute so "detected" and "resolved" sit side by side.
RESOLVED_VIOLATIONS = "resolved"


def violation_key(stage: str, detector: str, action: str) -> str:
    """How a rollup counts one safety finding: by stage, detector and the action taken."""
    return f"{stage}:{detector}:{action}"


def model_key(provider: str | None, model: str) -> str:
    """How a rollup counts a request's model: "provider/model" ("/model" when the provider is unknown)."""
    return f"{provider or ''}/{model}"


def split_model_key(key: str) -> tuple[str | None, str]:
    """(provider, model) of a model_key (OTHER, the capped rest, has no provider)."""
    provider, sep, model = key.partition("/")
    return (provider or None, model) if sep else (None, key)


def empty() -> dict[str, Any]:
    """An empty aggregate with the same keys as a rollup row."""
    agg: dict[str, Any] = {c: 0 for c in COUNTERS}
    agg.update(latency_sum_ms=0.0, cost_usd=0.0, cost_sq=0.0, first_ts=None, last_ts=None, latency={}, outcomes={},
               error_categories={}, scores={}, features={}, units=[], dropped={}, violations={}, models={})
    return agg


def add_drops(partials: dict[tuple[int, int, str, str], dict[str, Any]], dropped: Iterable[Mapping[str, Any]],
              now_s: float) -> None:
    """Add SDK drop reports ({use_case, release, reason, count}) into the minute partials of now_s, each (use case,
    release) partial's `dropped` {reason: events}; the reports' events never arrived, so nothing else changes."""
    minute = int(now_s // 60) * 60
    for d in dropped:
        counts = partials.setdefault((60, minute, d["use_case"], d.get("release") or ""), empty())["dropped"]
        counts[d["reason"]] = counts.get(d["reason"], 0) + int(d["count"])


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
         grains: Sequence[int] = GRAINS, *, key: bytes) -> dict[tuple[int, int, str, str], dict[str, Any]]:
    """Aggregate normalised events (ts in Unix seconds) per (grain, bucket start, use case, release); unit ids are
    hashed with `key` (unit_key of the server secret)."""
    if not grains or grains[0] != 60 or any(g % 60 for g in grains):
        raise ValueError("grains must start with 60 s and be whole minutes")
    unit_hash("", key)  # refuses a missing or malformed key before any event is folded
    minutes: dict[tuple[int, int, str, str], dict[str, Any]] = {}
    base_id = int(baseline["id"]) if baseline else 0
    specs: Mapping[str, Any] = baseline["features"] if baseline else {}
    for ev in events:
        ts = float(ev["ts"])
        bucket = (60, int(ts // 60) * 60, ev["use_case"], ev.get("release") or "")
        agg = minutes.get(bucket)
        if agg is None:
            agg = minutes[bucket] = empty()
            agg["_units"] = set()
        _fold_one(agg, ev, ts, base_id, specs, key)
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


def _fold_one(agg: dict[str, Any], ev: Mapping[str, Any], ts: float, base_id: int, specs: Mapping[str, Any],
              key: bytes) -> None:
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
    model = ev.get("model")
    if model:  # requests by "provider/model" (tele0010): dashboards split by model from rollups
        d = agg["models"]
        k = model_key(ev.get("provider"), model)
        d[k] = d.get(k, 0) + 1
    violations = ev.get("violations")
    if violations:  # "stage:detector:action" -> findings (safety filters, takeoff.sdk.safety)
        d = agg["violations"]
        for v in violations:
            k = violation_key(v["stage"], v["detector"], v["action"])
            d[k] = d.get(k, 0) + 1
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
        agg["_units"].add(_cached_unit_hash(unit, key))


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
    out["dropped"] = _merge_dict(a.get("dropped") or {}, b.get("dropped") or {}, MAX_CATEGORIES)
    out["violations"] = _merge_dict(a.get("violations") or {}, b.get("violations") or {}, MAX_CATEGORIES)
    out["models"] = _merge_dict(a.get("models") or {}, b.get("models") or {}, MAX_CATEGORIES)
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
    dropped: dict[str, int] = {}
    violations: dict[str, int] = {}
    models: dict[str, int] = {}
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
                         (r.get("error_categories"), categories), (r.get("dropped"), dropped),
                         (r.get("violations"), violations), (r.get("models"), models)):
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
               units=heapq.nsmallest(KMV_K, units), error_categories=_capped(categories), dropped=_capped(dropped),
               violations=_capped(violations), models=_capped(models))
    return out


def _capped(counts: dict[str, int]) -> dict[str, int]:
    """At most MAX_CATEGORIES keys: the largest counts, the rest summed under OTHER."""
    if len(counts) <= MAX_CATEGORIES:
        return counts
    top = sorted(counts.items(), key=lambda kv: -kv[1])
    out = dict(top[:MAX_CATEGORIES])
    out[OTHER] = out.get(OTHER, 0) + sum(n for _, n in top[MAX_CATEGORIES:])
    return out


def latency_cdf(sparse: Mapping[str, int]) -> tuple[list[int], list[int]]:
    """The non-empty bins of a sparse rollup histogram, sorted, and their cumulative counts (read once per point:
    the dashboard takes three quantiles of each). The loops run in C: a key table instead of int() per key."""
    if 0 in sparse.values():
        sparse = {key: n for key, n in sparse.items() if n}
    keys = sorted(sparse, key=_LATENCY_BIN.__getitem__)
    return list(map(_LATENCY_BIN.__getitem__, keys)), list(itertools.accumulate(map(sparse.__getitem__, keys)))


_LATENCY_BIN = {str(i): i for i in range(histogram.BUCKET_COUNT)}  # a sparse histogram's key -> its bin


def quantile_of_cdf(bins: Sequence[int], cumulative: Sequence[int], q: float) -> float | None:
    """histogram.quantile from latency_cdf's output: a bisection instead of a walk over the bins."""
    if not cumulative:
        return None
    target = float(q) * cumulative[-1]
    k = min(bisect.bisect_left(cumulative, target), len(bins) - 1)
    i, before = bins[k], (cumulative[k - 1] if k else 0)
    frac = (target - before) / (cumulative[k] - before)
    if i == 0:
        return frac * histogram.LATENCY_MIN_MS
    if i == histogram.BUCKET_COUNT - 1:
        return histogram.LATENCY_EDGES_MS[-1]
    lo, hi = histogram.LATENCY_EDGES_MS[i - 1], histogram.LATENCY_EDGES_MS[i]
    return lo * (hi / lo) ** frac


def latency_quantile(sparse: Mapping[str, int], q: float) -> float | None:
    """histogram.quantile of a sparse rollup histogram, without building the dense list."""
    return quantile_of_cdf(*latency_cdf(sparse), q)


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
    dropped: int = 0  # events SDKs reported dropping before delivery
    unit_rows: list[Sequence[int] | bytes] = field(default_factory=list)  # the rows' sketches (packed or lists)
    error_categories: dict[str, int] = field(default_factory=dict)
    violations: dict[str, int] = field(default_factory=dict)  # "stage:detector:action" -> safety findings
    models: dict[str, int] = field(default_factory=dict)  # "provider/model" -> requests (tele0010)
    known_units: int | None = None  # distinct units already estimated (a window's totals carry no sketch)
    _sketch: np.ndarray | None = field(default=None, repr=False, compare=False)
    _units: int | None = field(default=None, repr=False, compare=False)
    _latency: tuple[list[int], list[int]] | None = field(default=None, repr=False, compare=False)

    def latency_cdf(self) -> tuple[list[int], list[int]]:
        """latency_cdf of the bucket's histogram (computed once: three quantiles read it)."""
        if self._latency is None:
            self._latency = latency_cdf(self.latency)
        return self._latency

    def unit_sketch(self) -> np.ndarray:
        """The KMV sketch of the bucket's units as an int64 array (computed once: several metrics read it); a
        bucket of one row is that row's sketch, with no merge."""
        if self._sketch is None:
            rows = self.unit_rows
            self._sketch = as_hashes(rows[0]) if len(rows) == 1 else union_hashes(rows)
        return self._sketch

    def active_units(self) -> int:
        """Distinct units of the bucket, estimated from its sketch (computed once)."""
        if self.known_units is not None:
            return self.known_units
        if self._units is None:
            self._units = kmv_estimate(self.unit_sketch())
        return self._units


QUALITY_ALL = "quality_*"  # in a dashboard read: one quality_<score> per score name present


# ---------------------------------------------------------------------------------------------- scale targets
@dataclass(frozen=True)
class Observed:
    """What a window's rollups show, in the units of the scale targets (None: nothing to measure it by)."""

    count: int = 0
    latency_p95_ms: float | None = None
    error_rate: float | None = None
    cost_per_task_usd: float | None = None
    throughput_per_min: float | None = None  # the busiest whole hour's events per minute
    pass_rate: float | None = None  # mean of the "pass" score, else success / (success + failure)
    error_categories: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetCheck:
    """One scale target against what telemetry shows; an adoption target missed is "below target", not a breach."""

    name: str
    target: str  # the portfolio.schemas.ScaleTargets field
    observed: float | None
    limit: Any
    ok: bool
    guardrail: bool = True


TARGET_KINDS = ("latency_p95_ms", "max_error_rate", "uptime_pct", "cost_per_task_usd", "min_eval_pass_rate",
                "throughput_per_min", "unacceptable_failures")


def quality_good_total(scores: Mapping[str, Sequence[float]], outcomes: Mapping[str, int],
                       score: str = "pass") -> tuple[float, float]:
    """(good, total) answers of a window: a 0..1 score (the "pass" score unless the use case's quality SLO names
    another, such as an online evaluator's) when one is sent, else success vs failure outcomes (the monitoring
    quality SLO and the overview's pass rate both read this)."""
    s = scores.get(score)
    if s and s[0]:
        return max(0.0, min(float(s[1]), float(s[0]))), float(s[0])
    success, failure = outcomes.get("success", 0), outcomes.get("failure", 0)
    return float(success), float(success + failure)


def pass_rate(scores: Mapping[str, Sequence[float]], outcomes: Mapping[str, int]) -> float | None:
    """The share of good answers (quality_good_total), or None when nothing says."""
    good, total = quality_good_total(scores, outcomes)
    return good / total if total else None


def _at_most(x: float, limit: float) -> bool:
    return x <= limit + 1e-9 * max(1.0, abs(limit))  # a rate equal to its target is within it


def target_checks(targets: Mapping[str, Any], seen: Observed) -> list[TargetCheck]:
    """Every scale target that the window can be measured against, each with its verdict."""
    checks: list[TargetCheck] = []

    def add(name: str, kind: str, observed: float | None, ok: Any, guardrail: bool = True) -> None:
        limit = targets.get(kind)
        if limit is not None and observed is not None:
            checks.append(TargetCheck(name, kind, observed, limit, bool(ok(observed, float(limit))), guardrail))

    add("latency p95", "latency_p95_ms", seen.latency_p95_ms, _at_most)
    add("error rate", "max_error_rate", seen.error_rate, _at_most)
    add("uptime", "uptime_pct", None if seen.error_rate is None else 100.0 * (1.0 - seen.error_rate),
        lambda up, limit: _at_most(100.0 - up, 100.0 - limit))
    add("cost per task", "cost_per_task_usd", seen.cost_per_task_usd, _at_most)
    add("eval pass rate", "min_eval_pass_rate", seen.pass_rate, lambda x, limit: _at_most(-x, -limit))
    add("throughput", "throughput_per_min", seen.throughput_per_min, lambda x, limit: _at_most(-x, -limit),
        guardrail=False)
    unacceptable = {str(c).strip().lower() for c in targets.get("unacceptable_failures") or []}
    if unacceptable and seen.count:
        n = sum(c for cat, c in seen.error_categories.items() if cat.strip().lower() in unacceptable)
        checks.append(TargetCheck("unacceptable failures", "unacceptable_failures", float(n),
                                  sorted(unacceptable), n == 0))
    return checks


def target_status(count: int, targets: Mapping[str, Any], checks: Sequence[TargetCheck]) -> str:
    """The overview's verdict: no telemetry, breach (a guardrail missed), below target (adoption), ok,
    not measured (targets set, but nothing in the window measures them) or no targets."""
    if not count:
        return "no telemetry"
    if any(not c.ok and c.guardrail for c in checks):
        return "breach"
    if any(not c.ok for c in checks):
        return "below target"
    if checks:
        return "ok"
    return "not measured" if any(targets.get(k) not in (None, []) for k in TARGET_KINDS) else "no targets"
