"""Brute force and abuse (issue 16.3): sign-in lockout per account and per client address, bad bearer tokens per
address, per-token API and ingestion rate limits — 429 in the error shape with Retry-After, on both backends."""
from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takeoff.app import create_app
from takeoff.audit.models import AuditEntry
from takeoff.auth import throttle
from takeoff.auth.lockout import Policy, State, after_failure, delay_after, wait_s
from takeoff.core.config import Settings
from takeoff.core.db import transaction
from takeoff.ratelimit import TokenLimits, client_address

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the throttle (no sleeps)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:  # type: ignore[no-untyped-def]
    c = Clock()
    monkeypatch.setattr(throttle, "clock", c)
    return c


@pytest.fixture
def frozen_limits(monkeypatch):  # type: ignore[no-untyped-def]
    """Stop the rate limiters' wall clock mid-window, so a slow request cannot carry a count into the next window."""
    import types

    import limits.storage.memory
    import limits.strategies

    import takeoff.ratelimit

    frozen = types.SimpleNamespace(time=lambda: 1_800_000_000.25)
    for module in (limits.strategies, limits.storage.memory, takeoff.ratelimit):
        monkeypatch.setattr(module, "time", frozen)


def app_with(settings: Settings, engine, **changes):  # type: ignore[no-untyped-def]
    """The app under changed throttle settings."""
    return create_app(settings.model_copy(update=changes), engine=engine, start_worker=False)


def form_client(app, address: str = "203.0.113.7") -> tuple[TestClient, str]:  # type: ignore[no-untyped-def]
    c = TestClient(app, client=(address, 50000))
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    return c, token


def sign_in(c: TestClient, token: str, username: str, password: str):  # type: ignore[no-untyped-def]
    return c.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"},
                  follow_redirects=False)


def lockouts(factory) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.lockout").order_by(AuditEntry.id)))


# ---- the pure schedule ----

def test_schedule_free_half_then_doubling_delays_then_lockout():
    p = Policy(max_failures=6, lockout_s=900, delay_s=1, max_delay_s=3)
    assert [delay_after(n, p) for n in range(1, 7)] == [0, 0, 0, 1, 2, 3]
    s = State()
    for _ in range(5):
        s = after_failure(s, T0, p)
    assert s.failures == 5 and s.locked_until is None and wait_s(s, T0, p) == 2
    s = after_failure(s, T0, p)
    assert s.locked_until == T0 + timedelta(seconds=900) and wait_s(s, T0, p) == 900
    # a served lockout, or a quiet period, starts over
    assert wait_s(s, T0 + timedelta(seconds=900), p) == 0
    assert after_failure(s, T0 + timedelta(seconds=900), p).failures == 1
    quiet = State(4, T0, None)
    assert after_failure(quiet, T0 + timedelta(seconds=901), p).failures == 1
    assert wait_s(s, T0, Policy(0, 900)) == 0  # max_failures 0: off


def test_client_address_believes_forwarded_for_only_from_trusted_proxies():
    assert client_address("198.51.100.1", "1.2.3.4", "") == "198.51.100.1"
    assert client_address("198.51.100.1", "1.2.3.4", "10.0.0.0/8") == "198.51.100.1"
    assert client_address("10.0.0.5", "1.2.3.4", "10.0.0.0/8") == "1.2.3.4"
    # the client may forge entries on the left; the right-most untrusted hop is the one the proxy saw
    assert client_address("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.9", "10.0.0.0/8") == "1.2.3.4"
    assert client_address("10.0.0.5", "not-an-ip", "10.0.0.0/8") == "10.0.0.5"
    with pytest.raises(ValueError, match="not an IP"):
        TokenLimits(Settings(trusted_proxies="10.0.0.0/8, proxy.local"))


def test_default_ingestion_limits_admit_the_benchmarks_fastest_run():
    """bench/ingest_bench.py sends batches of 500 from one token (goal 20,000 events/s; its fastest run ~50k): even
    with every batch on one server process, 100 batches in one second pass the default limits."""
    limits = TokenLimits(Settings())
    from takeoff.core.actor import Actor

    actor = Actor("bench", ("admin",), via="token", token_id=1)
    for _ in range(100):
        limits.check_request(actor, "/api/v1/events")
        limits.charge_events(actor, 500)


# ---- sign-in ----

def test_account_lockout_refuses_even_the_right_password_is_audited_and_ends(settings, engine, factory, users, clock):
    users.create("viewer", username="alice")
    app = app_with(settings, engine, login_max_failures=3, login_delay_s=0, login_lockout_s=600)
    c, token = form_client(app)
    assert [sign_in(c, token, "alice", "wrong-pass").status_code for _ in range(2)] == [401, 401]
    third = sign_in(c, token, "alice", "wrong-pass")
    assert third.status_code == 429 and third.headers["retry-after"] == "600"
    assert "Too many failed sign-in attempts. Try again in 600 seconds." in third.text
    clock.advance(60)
    right = sign_in(c, token, "alice", "password123")
    assert right.status_code == 429 and right.headers["retry-after"] == "540"
    assert "takeoff_session" not in right.cookies and "takeoff_session" not in c.cookies
    [entry] = lockouts(factory)
    assert (entry.object_type, entry.object_id) == ("user", "alice")
    assert entry.actor == "anonymous@203.0.113.7"
    assert entry.diff["failures"]["to"] == 3
    clock.advance(540)
    assert sign_in(c, token, "alice", "password123").status_code == 303


def test_failures_add_up_across_server_processes(settings, engine, users, clock):
    """Two apps on one database stand for two `serve` processes: the count is in the database, not in either."""
    users.create("viewer", username="frank")
    one = app_with(settings, engine, login_max_failures=3, login_delay_s=0)
    two = app_with(settings, engine, login_max_failures=3, login_delay_s=0)
    c1, t1 = form_client(one)
    c2, t2 = form_client(two, "203.0.113.8")
    assert sign_in(c1, t1, "frank", "wrong-pass").status_code == 401
    assert sign_in(c2, t2, "frank", "wrong-pass").status_code == 401
    assert sign_in(c1, t1, "frank", "wrong-pass").status_code == 429
    assert sign_in(c2, t2, "frank", "password123").status_code == 429


def test_wrong_password_then_right_one_signs_in_and_clears_the_account(settings, engine, users, clock):
    users.create("viewer", username="bob")
    app = app_with(settings, engine, login_max_failures=3, login_delay_s=0)
    c, token = form_client(app)
    assert sign_in(c, token, "bob", "typo-typo").status_code == 401
    assert sign_in(c, token, "bob", "password123").status_code == 303
    c2, token2 = form_client(app)
    # the success cleared bob's count: two more failures are still below the lockout
    assert [sign_in(c2, token2, "bob", "typo-typo").status_code for _ in range(2)] == [401, 401]


def test_delay_doubles_after_the_free_failures(settings, engine, users, clock):
    users.create("viewer", username="carol")
    app = app_with(settings, engine, login_max_failures=6, login_delay_s=10, login_max_delay_s=1000)
    c, token = form_client(app)
    assert [sign_in(c, token, "carol", "wrong-pass").status_code for _ in range(4)] == [401] * 4  # 3 free, 4th 401
    early = sign_in(c, token, "carol", "password123")
    assert early.status_code == 429 and early.headers["retry-after"] == "10"
    clock.advance(10)
    assert sign_in(c, token, "carol", "wrong-pass").status_code == 401
    assert sign_in(c, token, "carol", "wrong-pass").headers["retry-after"] == "20"
    clock.advance(20)
    assert sign_in(c, token, "carol", "password123").status_code == 303


def test_address_lockout_spans_usernames_and_spares_other_addresses(settings, engine, factory, users, clock):
    users.create("viewer", username="dana")
    app = app_with(settings, engine, login_max_failures=100, login_address_max_failures=4, login_delay_s=0,
                   login_lockout_s=300)
    c, token = form_client(app, "198.51.100.20")
    codes = [sign_in(c, token, name, "wrong-pass").status_code for name in ("u1", "u2", "u3", "u4")]
    assert codes == [401, 401, 401, 429]
    refused = sign_in(c, token, "dana", "password123")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 300
    assert [(e.object_type, e.object_id) for e in lockouts(factory)] == [("client_address", "198.51.100.20")]
    other, token2 = form_client(app, "198.51.100.21")
    assert sign_in(other, token2, "dana", "password123").status_code == 303


def test_forwarded_for_keys_the_address_only_behind_a_trusted_proxy(settings, engine, users, clock):
    users.create("viewer", username="erin")
    app = app_with(settings, engine, login_max_failures=100, login_address_max_failures=2, login_delay_s=0,
                   trusted_proxies="10.0.0.1")
    c, token = form_client(app, "10.0.0.1")

    def attempt(client_ip: str, password: str = "wrong-pass") -> int:
        return c.post("/login", data={"username": "erin", "password": password, "csrf_token": token},
                      headers={"x-forwarded-for": client_ip}, follow_redirects=False).status_code

    assert [attempt("192.0.2.1"), attempt("192.0.2.1")] == [401, 429]
    assert attempt("192.0.2.2", "password123") == 303  # another client behind the same proxy
    # an untrusted peer cannot pick its key by sending the header
    direct, token3 = form_client(app, "192.0.2.50")
    for fake in ("192.0.2.60", "192.0.2.61"):
        direct.post("/login", data={"username": "x", "password": "wrong-pass", "csrf_token": token3},
                    headers={"x-forwarded-for": fake})
    r = direct.post("/login", data={"username": "erin", "password": "password123", "csrf_token": token3},
                    headers={"x-forwarded-for": "192.0.2.62"}, follow_redirects=False)
    assert r.status_code == 429


# ---- bearer tokens ----

def test_bad_bearer_tokens_lock_the_address_then_pass_after_the_lockout(settings, engine, factory, users, clock):
    good = users.token(users.create("viewer"))
    app = app_with(settings, engine, token_max_failures=4, login_delay_s=0, login_lockout_s=120)
    c = TestClient(app, client=("198.51.100.30", 1))
    bad = [c.get("/api/v1/me", headers={"Authorization": f"Bearer tko_guess{i}"}) for i in range(4)]
    assert [r.status_code for r in bad] == [401, 401, 401, 429]
    assert bad[3].json()["error"]["code"] == "rate_limited" and bad[3].headers["retry-after"] == "120"
    during = c.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
    assert during.status_code == 429 and during.json()["error"]["code"] == "rate_limited"
    assert TestClient(app, client=("198.51.100.31", 1)).get(
        "/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    assert [(e.object_type, e.object_id, e.diff["scope"]["to"]) for e in lockouts(factory)] == [
        ("client_address", "198.51.100.30", "token")]
    clock.advance(120)
    assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    # a missing header is not a guess: it never counts
    assert all(c.get("/api/v1/me").status_code == 401 for _ in range(6))


# ---- per-token rate limits ----

def test_api_rate_limit_is_per_token_with_retry_after(settings, engine, users, frozen_limits):
    app = app_with(settings, engine, api_rate_limit_per_minute=3)
    c = TestClient(app)
    h1 = {"Authorization": f"Bearer {users.token(users.create('viewer'))}"}
    h2 = {"Authorization": f"Bearer {users.token(users.create('viewer'))}"}
    assert [c.get("/api/v1/me", headers=h1).status_code for _ in range(3)] == [200] * 3
    r = c.get("/api/v1/me", headers=h1)
    assert r.status_code == 429
    body = r.json()["error"]
    assert body["code"] == "rate_limited" and "3 API requests per minute" in body["message"]
    assert r.headers["retry-after"] == "60"  # the frozen clock stands at the start of a minute
    assert c.get("/api/v1/me", headers=h2).status_code == 200


def _events(n: int) -> list[dict]:
    return [{"id": uuid.uuid4().hex, "use_case": "throttle-uc", "release": "throttle-uc:1", "ts": time.time(),
             "latency_ms": 50.0, "status": "ok"} for _ in range(n)]


def test_ingestion_events_per_second_refuses_the_batch_and_stores_nothing(settings, engine, factory, users, frozen_limits):
    from takeoff.telemetry.models import TelemetryEvent

    app = app_with(settings, engine, ingest_events_per_second=5)
    c = TestClient(app)
    h = {"Authorization": f"Bearer {users.token(users.create('ai_engineer'))}"}
    assert c.post("/api/v1/events", json={"events": _events(4)}, headers=h).json()["accepted"] == 4
    r = c.post("/api/v1/events", json={"events": _events(4)}, headers=h)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "rate_limited" and "5 events per second" in r.json()["error"]["message"]
    with transaction(factory) as s:
        assert len(list(s.scalars(select(TelemetryEvent.id)))) == 4


def test_ingestion_requests_per_second_and_api_limit_are_counted_apart(settings, engine, users, frozen_limits):
    app = app_with(settings, engine, ingest_rate_limit_per_second=2, api_rate_limit_per_minute=100)
    c = TestClient(app)
    h = {"Authorization": f"Bearer {users.token(users.create('ai_engineer'))}"}
    codes = [c.post("/api/v1/events", json={"events": _events(1)}, headers=h).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert c.get("/api/v1/me", headers=h).status_code == 200  # the API allowance is separate


def test_zero_turns_the_limits_off(settings, engine, users):
    app = app_with(settings, engine, api_rate_limit_per_minute=0, token_max_failures=0)
    c = TestClient(app)
    h = {"Authorization": f"Bearer {users.token(users.create('viewer'))}"}
    assert all(c.get("/api/v1/me", headers=h).status_code == 200 for _ in range(30))
    assert all(c.get("/api/v1/me", headers={"Authorization": "Bearer tko_x"}).status_code == 401 for _ in range(30))


def _json_body(span_id: str) -> dict:
    """An OTLP/JSON export of one GenAI span."""
    now = time.time_ns()
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "otlp-throttle"}}]},
        "scopeSpans": [{"scope": {"name": "x"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": "chat m", "kind": 3,
            "startTimeUnixNano": str(now - 250_000_000), "endTimeUnixNano": str(now),
            "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "m"}}], "status": {}}]}]}]}


def test_otlp_spans_count_against_the_events_allowance(settings, engine, users, frozen_limits):
    app = app_with(settings, engine, ingest_events_per_second=1)
    c = TestClient(app)
    h = {"Authorization": f"Bearer {users.token(users.create('ai_engineer'))}", "Content-Type": "application/json"}
    first = c.post("/v1/traces", content=json.dumps(_json_body(span_id="eee19b7ec3c1b001")), headers=h)
    second = c.post("/v1/traces", content=json.dumps(_json_body(span_id="eee19b7ec3c1b002")), headers=h)
    assert first.status_code == 200, first.text
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    assert second.json()["error"]["code"] == "rate_limited"
