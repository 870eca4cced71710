"""Canary analysis: compare a release in canary with production on its guardrails, from rollup sums only.

Each guardrail has a test suited to its metric and a tolerance (how much worse is acceptable); a guardrail is
breached only when the canary is worse by more than the tolerance AND the test says it is significantly worse,
so noise alone never blocks a release and a real regression always needs evidence.

  error_rate     two-proportion z-test (one-sided) on errors / requests; breach if rate rises > max_increase
  latency_p95    quantile read from the fixed latency histograms; breach if canary p95 > production p95 x
                 (1 + tolerance) and the share of canary requests beyond production's p95 bucket is
                 significantly larger than production's own share (two-proportion test)
  quality_score  Welch t-test from n, sum, sum of squares; breach if the mean drops by > max_decrease
  cost_per_task  Welch t-test from n, sum, sum of squares; breach if the mean rises by > max_increase (relative)

Stats of one side (canary or production), as rolled up: ``{"requests": int, "errors": int,
"latency_histogram": [BUCKET_COUNT ints], "quality": {"n", "sum", "sum_sq"}, "cost": {"n", "sum", "sum_sq"}}``.
Either side with fewer than ``min_sample`` observations for a guardrail gives ``not_enough_data`` for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scipy import stats

from takeoff.telemetry.histogram import BUCKET_COUNT, LATENCY_EDGES_MS, check_latency_counts, quantile

VerdictStatus = Literal["safe_to_promote", "breach", "not_enough_data"]
CheckStatus = Literal["ok", "breach", "not_enough_data"]

DEFAULT_MIN_SAMPLE: int = 500
DEFAULT_GUARDRAILS: dict[str, dict[str, float]] = {
    "error_rate": {"max_increase": 0.005, "alpha": 0.05},  # absolute: 0.5 percentage points
    "latency_p95": {"tolerance": 0.10, "alpha": 0.05, "q": 0.95},  # relative: 10 % slower (> one bucket)
    "quality_score": {"max_decrease": 0.02, "alpha": 0.05},  # absolute, on the score's own scale
    "cost_per_task": {"max_increase": 0.10, "alpha": 0.05},  # relative: 10 % dearer
}
_METRIC_SOURCE = {"error_rate": "requests", "latency_p95": "latency_histogram", "quality_score": "quality",
                  "cost_per_task": "cost"}


@dataclass(frozen=True)
class TestResult:
    """Outcome of a one-sided test that the canary is worse than production."""

    statistic: float
    p_value: float
    canary_value: float
    production_value: float


@dataclass(frozen=True)
class GuardrailCheck:
    """One guardrail's comparison: status, both values and a readable detail."""

    metric: str
    status: CheckStatus
    canary_value: float | None
    production_value: float | None
    p_value: float | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    """Canary verdict; ``breaches`` holds (metric, canary value, production value, detail) per breached guardrail."""

    status: VerdictStatus
    breaches: list[tuple[str, float, float, str]] = field(default_factory=list)
    checks: list[GuardrailCheck] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"status": self.status, "breaches": [list(b) for b in self.breaches],
                "checks": [asdict(c) for c in self.checks]}


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer() or value < 0:
        raise ValueError(f"{what} must be a whole number >= 0, got {value!r}")
    return int(value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def two_proportion_test(events_a: int, n_a: int, events_b: int, n_b: int) -> TestResult:
    """One-sided pooled z-test that the event rate of a (canary) is higher than that of b (production)."""
    xa, na = _count(events_a, "canary events"), _count(n_a, "canary sample size")
    xb, nb = _count(events_b, "production events"), _count(n_b, "production sample size")
    if xa > na or xb > nb:
        raise ValueError("events cannot exceed the sample size")
    if na == 0 or nb == 0:
        raise ValueError("both samples must be non-empty for a two-proportion test")
    pa, pb = xa / na, xb / nb
    pooled = (xa + xb) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    if se == 0:  # both rates 0 % or both 100 %: identical, nothing to test
        return TestResult(0.0, 1.0, pa, pb)
    z = (pa - pb) / se
    return TestResult(z, float(stats.norm.sf(z)), pa, pb)


def _moments(m: Any, what: str) -> tuple[int, float, float]:
    if not isinstance(m, Mapping) or not {"n", "sum", "sum_sq"} <= set(m):
        raise ValueError(f"{what} must be a mapping with n, sum and sum_sq")
    n = _count(m["n"], f"{what} n")
    s, ss = _number(m["sum"], f"{what} sum"), _number(m["sum_sq"], f"{what} sum_sq")
    if ss < 0:
        raise ValueError(f"{what} sum_sq must not be negative")
    return n, s, ss


def mean_compare(
    canary: Mapping[str, float], production: Mapping[str, float], higher_is_worse: bool = True
) -> TestResult:
    """One-sided Welch t-test from n, sum and sum of squares that the canary's mean is worse than production's."""
    n1, s1, ss1 = _moments(canary, "canary moments")
    n2, s2, ss2 = _moments(production, "production moments")
    if n1 < 2 or n2 < 2:
        raise ValueError("each side needs at least 2 observations to compare means")
    m1, m2 = s1 / n1, s2 / n2
    v1 = max(ss1 - n1 * m1 * m1, 0.0) / (n1 - 1)  # clamp: rounding can push a zero variance below 0
    v2 = max(ss2 - n2 * m2 * m2, 0.0) / (n2 - 1)
    if v1 == 0 and v2 == 0:
        worse = (m1 > m2) if higher_is_worse else (m1 < m2)
        return TestResult(math.inf if worse else 0.0, 0.0 if worse else 1.0, m1, m2)
    res = stats.ttest_ind_from_stats(
        m1, math.sqrt(v1), n1, m2, math.sqrt(v2), n2, equal_var=False,
        alternative="greater" if higher_is_worse else "less",
    )
    return TestResult(float(res.statistic), float(res.pvalue), m1, m2)


def latency_quantile_compare(
    canary_hist: Sequence[int],
    prod_hist: Sequence[int],
    q: float = 0.95,
    tolerance: float = 0.10,
    alpha: float = 0.05,
) -> tuple[bool, TestResult]:
    """Whether the canary's latency quantile q is worse than production's by more than tolerance, significantly."""
    c, p = check_latency_counts(canary_hist), check_latency_counts(prod_hist)
    tol = _number(tolerance, "latency tolerance")
    if tol < 0:
        raise ValueError("latency tolerance must be >= 0")
    cq, pq = quantile(c, q), quantile(p, q)
    if cq is None or pq is None:
        raise ValueError("both latency histograms must hold at least one observation")
    # tail beyond production's quantile bucket: under no regression the canary's share there matches production's
    k = min(sum(1 for edge in LATENCY_EDGES_MS if edge <= pq), BUCKET_COUNT - 1)
    tail = two_proportion_test(sum(c[k + 1:]), sum(c), sum(p[k + 1:]), sum(p))
    result = TestResult(tail.statistic, tail.p_value, cq, pq)
    return (cq > pq * (1 + tol) and tail.p_value < alpha), result


def _resolve_guardrails(guardrails: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]]:
    if guardrails is None:
        return {k: dict(v) for k, v in DEFAULT_GUARDRAILS.items()}
    if not isinstance(guardrails, Mapping) or not guardrails:
        raise ValueError("guardrails must be a non-empty mapping of metric -> settings")
    out: dict[str, dict[str, float]] = {}
    for metric, settings in guardrails.items():
        if metric not in DEFAULT_GUARDRAILS:
            raise ValueError(f"unknown guardrail {metric!r}; known: {', '.join(DEFAULT_GUARDRAILS)}")
        settings = settings or {}
        if not isinstance(settings, Mapping):
            raise ValueError(f"guardrail {metric} settings must be a mapping")
        unknown = set(settings) - set(DEFAULT_GUARDRAILS[metric])
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))} for guardrail {metric}")
        merged = {**DEFAULT_GUARDRAILS[metric], **settings}
        for key, value in merged.items():
            v = _number(value, f"guardrail {metric} {key}")
            if v < 0 or (key in ("alpha", "q") and not 0 < v < 1):
                raise ValueError(f"guardrail {metric} {key} is out of range: {value!r}")
            merged[key] = v
        out[metric] = merged
    return out


def _sample_size(side: Mapping[str, Any], metric: str, who: str) -> int:
    source = _METRIC_SOURCE[metric]
    if source not in side or side[source] is None:
        return 0
    if metric == "error_rate":
        n = _count(side["requests"], f"{who} requests")
        if _count(side.get("errors", 0), f"{who} errors") > n:
            raise ValueError(f"{who} errors cannot exceed requests")
        return n
    if metric == "latency_p95":
        return sum(check_latency_counts(side[source]))
    return _moments(side[source], f"{who} {source}")[0]


def _check(metric: str, cfg: dict[str, float], canary: Mapping[str, Any], prod: Mapping[str, Any]) -> GuardrailCheck:
    alpha = cfg["alpha"]
    if metric == "error_rate":
        t = two_proportion_test(canary.get("errors", 0), canary["requests"], prod.get("errors", 0), prod["requests"])
        breach = t.p_value < alpha and t.canary_value - t.production_value > cfg["max_increase"]
        detail = (f"error rate {t.canary_value:.2%} vs {t.production_value:.2%} "
                  f"(allowed +{cfg['max_increase']:.2%}, p={t.p_value:.3g})")
    elif metric == "latency_p95":
        breach, t = latency_quantile_compare(
            canary["latency_histogram"], prod["latency_histogram"], cfg["q"], cfg["tolerance"], alpha
        )
        detail = (f"p{round(cfg['q'] * 100)} {t.canary_value:.0f} ms vs {t.production_value:.0f} ms "
                  f"(allowed +{cfg['tolerance']:.0%}, tail p={t.p_value:.3g})")
    elif metric == "quality_score":
        t = mean_compare(canary["quality"], prod["quality"], higher_is_worse=False)
        breach = t.p_value < alpha and t.production_value - t.canary_value > cfg["max_decrease"]
        detail = (f"mean quality {t.canary_value:.3f} vs {t.production_value:.3f} "
                  f"(allowed -{cfg['max_decrease']:g}, p={t.p_value:.3g})")
    else:
        t = mean_compare(canary["cost"], prod["cost"], higher_is_worse=True)
        limit = t.production_value * (1 + cfg["max_increase"])
        breach = t.p_value < alpha and t.canary_value > limit
        detail = (f"cost per task {t.canary_value:.4g} vs {t.production_value:.4g} "
                  f"(allowed +{cfg['max_increase']:.0%}, p={t.p_value:.3g})")
    return GuardrailCheck(metric, "breach" if breach else "ok", t.canary_value, t.production_value, t.p_value, detail)


def canary_verdict(
    canary_stats: Mapping[str, Any],
    prod_stats: Mapping[str, Any],
    guardrails: Mapping[str, Mapping[str, float]] | None = None,
    min_sample: int = DEFAULT_MIN_SAMPLE,
) -> Verdict:
    """Verdict on a canary: breach if any guardrail is breached, else not_enough_data if any lacks data, else safe."""
    if not isinstance(canary_stats, Mapping) or not isinstance(prod_stats, Mapping):
        raise ValueError("canary and production stats must be mappings of rolled-up sums")
    if isinstance(min_sample, bool) or not isinstance(min_sample, int) or min_sample < 2:
        raise ValueError(f"min_sample must be a whole number >= 2, got {min_sample!r}")
    rules = _resolve_guardrails(guardrails)
    checks: list[GuardrailCheck] = []
    for metric, cfg in rules.items():
        n_c = _sample_size(canary_stats, metric, "canary")
        n_p = _sample_size(prod_stats, metric, "production")
        if n_c < min_sample or n_p < min_sample:
            checks.append(GuardrailCheck(metric, "not_enough_data", None, None, None,
                                         f"need {min_sample} observations on each side, have canary {n_c}, "
                                         f"production {n_p}"))
            continue
        checks.append(_check(metric, cfg, canary_stats, prod_stats))
    breaches = [(c.metric, float(c.canary_value), float(c.production_value), c.detail)  # type: ignore[arg-type]
                for c in checks if c.status == "breach"]
    if breaches:
        status: VerdictStatus = "breach"
    elif any(c.status == "not_enough_data" for c in checks):
        status = "not_enough_data"
    else:
        status = "safe_to_promote"
    return Verdict(status, breaches, checks)
