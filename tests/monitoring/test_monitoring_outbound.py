"""Issue 16.5: a platform_engineer cannot point a webhook at the server's own network (loopback, metadata,
private) and fire it with /test; a host name that resolves there is refused at send time, on the delivery."""
from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient

from takeoff.app import create_app

from .conftest import make_use_case

SECRET = "s3cret-signing-key"


@pytest.fixture
def strict(settings, engine):  # type: ignore[no-untyped-def]
    """A client of an app with the default outbound rule (no loopback allowance, unlike the test settings)."""
    app = create_app(settings.model_copy(update={"outbound_allow_hosts": ""}), engine=engine, start_worker=False)
    with TestClient(app) as c:
        yield c


def _fake_dns(monkeypatch, answers):  # type: ignore[no-untyped-def]
    real = socket.getaddrinfo

    def fake(host, port, family=0, type=0, *a, **kw):  # type: ignore[no-untyped-def]
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]
        return real(host, port, family, type, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.1/hook", "http://[::1]:9/hook", "http://localhost:9/hook",
                                 "http://2130706433/hook"])
def test_a_webhook_at_an_internal_address_is_refused_at_creation(strict, users, factory, url) -> None:
    make_use_case(factory)
    h = users.headers("platform_engineer")
    r = strict.post("/api/v1/monitoring/channels", json={"name": "ops", "url": url, "secret": SECRET}, headers=h)
    assert r.status_code == 422, r.text
    assert "TAKEOFF_OUTBOUND_ALLOW_HOSTS" in r.json()["error"]["message"]


def test_a_host_name_resolving_inside_is_refused_when_sent(strict, users, factory, receiver, monkeypatch) -> None:
    make_use_case(factory)
    rx = receiver(200)
    port = rx.url.split(":")[2].split("/")[0]
    _fake_dns(monkeypatch, {"hooks.rebind.example": ["127.0.0.1"]})  # public-looking name, loopback answer
    h = users.headers("platform_engineer")
    r = strict.post("/api/v1/monitoring/channels", headers=h, json={
        "name": "ops", "url": f"http://hooks.rebind.example:{port}/hook", "secret": SECRET, "max_attempts": 1})
    assert r.status_code == 201, r.text  # the name is not internal by itself
    assert strict.post(f"/api/v1/monitoring/channels/{r.json()['id']}/test", headers=h).status_code == 202
    strict.app.state.worker.drain()
    failed = strict.get("/api/v1/monitoring/deliveries?status=failed", headers=h).json()
    assert len(failed) == 1 and failed[0]["last_status_code"] is None
    assert "refused" in failed[0]["last_error"] and "loopback" in failed[0]["last_error"]
    assert rx.requests == []  # nothing reached the internal receiver


def test_a_listed_host_is_sent_to_its_checked_address_with_its_own_host_header(settings, engine, users, factory,
                                                                                receiver, monkeypatch) -> None:
    make_use_case(factory)
    rx = receiver(200)
    port = rx.url.split(":")[2].split("/")[0]
    _fake_dns(monkeypatch, {"hooks.corp.example": ["127.0.0.1"]})
    app = create_app(settings.model_copy(update={"outbound_allow_hosts": "hooks.corp.example"}), engine=engine,
                     start_worker=False)
    with TestClient(app) as client:
        h = users.headers("platform_engineer")
        assert client.post("/api/v1/monitoring/channels", headers=h, json={
            "name": "lit", "url": rx.url, "secret": SECRET}).status_code == 422  # 127.0.0.1 itself is not listed
        r = client.post("/api/v1/monitoring/channels", headers=h, json={
            "name": "ops", "url": f"http://hooks.corp.example:{port}/hook", "secret": SECRET})
        assert r.status_code == 201, r.text
        client.post(f"/api/v1/monitoring/channels/{r.json()['id']}/test", headers=h)
        app.state.worker.drain()
        assert client.get("/api/v1/monitoring/deliveries?status=sent", headers=h).json()
    assert len(rx.requests) == 1 and rx.requests[0][0]["host"] == f"hooks.corp.example:{port}"
