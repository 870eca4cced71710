"""Eval runs: bounded concurrency, errors don't stop the run, repeats, resume, summaries, run comparison."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from takeoff.evals.evalset_io import Case
from takeoff.evals.runner import (
    CaseResult,
    LatencyHistogram,
    compare_runs,
    run_eval,
    summarize,
)
from takeoff.evals.scorers import make_scorer
from takeoff.evals.targets import HttpTarget, RetryPolicy, TargetError, TargetResponse

class QuietServer(ThreadingHTTPServer):
    """A client that timed out closes its socket; the late write's BrokenPipe is expected, not news."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass



class CountingTarget:
    """Answers 'ok:<input>' unless the input asks for trouble; counts calls and peak concurrency."""

    def __init__(self, flaky_pattern: list[bool] | None = None) -> None:
        self.calls: list[str] = []
        self.active = 0
        self.peak = 0
        self._flaky = list(flaky_pattern or [])

    async def call(self, input):
        self.calls.append(input)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.001)
            if input == "boom":
                raise TargetError("exception", "exploded")
            if input == "crash":
                raise RuntimeError("unexpected")
            if input == "noisy":
                ok = self._flaky.pop(0)
                return TargetResponse("right" if ok else "wrong", 5.0, {"total_tokens": 3}, 0.001)
            return TargetResponse(f"ok:{input}", 10.0, {"total_tokens": 2}, 0.0005)
        finally:
            self.active -= 1

    async def aclose(self):
        return None


def _cases(n: int, tag: str = "t"):
    for i in range(n):
        yield Case(f"c{i}", str(i), f"ok:{i}", (tag,))


EXACT = [make_scorer({"type": "exact"})]


def test_run_respects_concurrency_and_reports_progress_and_results():
    target = CountingTarget()
    results, progress = [], []
    summary = asyncio.run(run_eval(_cases(50), target, EXACT, concurrency=4, total=50,
                                   on_result=results.append, on_progress=lambda d, t: progress.append((d, t))))
    assert summary.n == 50 and summary.pass_rate == 1.0
    assert target.peak <= 4 and len(target.calls) == 50
    assert progress[-1] == (50, 50) and len(results) == 50
    assert summary.tokens == {"total_tokens": 100}
    assert summary.cost_per_case_usd == pytest.approx(0.0005)
    assert summary.by_tag == {"t": {"n": 50, "passed": 50, "pass_rate": 1.0}}


def test_target_errors_mark_the_case_and_the_run_goes_on():
    cases = [Case("a", "1", "ok:1", ("x",)), Case("b", "boom", "ok:boom", ("x",)),
             Case("c", "crash", "ok:crash", ("y",)), Case("d", "2", "wrong", ("y",))]
    results = {}
    summary = asyncio.run(run_eval(cases, CountingTarget(), EXACT, concurrency=2,
                                   on_result=lambda r: results.__setitem__(r.case_id, r)))
    assert results["a"].passed
    assert results["b"].error_category == "timeout_or_error" and "exploded" in results["b"].error
    assert results["c"].error_category == "timeout_or_error" and "RuntimeError" in results["c"].error
    assert results["d"].error_category == "wrong_answer"
    assert summary.by_error_category == {"timeout_or_error": 2, "wrong_answer": 1}
    assert summary.by_tag["x"]["pass_rate"] == 0.5 and summary.by_tag["y"]["pass_rate"] == 0.0


def test_repeats_give_pass_share_and_agreement():
    target = CountingTarget(flaky_pattern=[True, False, True, True, True])
    results = []
    asyncio.run(run_eval([Case("n", "noisy", "right")], target, EXACT, concurrency=1, repeats=5,
                         on_result=results.append))
    [r] = results
    assert len(target.calls) == 5
    assert r.pass_share == pytest.approx(0.8) and r.agreement == pytest.approx(0.8) and r.passed


def test_a_tie_across_repeats_fails():
    results = []
    asyncio.run(run_eval([Case("n", "noisy", "right")], CountingTarget([True, False]), EXACT, repeats=2,
                         on_result=results.append))
    assert results[0].pass_share == 0.5 and not results[0].passed
    assert results[0].error_category == "wrong_answer"


def test_resume_after_crash_skips_finished_cases_and_reports_the_whole_run():
    persisted: dict[str, dict] = {}

    def persist_then_crash(result: CaseResult):
        persisted[result.case_id] = result.to_dict()
        if len(persisted) == 7:
            raise RuntimeError("worker killed")

    first = CountingTarget()
    with pytest.raises(RuntimeError, match="worker killed"):
        asyncio.run(run_eval(_cases(20), first, EXACT, concurrency=3, on_result=persist_then_crash))
    assert len(persisted) == 7

    second = CountingTarget()
    prior = [CaseResult.from_dict(d) for d in persisted.values()]
    progress = []
    summary = asyncio.run(run_eval(_cases(20), second, EXACT, concurrency=3, skip_ids=set(persisted),
                                   prior_results=prior, total=20, on_progress=lambda d, t: progress.append((d, t)),
                                   on_result=lambda r: persisted.__setitem__(r.case_id, r.to_dict())))
    assert progress[-1] == (20, 20)  # skipped cases count as done
    called_again = {f"c{x}" for x in second.calls} & {p.case_id for p in prior}
    assert not called_again  # no finished case was called a second time
    assert len(second.calls) == 13 and summary.n == 20 and len(persisted) == 20


def test_cases_are_pulled_lazily_not_materialised():
    pulled = 0

    def gen():
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield Case(f"c{i}", str(i), f"ok:{i}")

    seen_at_first_result = []

    def on_result(_r):
        if not seen_at_first_result:
            seen_at_first_result.append(pulled)

    asyncio.run(run_eval(gen(), CountingTarget(), EXACT, concurrency=5, on_result=on_result))
    assert seen_at_first_result[0] <= 6  # only concurrency (+1 being scheduled) cases pulled before first result


class _SlowHalf(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["input"] == "slow":
            time.sleep(0.6)
        if body["input"] == "garbage":
            data = b"not json at all"
        else:
            data = json.dumps({"answer": body["input"]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_http_run_with_timeouts_and_garbage_goes_on():
    srv = QuietServer(("127.0.0.1", 0), _SlowHalf)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        target = HttpTarget(f"http://127.0.0.1:{srv.server_address[1]}/", response_path="answer",
                            timeout_s=0.2, retry=RetryPolicy(max_attempts=1))
        cases = [Case("ok", "fine", "fine"), Case("slow", "slow", "slow"), Case("junk", "garbage", "garbage"),
                 Case("ok2", "also", "also")]
        results = {}

        async def go():
            try:
                return await run_eval(cases, target, EXACT, concurrency=2,
                                      on_result=lambda r: results.__setitem__(r.case_id, r))
            finally:
                await target.aclose()

        summary = asyncio.run(go())
        assert results["ok"].passed and results["ok2"].passed
        assert results["slow"].error_category == "timeout_or_error" and results["slow"].error.startswith("timeout")
        assert results["junk"].error_category == "timeout_or_error" and "bad_response" in results["junk"].error
        assert summary.n == 4 and summary.pass_rate == 0.5
    finally:
        srv.shutdown()
        srv.server_close()


def _r(cid, passed, share=None, cat=None, latency=10.0):
    share = (1.0 if passed else 0.0) if share is None else share
    return CaseResult(cid, (), passed, share, max(share, 1 - share), 1, None if passed else (cat or "wrong_answer"),
                      {}, latency_ms=latency)


def test_compare_runs_lists_regressions_and_fixes():
    a = {"1": _r("1", True), "2": _r("2", False), "3": _r("3", True), "4": _r("4", False), "5": _r("5", True)}
    b = {"1": _r("1", False, cat="unsafe_output"), "2": _r("2", True), "3": _r("3", True), "4": _r("4", False),
         "6": _r("6", True)}
    cmp = compare_runs(a, b)
    assert [r["case_id"] for r in cmp.regressions] == ["1"] and cmp.regressions[0]["error_category"] == "unsafe_output"
    assert [f["case_id"] for f in cmp.fixes] == ["2"]
    assert (cmp.unchanged_pass, cmp.unchanged_fail, cmp.only_in_a, cmp.only_in_b) == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="two mappings"):
        compare_runs([], {})
    with pytest.raises(ValueError, match="CaseResult"):
        compare_runs({"1": True}, {"1": False})


def test_summary_percentiles_and_low_agreement():
    results = [_r(str(i), True, latency=float(i)) for i in range(1, 101)] + [_r("x", True, share=0.6)]
    s = summarize(results)
    assert s.latency_p50_ms == pytest.approx(50, rel=0.02)
    assert s.latency_p95_ms == pytest.approx(95, rel=0.02)
    assert s.latency_p99_ms == pytest.approx(99, rel=0.02)
    assert s.low_agreement_cases == 1
    h = LatencyHistogram()
    assert h.percentile(0.5) is None
    with pytest.raises(ValueError):
        h.percentile(0)


def test_case_result_round_trips_and_refuses_bad_dicts():
    r = _r("1", False, share=0.4)
    assert CaseResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    with pytest.raises(ValueError, match="missing or has a bad field"):
        CaseResult.from_dict({"case_id": "1"})


@pytest.mark.parametrize("kwargs, message", [
    ({"concurrency": 0}, "concurrency"),
    ({"repeats": 0}, "repeats"),
    ({"scorers": []}, "scorers"),
    ({"target": object()}, "target must have"),
])
def test_bad_run_arguments_are_refused(kwargs, message):
    args = {"target": CountingTarget(), "scorers": EXACT, **kwargs}
    with pytest.raises(ValueError, match=message):
        asyncio.run(run_eval([], args.pop("target"), args.pop("scorers"), **args))


def test_non_case_items_are_refused():
    with pytest.raises(ValueError, match="Case objects"):
        asyncio.run(run_eval([{"input": "x"}], CountingTarget(), EXACT))
