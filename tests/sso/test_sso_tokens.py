"""Single sign-on against a provider whose ID tokens the test signs: users created and updated from groups, and
every way a token can fail to prove the sign-in (signature, audience, expiry, nonce, replay, provider down)."""
from __future__ import annotations

import logging
import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takeoff.audit.models import AuditEntry
from takeoff.auth import oidc
from takeoff.auth.models import SsoIdentity, User
from takeoff.core.db import transaction
from tests.conftest import web_login
from tests.sso.conftest import CLIENT_SECRET, OTHER_KEY, FakeProvider, sso_settings

MAPPING = {"ai-admins": ["admin"], "ai-engineers": ["ai_engineer"]}


def _start(c: TestClient, next_path: str = "/") -> dict[str, str]:
    """Begin a sign-in; the query the provider would get (state, nonce, PKCE challenge...)."""
    r = c.get(f"/auth/oidc/login?next={next_path}", follow_redirects=False)
    assert r.status_code == 303, r.text
    q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    return q


def _callback(c: TestClient, state: str, code: str = "code-1") -> Any:
    return c.get(f"/auth/oidc/callback?state={state}&code={code}", headers={"Accept": "text/html"},
                 follow_redirects=False)


def _map(c: TestClient, admin: dict[str, str], mapping: dict[str, list[str]] = MAPPING) -> None:
    r = c.put("/api/v1/sso/mapping", json={"mapping": mapping}, headers=admin)
    assert r.status_code == 200, r.text


def _actions(factory: Any) -> list[str]:
    with transaction(factory) as s:
        return [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_first_sign_in_creates_the_user_with_mapped_roles_and_pkce(sso_app: Any, factory: Any, admin: Any,
                                                                  fake_provider: FakeProvider) -> None:
    c = TestClient(sso_app)
    _map(c, admin)
    q = _start(c, "/usecases")
    assert q["code_challenge_method"] == "S256" and q["code_challenge"] and q["nonce"] and q["scope"].startswith("openid")
    fake_provider.sign(q["nonce"])
    r = _callback(c, q["state"])
    assert r.status_code == 303 and r.headers["location"] == "/usecases", r.text
    me = c.get("/api/v1/me").json()
    assert me["username"] == "dana.scully" and me["roles"] == ["admin"]
    sent = fake_provider.token_requests[-1]
    assert sent["code"] == ["code-1"] and len(sent["code_verifier"][0]) >= 43  # PKCE verifier sent with the code
    with transaction(factory) as s:
        user = s.scalar(select(User).where(User.username == "dana.scully"))
        assert user is not None and user.password_hash is None and user.email == "dana@example.com"
        ident = s.scalar(select(SsoIdentity))
        assert ident is not None and ident.subject == "u-123" and ident.granted_roles == ["admin"]
    assert _actions(factory)[-3:] == ["sso.mapping.set", "user.create", "sso.login"]


def test_roles_follow_the_groups_at_each_sign_in(sso_app: Any, factory: Any, admin: Any,
                                                 fake_provider: FakeProvider) -> None:
    c = TestClient(sso_app)
    _map(c, admin)
    q = _start(c)
    fake_provider.sign(q["nonce"], groups=["ai-admins", "ai-engineers"])
    assert _callback(c, q["state"]).status_code == 303
    with transaction(factory) as s:  # an admin also gives a role by hand: SSO never takes that one back
        user = s.scalar(select(User).where(User.username == "dana.scully"))
        assert user is not None and user.roles == ["admin", "ai_engineer"]
        user.roles = [*user.roles, "viewer"]
    q = _start(c)
    fake_provider.sign(q["nonce"], groups=["ai-engineers"])
    assert _callback(c, q["state"]).status_code == 303
    assert c.get("/api/v1/me").json()["roles"] == ["ai_engineer", "viewer"]
    # Removed from every mapped group, with no hand-given role left: the roles go and the sign-in is refused.
    with transaction(factory) as s:
        user = s.scalar(select(User).where(User.username == "dana.scully"))
        assert user is not None
        user.roles = ["ai_engineer"]
    c2 = TestClient(sso_app)
    q = _start(c2)
    fake_provider.sign(q["nonce"], groups=["staff"])
    r = _callback(c2, q["state"])
    assert r.status_code == 403 and "no longer in any group" in r.text
    with transaction(factory) as s:
        user = s.scalar(select(User).where(User.username == "dana.scully"))
        assert user is not None and user.roles == []
        changes = [e.diff for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "user.roles")
                                                .order_by(AuditEntry.id))]
    assert [d["roles"]["to"] for d in changes] == [["ai_engineer", "viewer"], []]
    assert _actions(factory)[-1] == "sso.login_refused"
    assert c2.get("/api/v1/me").status_code == 401


def test_a_user_in_no_mapped_group_is_not_created(sso_app: Any, factory: Any, admin: Any,
                                                 fake_provider: FakeProvider) -> None:
    c = TestClient(sso_app)
    q = _start(c)  # no mapping at all
    fake_provider.sign(q["nonce"])
    r = _callback(c, q["state"])
    assert r.status_code == 401 and "no group that an administrator mapped" in r.text
    with transaction(factory) as s:
        assert s.scalar(select(User).where(User.username == "dana.scully")) is None


@pytest.mark.parametrize(("case", "claims", "message"), [
    ("bad signature", {"key": OTHER_KEY}, "signature does not verify"),
    ("wrong audience", {"aud": "another-client"}, "issued to another client"),
    ("wrong issuer", {"iss": "https://evil.example"}, "issued by another provider"),
    ("expired", {"exp": 1_000_000_000, "iat": 999_999_000}, "has expired"),
    ("no expiry", {"exp": None}, "has no expiry"),
])
def test_a_token_that_does_not_prove_the_sign_in_is_refused(sso_app: Any, factory: Any, admin: Any,
                                                            fake_provider: FakeProvider, case: str,
                                                            claims: dict[str, Any], message: str) -> None:
    c = TestClient(sso_app)
    _map(c, admin)
    q = _start(c)
    fake_provider.sign(q["nonce"], **claims)
    r = _callback(c, q["state"])
    assert r.status_code == 401, (case, r.text)
    assert message in r.text and "Traceback" not in r.text
    assert "takeoff_session" not in r.cookies
    with transaction(factory) as s:
        assert s.scalar(select(User).where(User.username == "dana.scully")) is None


def test_a_replayed_nonce_or_callback_is_refused(sso_app: Any, factory: Any, admin: Any,
                                                 fake_provider: FakeProvider) -> None:
    c = TestClient(sso_app)
    _map(c, admin)
    first = _start(c)
    fake_provider.sign(first["nonce"])
    assert _callback(c, first["state"]).status_code == 303
    # The same callback again, with its state cookie: its sign-in was used once already.
    replay = TestClient(sso_app)
    replay.cookies.set("takeoff_sso_state", first["state"])
    r = _callback(replay, first["state"])
    assert r.status_code == 401 and "already completed" in r.text
    # A new sign-in answered with the old token (its nonce belongs to the first sign-in).
    second = _start(c)
    r = _callback(c, second["state"])
    assert r.status_code == 401 and "nonce" in r.text
    # A state from another browser (no state cookie here).
    third = _start(c)
    r = TestClient(sso_app).get(f"/auth/oidc/callback?state={third['state']}&code=x", follow_redirects=False)
    assert r.status_code == 401 and "not started in this browser" in r.text
    assert _actions(factory).count("sso.login") == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_provider_that_is_down_gives_a_clear_page(settings: Any, engine: Any, factory: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from takeoff.app import create_app

    oidc.forget_cache()
    app = create_app(sso_settings(settings, f"http://127.0.0.1:{_closed_port()}"), engine=engine, start_worker=False)
    c = TestClient(app)
    with caplog.at_level(logging.INFO):
        r = c.get("/auth/oidc/login", headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 503
        assert "cannot be reached" in r.text and "try again later" in r.text
        r = c.get("/auth/oidc/callback?state=abc&code=x", headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 401  # no sign-in was started: refused before asking the provider
    assert CLIENT_SECRET not in caplog.text
    login = c.get("/login")
    assert "Sign in with Test IdP" in login.text and 'name="password"' in login.text


def test_provider_errors_and_a_mixed_up_issuer_are_pages_not_500(sso_app: Any, fake_provider: FakeProvider) -> None:
    c = TestClient(sso_app)
    r = c.get("/auth/oidc/callback?error=access_denied&error_description=<b>no</b>", follow_redirects=False)
    assert r.status_code == 401 and "access_denied" in r.text and "<b>no</b>" not in r.text
    q = _start(c)
    r = c.get(f"/auth/oidc/callback?state={q['state']}&code=x&iss=https://other.example", follow_redirects=False)
    assert r.status_code == 401 and "another identity provider" in r.text


def test_mapping_api_is_admin_only_validated_and_never_shows_the_secret(sso_app: Any, users: Any,
                                                                        admin: Any) -> None:
    c = TestClient(sso_app)
    r = c.put("/api/v1/sso/mapping", json={"mapping": {"g": ["wizard"]}}, headers=admin)
    assert r.status_code == 422 and "unknown role 'wizard'" in r.json()["error"]["message"]
    r = c.put("/api/v1/sso/mapping", json={"mapping": MAPPING}, headers=users.headers("viewer"))
    assert r.status_code == 403 and "user.admin" in r.json()["error"]["message"]
    r = c.get("/api/v1/sso", headers=admin)
    assert r.status_code == 200 and r.json()["client_secret_set"] is True and r.json()["enabled"] is True
    assert CLIENT_SECRET not in r.text


def test_break_glass_keeps_passwords_for_named_admins_only(settings: Any, engine: Any, users: Any,
                                                            fake_provider: FakeProvider) -> None:
    from takeoff.app import create_app

    users.create("admin", username="rescue")
    users.create("viewer", username="carol")
    app = create_app(sso_settings(settings, fake_provider.issuer, local_login="break_glass",
                                  break_glass_users="rescue"), engine=engine, start_worker=False)
    web_login(app, "rescue")
    c = TestClient(app)
    c.get("/login")
    r = c.post("/login", data={"username": "carol", "password": "password123",
                               "csrf_token": c.cookies.get("takeoff_login_csrf"), "next": "/"}, follow_redirects=False)
    assert r.status_code == 401 and "Password sign-in is switched off" in r.text
    # Machines keep their API tokens.
    assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {users.token('carol')}"}).status_code == 200


@pytest.mark.parametrize(("env", "named"), [
    ({"TAKEOFF_OIDC_ISSUER": "https://idp.example"}, "TAKEOFF_OIDC_CLIENT_ID"),
    ({"TAKEOFF_OIDC_ISSUER": "ftp://idp.example", "TAKEOFF_OIDC_CLIENT_ID": "x"}, "TAKEOFF_OIDC_ISSUER"),
    ({"TAKEOFF_LOCAL_LOGIN": "break_glass"}, "TAKEOFF_LOCAL_LOGIN"),
    ({"TAKEOFF_OIDC_ISSUER": "https://idp.example", "TAKEOFF_OIDC_CLIENT_ID": "x",
      "TAKEOFF_LOCAL_LOGIN": "break_glass"}, "TAKEOFF_BREAK_GLASS_USERS"),
    ({"TAKEOFF_OIDC_ISSUER": "https://idp.example", "TAKEOFF_OIDC_CLIENT_ID": "x", "TAKEOFF_OIDC_SCOPES": "email"},
     "TAKEOFF_OIDC_SCOPES"),
])
def test_bad_sso_settings_stop_the_server_naming_the_variable(env: dict[str, str], named: str, tmp_path: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from takeoff.cli import app

    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TAKEOFF_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    result = CliRunner().invoke(app, ["migrate"], env=env)
    assert result.exit_code == 2, result.output
    assert named in result.output and CLIENT_SECRET not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_public_start_route_cannot_grow_the_state_table_without_bound(sso_app: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from takeoff.auth import sso

    monkeypatch.setattr(sso, "MAX_PENDING", 2)
    c = TestClient(sso_app)
    _start(c)
    _start(c)
    r = c.get("/auth/oidc/login", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 429 and "too many sign-ins" in r.text
