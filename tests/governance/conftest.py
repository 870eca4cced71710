"""Fixtures of the governance tests: signing a fresh user in to the web pages."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest


@pytest.fixture
def signin(client, users) -> Callable[..., str]:  # type: ignore[no-untyped-def]
    """Sign a new user with the roles in (replacing any earlier session); returns the session's CSRF token."""

    def login(*roles: str) -> str:
        name = users.create(*roles)
        client.cookies.clear()
        client.get("/login")
        token = client.cookies.get("takeoff_login_csrf")
        r = client.post("/login", data={"username": name, "password": "password123", "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303
        return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/governance").text).group(1)

    return login
