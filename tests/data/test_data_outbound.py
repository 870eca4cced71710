"""Issue 16.5: a data owner cannot point a data source at the server's own network unless the operator lists it."""
from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient

from takeoff.app import create_app
from takeoff.data.connect import SourceError, open_source

from .conftest import source_body


@pytest.fixture
def strict(settings, engine):  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"outbound_allow_hosts": ""}), engine=engine, start_worker=False)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("connection", [
    "postgresql+psycopg://reader:pw@127.0.0.1:5432/shop",
    "postgresql+psycopg://reader:pw@169.254.169.254/shop",
    "postgresql+psycopg://reader:pw@10.0.0.1/shop",
    "postgresql+psycopg://reader:pw@[::1]/shop",
    "postgresql+psycopg://reader:pw@localhost/shop",
    "postgresql+psycopg://reader:pw@/shop",  # no host: the local socket
    "postgresql+psycopg://reader:pw@db.example/shop?host=/var/run/postgresql",
])
def test_internal_source_hosts_are_refused_at_registration(strict, owner, use_case, connection):
    r = strict.post("/api/v1/datasources", json=source_body(connection, use_case, owner["name"]),
                    headers=owner["headers"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["field"] == "connection"
    assert "pw" not in r.text


def test_a_source_name_resolving_inside_is_refused_when_opened(monkeypatch):
    from takeoff.core import netguard

    netguard.configure(netguard.STRICT)
    real = socket.getaddrinfo

    def fake(host, port, family=0, type=0, *a, **kw):  # type: ignore[no-untyped-def]
        if host == "db.rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, family, type, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(SourceError, match="refused: data source host db.rebind.example .* loopback") as info:
        open_source("postgresql+psycopg://reader:pw@db.rebind.example:5432/shop")
    assert "pw" not in info.value.reason
    netguard.configure(netguard.parse_allow("db.rebind.example"))
    with open_source("postgresql+psycopg://reader:pw@db.rebind.example:5432/shop") as conn:
        assert conn.engine is not None  # pinned: libpq connects to the checked address
