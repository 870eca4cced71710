"""Client: active release with cache and fallbacks, track, guard, feedback, against a real local server."""
from __future__ import annotations

import pytest

from takeoff.sdk import ActiveConfig, Client, GuardRejected, current_tracker


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_client(url: str, **kw) -> Client:
    opts = dict(flush_interval_s=0.02, backoff_base_s=0.01, backoff_max_s=0.05)
    opts.update(kw)
    return Client(url, "secret", **opts)


def test_active_returns_release_config_for_the_unit(fake_server, make_release):
    fake_server.set_active("support-bot", [make_release("r-stable", 90), make_release("r-canary", 10, "gpt-y", "2")])
    client = make_client(fake_server.url)
    cfgs = [client.active("support-bot", f"user-{i}") for i in range(2000)]
    canary = [c for c in cfgs if c.release_id == "r-canary"]
    assert 120 <= len(canary) <= 280
    assert canary[0].model == "gpt-y" and canary[0].version == "2" and canary[0].prompt == "prompt of r-canary"
    assert cfgs[0].parameters == {"temperature": 0.1} and cfgs[0].fallback_model == "small"
    assert client.active("support-bot", "user-7") == cfgs[7]  # sticky
    assert fake_server.auth[0] == "Bearer secret"
    client.close()


def test_active_is_cached_for_the_ttl(fake_server, make_release):
    fake_server.set_active("uc", [make_release("r1", 100)])
    clock = FakeClock()
    client = make_client(fake_server.url, cache_ttl_s=30, clock=clock)
    assert client.active("uc", "u").source == "server"
    clock.now = 29
    assert client.active("uc", "u").source == "cache"
    assert fake_server.active_hits == 1
    fake_server.set_active("uc", [make_release("r2", 100)])
    clock.now = 31
    assert client.active("uc", "u").release_id == "r2"
    assert fake_server.active_hits == 2
    client.close()


def test_stale_config_is_served_when_server_goes_down(fake_server, make_release):
    fake_server.set_active("uc", [make_release("r1", 100)])
    clock = FakeClock()
    client = make_client(fake_server.url, cache_ttl_s=10, retry_interval_s=5, clock=clock)
    client.active("uc", "u")
    fake_server.stop()
    clock.now = 100
    cfg = client.active("uc", "u", default={"release_id": "dflt", "model": "m"})
    assert (cfg.release_id, cfg.source) == ("r1", "stale")
    client.close()


def test_default_used_when_server_never_reached(fake_server):
    fake_server.stop()
    client = make_client(fake_server.url, defaults={"uc": ActiveConfig("uc", None, "local-model")})
    assert client.active("uc", "u").model == "local-model"
    assert client.active("uc", "u").source == "default"
    given = client.active("other", "u", default={"release_id": None, "model": "tiny", "prompt": "hi"})
    assert (given.model, given.prompt) == ("tiny", "hi")
    assert client.active("other", "u") is None
    client.close()


def test_failed_fetch_is_not_retried_on_every_call(fake_server):
    fake_server.fail_code = 500
    clock = FakeClock()
    client = make_client(fake_server.url, retry_interval_s=5, clock=clock)
    for _ in range(10):
        assert client.active("uc", "u") is None
    assert len(fake_server.auth) == 1
    clock.now = 6
    client.active("uc", "u")
    assert len(fake_server.auth) == 2
    client.close()


@pytest.mark.parametrize("body", [{"releases": []}, {"releases": [{"release_id": "a", "weight": -1}]},
                                  {"nothing": 1}])
def test_malformed_answer_falls_back_to_default(fake_server, body):
    fake_server.active["uc"] = body
    client = make_client(fake_server.url)
    assert client.active("uc", "u", default={"release_id": "d", "model": "m"}).release_id == "d"
    client.close()


def test_active_bad_arguments_raise_value_error(fake_server):
    client = make_client(fake_server.url)
    with pytest.raises(ValueError):
        client.active("", "u")
    with pytest.raises(ValueError):
        client.active("uc", 42)
    client.close()


def test_track_records_all_fields(fake_server, make_release):
    fake_server.set_active("uc", [make_release("r1", 100, "gpt-x")])
    client = make_client(fake_server.url)
    cfg = client.active("uc", "u1")
    with client.track("uc", release=cfg, unit_id="u1") as t:
        t.set_tokens(input=100, output=20, cache_read=50)
        t.set_cost(0.0021)
        t.score("groundedness", 0.9)
        t.feature("channel", "email")
        t.feature("length", 120)
        t.outcome("overridden")
        t.error("wrong_answer")
        t.attribute("team", "care")
    assert client.flush(10)
    e = fake_server.events[t.request_id]
    assert (e["use_case"], e["release"], e["unit_id"], e["model"], e["provider"]) == ("uc", "r1", "u1", "gpt-x", "openai")
    assert e["status"] == "ok" and e["outcome"] == "overridden" and e["error_category"] == "wrong_answer"
    assert e["tokens"] == {"input": 100, "output": 20, "cache_read": 50}
    assert e["cost_usd"] == 0.0021 and e["scores"] == {"groundedness": 0.9}
    assert e["features"] == {"channel": "email", "length": 120.0} and e["attributes"] == {"team": "care"}
    assert e["latency_ms"] >= 0 and e["ts"] > 1e9
    client.close()


def test_exception_in_track_block_is_recorded_and_propagates(fake_server):
    client = make_client(fake_server.url)
    with pytest.raises(KeyError):
        with client.track("uc", release="r9") as t:
            raise KeyError("x")
    assert client.flush(10)
    e = fake_server.events[t.request_id]
    assert (e["status"], e["error_category"], e["attributes"]["exception"]) == ("error", "timeout_or_error", "KeyError")
    client.close()


def test_decorator_form_records_one_event_per_call(fake_server):
    client = make_client(fake_server.url)

    @client.track("uc", release="r1")
    def answer(q: str) -> str:
        current_tracker().set_tokens(input=len(q))
        return q.upper()

    assert answer("ab") == "AB" and answer("abc") == "ABC"
    assert client.flush(10)
    assert sorted(e["tokens"]["input"] for e in fake_server.events.values()) == [2, 3]
    assert answer.__name__ == "answer"
    client.close()


def test_guard_inside_track_records_fallback_reason(fake_server):
    client = make_client(fake_server.url, breaker_failures=1)

    def vendor():
        raise ConnectionError("vendor down")

    with client.track("uc", model="gpt-x") as t:
        answer = client.guard(vendor, fallback=lambda: "canned answer")
    assert answer == "canned answer"
    assert client.flush(10)
    e = fake_server.events[t.request_id]
    assert (e["status"], e["fallback_reason"]) == ("fallback", "error:ConnectionError")
    assert client.stats()["breakers"] == {"gpt-x": "open"}
    client.close()


def test_standalone_guard_records_its_own_event(fake_server):
    client = make_client(fake_server.url, daily_budget_usd={"uc": 0.01})
    assert client.guard(lambda: "a", use_case="uc", estimated_cost_usd=0.01, fallback="b") == "a"
    assert client.guard(lambda: "a", use_case="uc", estimated_cost_usd=0.01, fallback="b") == "b"
    with pytest.raises(GuardRejected):
        client.guard(lambda: "a", use_case="uc", estimated_cost_usd=0.01)
    assert client.flush(10)
    got = sorted((e["status"], e["fallback_reason"] or "") for e in fake_server.events.values())
    assert got == [("error", "budget_exceeded"), ("fallback", "budget_exceeded"), ("ok", "")]
    with pytest.raises(ValueError):
        client.guard(lambda: 1)  # no use case and no track block
    client.close()


def test_feedback_is_delivered(fake_server):
    client = make_client(fake_server.url)
    with client.track("uc") as t:
        pass
    fid = client.feedback(t.request_id, rating=4, comment="good", time_saved_s=120, use_case="uc")
    assert client.flush(10)
    fb = fake_server.feedback[fid]
    assert (fb["request_id"], fb["rating"], fb["comment"], fb["time_saved_s"]) == (t.request_id, 4, "good", 120.0)
    client.close()


@pytest.mark.parametrize("kwargs", [dict(rating=0), dict(rating=6), dict(rating=4.5), dict(rating=True),
                                    dict(rating=3, time_saved_s="1m"), dict(rating=3, comment=5)])
def test_bad_feedback_raises_value_error(fake_server, kwargs):
    client = make_client(fake_server.url)
    with pytest.raises(ValueError):
        client.feedback("req", **kwargs)
    with pytest.raises(ValueError):
        client.feedback("", rating=3)
    client.close()


def test_bad_tracker_inputs_raise_value_error(fake_server):
    client = make_client(fake_server.url)
    with pytest.raises(ValueError):
        client.track("")
    with client.track("uc") as t:
        for bad in (lambda: t.outcome("great"), lambda: t.error("oops"), lambda: t.set_tokens(input=-1),
                    lambda: t.set_cost(-1), lambda: t.score("q", float("nan")), lambda: t.feature("f", None),
                    lambda: t.fallback(""), lambda: t.attribute("k", [1])):
            with pytest.raises(ValueError):
                bad()
    client.close()


def test_app_keeps_working_while_server_is_down_and_events_arrive_later(fake_server, make_release):
    """The issue's acceptance scenario: server down, app calls succeed with fallback, events delivered later."""
    fake_server.stop()
    client = make_client(fake_server.url, defaults={"uc": {"release_id": None, "model": "local"}},
                         breaker_failures=2)
    ids = []
    for i in range(20):
        cfg = client.active("uc", f"u{i}")
        with client.track("uc", release=cfg, unit_id=f"u{i}") as t:
            def vendor():
                raise TimeoutError("vendor unreachable")
            assert client.guard(vendor, fallback="sorry, try later") == "sorry, try later"
        ids.append(t.request_id)
    assert not client.flush(0.3)
    fake_server.start()
    assert client.flush(20)
    assert set(fake_server.events) == set(ids)
    reasons = [fake_server.events[i]["fallback_reason"] for i in ids]
    assert reasons[:2] == ["timeout"] * 2 and set(reasons[2:]) == {"circuit_open"}
    assert client.stats()["dropped_total"] == 0
    client.close()


def test_tracked_cost_replaces_the_estimate_in_the_budget(fake_server):
    client = make_client(fake_server.url, daily_budget_usd={"uc": 1.0})
    with client.track("uc") as t:
        assert client.guard(lambda: "x", estimated_cost_usd=0.01) == "x"
        assert client.stats()["budgets"]["uc"]["spent_usd"] == pytest.approx(0.01)  # the estimate, meanwhile
        t.set_cost(0.3)
    assert client.stats()["budgets"]["uc"]["spent_usd"] == pytest.approx(0.3)
    client.close()


def test_without_an_estimate_the_tracked_cost_still_enforces_the_budget(fake_server):
    client = make_client(fake_server.url, daily_budget_usd={"uc": 0.5})
    served = []
    for _ in range(5):
        with client.track("uc") as t:
            served.append(client.guard(lambda: "model", fallback="canned"))
            if served[-1] == "model":
                t.set_cost(0.2)
    # 0, 0.2, 0.4 spent before each granted call; at 0.6 the budget refuses
    assert served == ["model", "model", "model", "canned", "canned"]
    assert client.stats()["budgets"]["uc"]["spent_usd"] == pytest.approx(0.6)
    assert client.stats()["budgets"]["uc"]["unpriced_calls"] == 0
    client.close()


def test_exact_and_estimated_costs_in_one_block_add_up_to_the_tracked_cost(fake_server):
    client = make_client(fake_server.url, daily_budget_usd={"uc": 1.0})
    with client.track("uc") as t:
        client.guard(lambda: {"usd": 0.1}, cost_of=lambda r: r["usd"])
        client.guard(lambda: "second", estimated_cost_usd=0.05)
        t.set_cost(0.4)
    assert client.stats()["budgets"]["uc"]["spent_usd"] == pytest.approx(0.4)
    client.close()


def test_a_budget_that_never_learns_a_cost_warns_once(fake_server, caplog):
    import logging

    client = make_client(fake_server.url, daily_budget_usd={"uc": 1.0})
    with caplog.at_level(logging.WARNING, logger="takeoff.sdk"):
        client.guard(lambda: "a", use_case="uc")
        with client.track("uc"):
            client.guard(lambda: "b")
        with client.track("uc") as t:       # priced by the tracked cost: no warning for this one
            client.guard(lambda: "c")
            t.set_cost(0.01)
    warnings = [r.getMessage() for r in caplog.records if "cannot be enforced" in r.getMessage()]
    assert len(warnings) == 1 and "'uc'" in warnings[0]
    assert client.stats()["budgets"]["uc"]["unpriced_calls"] == 2
    client.close()


def test_standalone_guard_event_carries_the_cost_of_its_result(fake_server):
    client = make_client(fake_server.url, daily_budget_usd={"uc": 1.0})
    client.guard(lambda: {"usd": 0.07}, use_case="uc", cost_of=lambda r: r["usd"])
    assert client.flush(10)
    (event,) = fake_server.events.values()
    assert event["cost_usd"] == 0.07 and client.stats()["budgets"]["uc"]["spent_usd"] == pytest.approx(0.07)
    client.close()


def test_guard_times_out_after_30_s_by_default_and_the_call_sees_its_tracker(fake_server):
    assert make_client(fake_server.url).guard_controls.timeout_s == 30.0
    assert make_client(fake_server.url, guard_timeout_s=None).guard_controls.timeout_s is None
    client = make_client(fake_server.url)
    with client.track("uc") as t:
        inside = client.guard(current_tracker)  # runs on a worker thread, with the caller's context
    assert inside is t
    client.close()
