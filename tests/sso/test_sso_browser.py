"""Single sign-on in Chromium against a real OpenID provider that no one here wrote: the npm `oidc-provider`
(pinned in package.json) started by tests/sso/oidc_provider.mjs on loopback, with a user whose groups change."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from takeoff.app import create_app
from takeoff.audit.models import AuditEntry
from takeoff.auth import oidc, sso
from takeoff.core.actor import Actor
from takeoff.core.db import transaction
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.sso.conftest import sso_settings
from tests.sso.provider import free_port, oidc_provider

ROOT = Path(__file__).resolve().parents[2]
SECRET = "browser-client-secret-0123456789"


_free_port = free_port


USERS = {"mulder": {"password": "trustno1", "claims": {"preferred_username": "fmulder", "email": "mulder@example.com",
                                                       "name": "Fox Mulder", "groups": ["xfiles-admins"]}}}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """oidc-provider on a free port (once per module: Node starts in seconds on a busy machine); yields its issuer,
    the takeoff port it redirects to and its users file."""
    app_port = _free_port()
    config = tmp_path_factory.mktemp("oidc") / "provider.json"
    with oidc_provider(config, SECRET, f"http://127.0.0.1:{app_port}/auth/oidc/callback", USERS) as issuer:
        yield {"issuer": issuer, "app_port": app_port, "config": config}


@pytest.fixture
def sso_server(settings: Any, engine: Any, provider: dict[str, Any]) -> Iterator[str]:
    """takeoff with SSO at the provider, served on the port the provider redirects to."""
    if engine.dialect.name != "sqlite":  # new-test time: the sign-in's database work runs on both in test_sso_tokens
        pytest.skip("one browser run suffices; tests/sso/test_sso_tokens.py covers PostgreSQL")
    oidc.forget_cache()
    cfg = json.loads(provider["config"].read_text())
    provider["config"].write_text(json.dumps({**cfg, "users": USERS}))
    app = create_app(sso_settings(settings, provider["issuer"], oidc_client_id="takeoff", oidc_client_secret=SECRET,
                                  oidc_scopes="openid profile email groups", oidc_provider_name="X-Files IdP"),
                     engine=engine, start_worker=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=provider["app_port"], log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "takeoff did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{provider['app_port']}"
    server.should_exit = True
    thread.join(10)


def _sign_in(page: Any, base: str) -> None:
    page.goto(base + "/login?next=/usecases")
    page.click("#sso-login")
    page.wait_for_selector("#login")
    page.fill("#login", "mulder")
    page.fill("#password", "trustno1")
    page.click("#submit")
    page.wait_for_load_state("load")


def test_sign_in_through_oidc_provider_in_the_browser(sso_server: str, provider: dict[str, Any], factory: Any) -> None:
    from playwright.sync_api import sync_playwright

    with transaction(factory) as s:
        sso.set_mapping(s, Actor("system", ("admin",)), {"xfiles-admins": ["admin"], "xfiles": ["viewer"]})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            _sign_in(page, sso_server)
            assert page.url == sso_server + "/usecases", page.url
            me = context.request.get(sso_server + "/api/v1/me").json()
            assert me["username"] == "fmulder" and me["roles"] == ["admin"]
            # The provider moves the user to another group: at the next sign-in the admin role is gone.
            cfg = json.loads(provider["config"].read_text())
            cfg["users"]["mulder"]["claims"]["groups"] = ["xfiles"]
            provider["config"].write_text(json.dumps(cfg))
            context2 = browser.new_context()
            page2 = context2.new_page()
            _sign_in(page2, sso_server)
            assert context2.request.get(sso_server + "/api/v1/me").json()["roles"] == ["viewer"]
        finally:
            browser.close()
    with transaction(factory) as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-4:] == ["user.create", "sso.login", "user.roles", "sso.login"]
