"""The web shell: login, CSRF, tokens page — through the real pages, and in headless Chromium."""
from __future__ import annotations

import re

import httpx
import pytest


def _login_form(client) -> str:
    html = client.get("/login").text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_wrong_password_same_message_whether_or_not_user_exists(client, users):
    users.create("viewer", username="alice")
    token = _login_form(client)
    wrong = client.post("/login", data={"username": "alice", "password": "nope-nope", "csrf_token": token})
    ghost = client.post("/login", data={"username": "nobody", "password": "nope-nope", "csrf_token": token})
    assert wrong.status_code == ghost.status_code == 401
    msg = re.compile(r'role="alert">([^<]+)<')
    assert msg.search(wrong.text).group(1) == msg.search(ghost.text).group(1) == "invalid username or password"


def test_login_without_csrf_is_refused(client, users):
    users.create("viewer", username="bob")
    client.get("/login")
    r = client.post("/login", data={"username": "bob", "password": "password123"}, follow_redirects=False)
    assert r.status_code == 403
    assert "takeoff_session" not in r.cookies


def test_form_without_csrf_token_is_refused_and_writes_nothing(client, users, admin):
    users.create("admin", username="carol")
    token = _login_form(client)
    r = client.post("/login", data={"username": "carol", "password": "password123", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    before = len(client.get("/api/v1/tokens", headers=admin).json()["items"])
    refused = client.post("/tokens", data={"name": "sneaky"}, headers={"accept": "application/json"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
    assert len(client.get("/api/v1/tokens", headers=admin).json()["items"]) == before
    # the JSON API with a session cookie also needs the CSRF header
    api = client.post("/api/v1/tokens", json={"name": "x"}, headers={"accept": "application/json"})
    assert api.status_code == 401 and api.json()["error"]["code"] == "csrf"


def test_pages_redirect_to_login_when_signed_out(client):
    r = client.get("/tokens", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.browser
def test_browser_login_create_token_and_use_it(live_server, page, users):
    users.create("ai_engineer", username="dana")
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    assert page.locator("header a", has_text="dana").count() == 1
    page.goto(f"{live_server}/tokens")
    page.fill("input[name=name]", "ci-pipeline")
    page.fill("input[name=expires_days]", "30")
    page.click("#create-token")
    token = page.locator("#new-token-value").inner_text().strip()
    assert token.startswith("tko_")
    assert page.locator("#tokens tbody tr", has_text="ci-pipeline").count() == 1
    me = httpx.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "dana"
    page.goto(f"{live_server}/")
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login.*"))
    assert httpx.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_navigation_lists_the_pages_this_build_serves(client, users):
    users.create("admin", username="nav")
    token = _login_form(client)
    client.post("/login", data={"username": "nav", "password": "password123", "csrf_token": token})
    html = client.get("/").text
    for label, href in (("Audit", "/audit"), ("Admin", "/admin/users")):
        assert f'href="{href}"' in html, label


def test_browser_requests_get_html_errors_api_clients_json(client, users, admin):
    users.create("viewer", username="gina")
    token = _login_form(client)
    client.post("/login", data={"username": "gina", "password": "password123", "csrf_token": token})
    page = client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"] and "Not found" in page.text
    denied = client.get("/audit", headers={"accept": "text/html"})
    assert denied.status_code == 403 and "audit.read" in denied.text
    api = client.get("/api/v1/nothing", headers=admin)
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
