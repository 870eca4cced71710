"""Guard: circuit breaker, rate limit, cost budget with reservation, timeout and fallback."""
from __future__ import annotations

import threading

import pytest

from takeoff.sdk import CircuitBreaker, CostBudget, Guard, GuardRejected, TokenBucket


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def boom():
    raise RuntimeError("vendor 500")


def test_breaker_opens_after_threshold_then_half_opens_and_closes():
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=3, cool_down_s=30, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state == "closed"
    b.record_failure()
    assert b.state == "open" and not b.allow()
    clock.now += 29
    assert not b.allow()
    clock.now += 1
    assert b.state == "half_open"
    assert b.allow()          # one probe
    assert not b.allow()      # and only one
    b.record_success()
    assert b.state == "closed" and b.allow()


def test_failed_probe_reopens_for_a_full_cool_down():
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=1, cool_down_s=10, clock=clock)
    b.record_failure()
    clock.now += 10
    assert b.allow()
    b.record_failure()
    assert b.state == "open"
    clock.now += 9
    assert not b.allow()
    clock.now += 1
    assert b.allow()


def test_success_resets_consecutive_failures():
    b = CircuitBreaker(failure_threshold=2, cool_down_s=1, clock=FakeClock())
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state == "closed"


def test_breaker_opens_for_the_only_model_and_fallback_is_used():
    clock = FakeClock()
    g = Guard(failure_threshold=2, cool_down_s=60, clock=clock)
    calls = []

    def failing():
        calls.append(1)
        raise RuntimeError("down")

    reasons = [g.call(failing, use_case="uc", model="only-model", fallback="canned").fallback_reason
               for _ in range(4)]
    assert reasons == ["error:RuntimeError", "error:RuntimeError", "circuit_open", "circuit_open"]
    assert len(calls) == 2   # the open breaker spared the vendor two calls
    clock.now += 60
    out = g.call(lambda: "fresh", use_case="uc", model="only-model", fallback="canned")
    assert (out.value, out.status) == ("fresh", "ok")
    assert g.breaker("only-model").state == "closed"


def test_token_bucket_refills_with_time():
    clock = FakeClock()
    tb = TokenBucket(rate_per_s=2, burst=2, clock=clock)
    assert tb.try_acquire() and tb.try_acquire()
    assert not tb.try_acquire()
    clock.now += 0.5
    assert tb.try_acquire()
    assert not tb.try_acquire()
    clock.now += 100
    assert [tb.try_acquire() for _ in range(3)] == [True, True, False]  # never above burst


def test_rate_limited_calls_take_the_fallback():
    g = Guard(rate_limit_per_s=1, rate_limit_burst=1, clock=FakeClock())
    assert g.call(lambda: "a", use_case="uc", fallback="fb").status == "ok"
    out = g.call(lambda: "b", use_case="uc", fallback=lambda: "fb")
    assert (out.value, out.fallback_reason) == ("fb", "rate_limited")


def test_budget_reservation_never_overshoots_under_concurrency():
    budget = CostBudget(1.0, wall_clock=FakeClock(0))
    granted = []
    start = threading.Barrier(20)

    def worker():
        start.wait()
        for _ in range(10):
            r = budget.reserve(0.01)
            if r is not None:
                granted.append(r)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 100
    assert budget.remaining_usd == 0
    assert budget.reserve(0.01) is None


def test_concurrent_guarded_calls_stay_within_budget():
    g = Guard(daily_budget_usd={"uc": 0.5}, wall_clock=FakeClock(0))
    gate = threading.Event()
    results = []

    def slow_call():
        gate.wait(10)  # hold every granted call in flight so reservations pile up
        return "ok"

    def worker():
        results.append(g.call(slow_call, use_case="uc", estimated_cost_usd=0.1, fallback="fb"))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    while sum(r.status == "fallback" for r in results) < 7:
        threading.Event().wait(0.01)
    gate.set()
    for t in threads:
        t.join()
    assert sum(r.status == "ok" for r in results) == 5
    assert {r.fallback_reason for r in results if r.status == "fallback"} == {"budget_exceeded"}
    assert g.budget("uc").spent_usd == pytest.approx(0.5)


def test_budget_commits_actual_cost_and_releases_failures():
    budget = CostBudget(1.0, wall_clock=FakeClock(0))
    r = budget.reserve(0.5)
    assert budget.reserved_usd == 0.5
    r.commit(0.2)
    r.commit(0.9)  # idempotent
    assert (budget.spent_usd, budget.reserved_usd) == (0.2, 0.0)
    budget.reserve(0.3).release()
    assert budget.remaining_usd == pytest.approx(0.8)


def test_budget_resets_at_utc_midnight():
    clock = FakeClock(86400 * 100 + 3600)
    budget = CostBudget(1.0, wall_clock=clock)
    held = budget.reserve(1.0)
    assert budget.reserve(0.01) is None
    clock.now += 86400
    assert budget.reserve(1.0) is not None
    held.commit()  # yesterday's reservation does not count against today
    assert budget.spent_usd == 0


def test_guard_cost_of_result_is_committed():
    g = Guard(daily_budget_usd={"uc": 1.0}, wall_clock=FakeClock(0))
    g.call(lambda: {"cost": 0.25}, use_case="uc", estimated_cost_usd=0.5, cost_of=lambda r: r["cost"])
    assert g.budget("uc").spent_usd == 0.25


def test_timeout_takes_fallback_and_counts_as_failure():
    g = Guard(failure_threshold=1, cool_down_s=60, clock=FakeClock())
    hold = threading.Event()
    try:
        out = g.call(lambda: hold.wait(30), use_case="uc", model="m", timeout_s=0.05, fallback="fb")
    finally:
        hold.set()
    assert (out.value, out.fallback_reason) == ("fb", "timeout")
    assert g.breaker("m").state == "open"
    g.shutdown()


def test_without_fallback_refusals_raise_and_errors_propagate():
    g = Guard(rate_limit_per_s=1, rate_limit_burst=1, clock=FakeClock())
    with pytest.raises(RuntimeError, match="vendor 500"):
        g.call(boom, use_case="uc")
    with pytest.raises(GuardRejected) as info:
        g.call(lambda: 1, use_case="uc")
    assert info.value.reason == "rate_limited"


@pytest.mark.parametrize("kwargs", [dict(failure_threshold=0), dict(cool_down_s=0), dict(rate_limit_per_s=-1),
                                    dict(daily_budget_usd={"uc": -1}), dict(timeout_s=0),
                                    dict(daily_budget_usd={"": 1})])
def test_bad_guard_settings_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        Guard(**kwargs)


def test_bad_guard_call_inputs_raise_value_error():
    g = Guard()
    with pytest.raises(ValueError):
        g.call("not callable", use_case="uc")
    with pytest.raises(ValueError):
        g.call(lambda: 1, use_case="")
    with pytest.raises(ValueError):
        g.call(lambda: 1, use_case="uc", estimated_cost_usd=-0.1)
    with pytest.raises(ValueError):
        CostBudget(1.0).reserve(float("inf"))
    with pytest.raises(ValueError):
        TokenBucket(1).try_acquire(0)


def test_a_correction_replaces_the_committed_estimate_once_committed_only():
    budget = CostBudget(1.0, wall_clock=FakeClock(0))
    r = budget.reserve(0.1)
    r.correct(0.5)                      # not committed yet: ignored
    r.commit()
    r.correct(0.4)
    assert budget.spent_usd == pytest.approx(0.4)
    r.correct(0.3)                      # a later, better figure replaces the previous one
    assert budget.spent_usd == pytest.approx(0.3)
    released = budget.reserve(0.2)
    released.release()
    released.correct(0.2)               # a call that was not billed stays free
    assert (budget.spent_usd, budget.reserved_usd) == (pytest.approx(0.3), 0.0)


def test_guard_timeout_is_30_s_by_default_and_none_runs_on_the_callers_thread():
    assert Guard().timeout_s == 30.0
    caller = threading.current_thread()
    g = Guard(timeout_s=None)
    assert g.call(threading.current_thread, use_case="uc").value is caller
    g = Guard()
    assert g.call(threading.current_thread, use_case="uc").value is not caller  # a worker enforces the timeout
    g.shutdown()


def test_the_guarded_call_sees_the_callers_context_variables():
    import contextvars

    var = contextvars.ContextVar("request_id", default=None)
    var.set("req-42")
    g = Guard(timeout_s=5)
    assert g.call(var.get, use_case="uc").value == "req-42"
    g.shutdown()
