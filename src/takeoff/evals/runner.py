"""Eval runs: call a target on every case with bounded concurrency, score, aggregate, compare runs.

Memory stays flat in the number of cases: cases are pulled lazily from the iterable and at most ``concurrency``
case tasks exist at any time; the summary is folded incrementally (latency percentiles from a fixed log-bucket
histogram, relative error < 1%). Crash safety is the service's job, made possible here: ``on_result`` is awaited
for each finished case (persist it there), and ``skip_ids`` lists finished cases a resumed run must not call again.
"""
from __future__ import annotations

import asyncio
import inspect
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from takeoff.evals.evalset_io import Case
from takeoff.evals.checks import TIMEOUT_OR_ERROR, Score
from takeoff.evals.summary import RunSummary
from takeoff.evals.targets import TargetError, TargetResponse

ResultCallback = Callable[["CaseResult"], Any]
ProgressCallback = Callable[[int, int | None], Any]


@dataclass
class CaseResult:
    """A case's outcome across its repeats: pass share, agreement, the failing category, usage and latency."""

    case_id: str
    tags: tuple[str, ...]
    passed: bool
    pass_share: float
    agreement: float
    repeats: int
    error_category: str | None
    scores: dict[str, dict[str, Any]]
    output: Any = None
    error: str | None = None
    latency_ms: float | None = None
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for persistence."""
        return {
            "case_id": self.case_id, "tags": list(self.tags), "passed": self.passed, "pass_share": self.pass_share,
            "agreement": self.agreement, "repeats": self.repeats, "error_category": self.error_category,
            "scores": self.scores, "output": self.output, "error": self.error, "latency_ms": self.latency_ms,
            "tokens": self.tokens, "cost_usd": self.cost_usd,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseResult:
        """Rebuild a persisted result (used to fold earlier results into a resumed run's summary)."""
        try:
            return cls(
                case_id=str(d["case_id"]), tags=tuple(d.get("tags") or ()), passed=bool(d["passed"]),
                pass_share=float(d["pass_share"]), agreement=float(d["agreement"]), repeats=int(d["repeats"]),
                error_category=d.get("error_category"), scores=dict(d.get("scores") or {}), output=d.get("output"),
                error=d.get("error"), latency_ms=d.get("latency_ms"), tokens=dict(d.get("tokens") or {}),
                cost_usd=d.get("cost_usd"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"case result is missing or has a bad field: {exc}") from None


class LatencyHistogram:
    """Fixed log-spaced buckets (ratio 1.02) from 0.01 ms to ~3 h: constant memory, percentiles within 1%."""

    _RATIO = 1.02
    _MIN = 0.01

    def __init__(self) -> None:
        self._n_buckets = int(math.log(1e7 / self._MIN) / math.log(self._RATIO)) + 2
        self.counts = [0] * self._n_buckets
        self.n = 0

    def add(self, ms: float) -> None:
        idx = 0 if ms <= self._MIN else int(math.log(ms / self._MIN) / math.log(self._RATIO)) + 1
        self.counts[min(idx, self._n_buckets - 1)] += 1
        self.n += 1

    def percentile(self, q: float) -> float | None:
        """Upper edge of the bucket holding the q-quantile (nearest-rank), so it never understates latency."""
        if not 0 < q <= 1:
            raise ValueError("percentile q must be in (0, 1]")
        if self.n == 0:
            return None
        rank = max(1, math.ceil(q * self.n))
        seen = 0
        for idx, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return self._MIN * self._RATIO ** idx
        return None  # pragma: no cover


class SummaryAccumulator:
    """Folds case results one at a time into a RunSummary; memory does not grow with the number of cases."""

    LOW_AGREEMENT = 0.8

    def __init__(self) -> None:
        self.n = 0
        self.passed = 0
        self.tags: dict[str, list[int]] = {}
        self.categories: Counter[str] = Counter()
        self.tokens: Counter[str] = Counter()
        self.cost = 0.0
        self.cost_known = 0
        self.latency = LatencyHistogram()
        self.share_sum = 0.0
        self.agreement_sum = 0.0
        self.low_agreement = 0

    def add(self, r: CaseResult) -> None:
        if not isinstance(r, CaseResult):
            raise ValueError("summaries are built from CaseResult objects")
        self.n += 1
        self.passed += int(r.passed)
        for tag in r.tags:
            slot = self.tags.setdefault(tag, [0, 0])
            slot[0] += 1
            slot[1] += int(r.passed)
        if not r.passed and r.error_category:
            self.categories[r.error_category] += 1
        self.tokens.update(r.tokens)
        if r.cost_usd is not None:
            self.cost += r.cost_usd
            self.cost_known += 1
        if r.latency_ms is not None:
            self.latency.add(r.latency_ms)
        self.share_sum += r.pass_share
        self.agreement_sum += r.agreement
        self.low_agreement += int(r.agreement < self.LOW_AGREEMENT)

    def summary(self) -> RunSummary:
        n = self.n
        return RunSummary(
            n=n, passed=self.passed, pass_rate=self.passed / n if n else 0.0,
            by_tag={t: {"n": c[0], "passed": c[1], "pass_rate": c[1] / c[0]} for t, c in sorted(self.tags.items())},
            by_error_category=dict(sorted(self.categories.items())), tokens=dict(self.tokens),
            cost_usd=self.cost if self.cost_known else None,
            cost_per_case_usd=self.cost / self.cost_known if self.cost_known else None,
            latency_p50_ms=self.latency.percentile(0.50), latency_p95_ms=self.latency.percentile(0.95),
            latency_p99_ms=self.latency.percentile(0.99),
            mean_pass_share=self.share_sum / n if n else 0.0, mean_agreement=self.agreement_sum / n if n else 0.0,
            low_agreement_cases=self.low_agreement,
        )


def summarize(results: Iterable[CaseResult]) -> RunSummary:
    """Summary of any iterable of case results, consumed lazily."""
    acc = SummaryAccumulator()
    for r in results:
        acc.add(r)
    return acc.summary()


def aggregate_repeats(case: Case, attempts: list[tuple[bool, str | None, dict[str, Any], TargetResponse | None,
                                                      str | None]]) -> CaseResult:
    """Pure fold of k attempts into one result; a case passes on a strict majority (a tie fails, honestly)."""
    k = len(attempts)
    if k == 0:
        raise ValueError("a case result needs at least one attempt")
    passes = sum(1 for a in attempts if a[0])
    share = passes / k
    categories = Counter(a[1] for a in attempts if not a[0] and a[1])
    responses = [a[3] for a in attempts if a[3] is not None]
    tokens: Counter[str] = Counter()
    for resp in responses:
        tokens.update(resp.tokens)
    costs = [resp.cost_usd for resp in responses if resp.cost_usd is not None]
    passed = share > 0.5
    last = attempts[-1]
    return CaseResult(
        case_id=case.case_id, tags=case.tags, passed=passed, pass_share=share, agreement=max(share, 1 - share),
        repeats=k, error_category=None if passed else (categories.most_common(1)[0][0] if categories else None),
        scores=last[2], output=responses[-1].output if responses else None,
        error=next((a[4] for a in reversed(attempts) if a[4]), None),
        latency_ms=sum(r.latency_ms for r in responses) / len(responses) if responses else None,
        tokens=dict(tokens), cost_usd=sum(costs) if costs else None,
    )


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def _attempt(case: Case, target: Any, scorers: list[Any]
                   ) -> tuple[bool, str | None, dict[str, Any], TargetResponse | None, str | None]:
    """One call and its scores; failures of the target or a scorer become a timeout_or_error verdict."""
    try:
        response = await target.call(case.input)
    except TargetError as exc:
        return False, TIMEOUT_OR_ERROR, {}, None, f"{exc.kind}: {exc}"
    except Exception as exc:  # a broken target must not stop the run
        return False, TIMEOUT_OR_ERROR, {}, None, f"target failed: {type(exc).__name__}: {exc}"
    scores: dict[str, dict[str, Any]] = {}
    first_fail: str | None = None
    for scorer in scorers:
        try:
            score: Score = await scorer.score(case, response)
        except Exception as exc:
            score = Score(False, 0.0, TIMEOUT_OR_ERROR, f"scorer failed: {type(exc).__name__}: {exc}")
        scores[scorer.name] = score.to_dict()
        if not score.passed and first_fail is None:
            first_fail = score.error_category or TIMEOUT_OR_ERROR
    return first_fail is None, first_fail, scores, response, None


async def evaluate_case(case: Case, target: Any, scorers: list[Any], repeats: int = 1) -> CaseResult:
    """Run one case k times (sequentially, so concurrency counts target calls) and fold the attempts."""
    attempts = [await _attempt(case, target, scorers) for _ in range(repeats)]
    return aggregate_repeats(case, attempts)


async def run_eval(
    cases: Iterable[Case],
    target: Any,
    scorers: list[Any],
    *,
    concurrency: int = 8,
    repeats: int = 1,
    skip_ids: set[str] | frozenset[str] = frozenset(),
    on_result: ResultCallback | None = None,
    on_progress: ProgressCallback | None = None,
    total: int | None = None,
    prior_results: Iterable[CaseResult] = (),
) -> RunSummary:
    """Evaluate every case not in skip_ids; await on_result(result) per finished case; return the summary.

    ``prior_results`` (the results persisted before a crash) are folded into the summary so a resumed run
    reports the whole run. If on_result raises, in-flight cases are cancelled and the error propagates
    (the run then resumes later from what was persisted).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 10_000:
        raise ValueError("concurrency must be an integer from 1 to 10000")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 100:
        raise ValueError("repeats must be an integer from 1 to 100")
    if not callable(getattr(target, "call", None)):
        raise ValueError("target must have an async call(input) method")
    if not scorers or not all(callable(getattr(s, "score", None)) for s in scorers):
        raise ValueError("scorers must be a non-empty list of scorers")
    if total is None and hasattr(cases, "__len__"):
        total = len(cases)  # type: ignore[arg-type]
    acc = SummaryAccumulator()
    for prior in prior_results:
        acc.add(prior)
    done = 0
    source = iter(cases)
    exhausted = False
    callback_lock = asyncio.Lock()  # callbacks run one at a time, so a service may share one DB session

    def next_case() -> Case | None:
        """Pull the next case to call; skipped ids are counted done here. No await: workers cannot race."""
        nonlocal exhausted, done
        while not exhausted:
            try:
                case = next(source)
            except StopIteration:
                exhausted = True
                return None
            if not isinstance(case, Case):
                raise ValueError("cases must yield Case objects")
            if case.case_id not in skip_ids:
                return case
            done += 1
        return None

    failed = False

    async def finish(result: CaseResult | None) -> None:
        nonlocal failed
        async with callback_lock:
            if failed:  # a callback already failed: record nothing more, the run is stopping
                return
            try:
                if result is not None:
                    acc.add(result)
                    if on_result is not None:
                        await _maybe_await(on_result(result))
                if on_progress is not None:
                    await _maybe_await(on_progress(done, total))
            except BaseException:
                failed = True
                raise

    async def worker() -> None:
        # a fixed pool of workers pulling lazily: O(concurrency) memory and O(1) scheduling work per case
        nonlocal done
        while not failed:
            before = done
            case = next_case()
            if done != before:
                await finish(None)  # progress for skipped (already finished) cases
            if case is None:
                return
            result = await evaluate_case(case, target, scorers, repeats)
            done += 1
            await finish(result)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        finished, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for task in finished:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return acc.summary()


@dataclass(frozen=True)
class Comparison:
    """Case-by-case difference of two runs: regressions (pass→fail), fixes (fail→pass), counts of the rest."""

    regressions: list[dict[str, Any]]
    fixes: list[dict[str, Any]]
    unchanged_pass: int
    unchanged_fail: int
    only_in_a: int
    only_in_b: int


def compare_runs(a: Mapping[str, CaseResult], b: Mapping[str, CaseResult]) -> Comparison:
    """Regressions and fixes from run a (baseline) to run b (candidate), case by case, sorted by id."""
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        raise ValueError("compare_runs expects two mappings of case_id -> CaseResult")
    regressions, fixes = [], []
    same_pass = same_fail = 0
    for case_id in sorted(set(a) & set(b)):
        ra, rb = a[case_id], b[case_id]
        if not isinstance(ra, CaseResult) or not isinstance(rb, CaseResult):
            raise ValueError(f"case {case_id!r}: values must be CaseResult objects")
        row = {"case_id": case_id, "before": ra.pass_share, "after": rb.pass_share,
               "error_category": rb.error_category if not rb.passed else ra.error_category}
        if ra.passed and not rb.passed:
            regressions.append(row)
        elif not ra.passed and rb.passed:
            fixes.append(row)
        elif ra.passed:
            same_pass += 1
        else:
            same_fail += 1
    return Comparison(regressions, fixes, same_pass, same_fail, len(set(a) - set(b)), len(set(b) - set(a)))


