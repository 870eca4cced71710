"""Every response carries the security headers; pages hold no inline script; cookies are Secure over HTTPS."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import web_login

from takeoff.app import create_app
from takeoff.web.headers import CSP, is_https, secure_cookie
from takeoff.web.render import NAV

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "takeoff" / "web" / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"javascript:", re.I)


def _assert_headers(resp, path: str) -> None:
    h = resp.headers
    assert h.get("x-frame-options") == "DENY", path
    assert h.get("x-content-type-options") == "nosniff", path
    assert h.get("referrer-policy") == "same-origin", path
    csp = h.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, path
    assert csp == CSP and "script-src 'self';" in csp, path  # the API explorer too: its files are local


def _assert_no_inline_script(html: str, path: str) -> None:
    for rx in (INLINE_SCRIPT, INLINE_HANDLER, JS_URL):
        found = rx.search(html)
        assert found is None, f"{path}: inline script {found.group(0)!r}"


def test_templates_hold_no_inline_script():
    for template in TEMPLATES.rglob("*.html"):
        _assert_no_inline_script(template.read_text(), str(template.relative_to(TEMPLATES)))


def test_every_page_and_response_carries_the_headers(app, users):
    users.create("admin", username="hdr")
    c = web_login(app, "hdr")
    for path in ["/", "/tokens", "/audit", "/audit/verify"] + [p for _, p in NAV]:
        r = c.get(path, headers={"accept": "text/html"})
        assert r.status_code < 500, path
        _assert_headers(r, path)
        if r.headers.get("content-type", "").startswith("text/html"):
            _assert_no_inline_script(r.text, path)
    anonymous = TestClient(app)
    for path, accept in [("/login", "text/html"), ("/no-such-page", "text/html"), ("/api/v1/me", "application/json"),
                         ("/static/app.js", "*/*"), ("/api/docs", "text/html"), ("/healthz", "*/*")]:
        r = anonymous.get(path, headers={"accept": accept}, follow_redirects=False)
        _assert_headers(r, path)
    error_page = anonymous.get("/no-such-page", headers={"accept": "text/html"})
    assert error_page.status_code == 404 and "data-back" in error_page.text
    _assert_no_inline_script(error_page.text, "/no-such-page")


def _login_cookies(app, base_url: str = "http://testserver", peer: str = "10.1.2.3", **headers: str) -> dict[str, str]:
    """The raw Set-Cookie headers of the login form and of a successful login, by cookie name."""
    c = TestClient(app, base_url=base_url, client=(peer, 50000))
    form = c.get("/login", headers=headers)
    token = c.cookies.get("takeoff_login_csrf") or re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    c.cookies.clear()  # sent by hand: a Secure cookie would not go back over this client's plain http
    r = c.post("/login", data={"username": "cook", "password": "password123", "next": "/", "csrf_token": token},
               headers={**headers, "Cookie": f"takeoff_login_csrf={token}"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    found = {}
    for resp in (form, r):
        for raw in resp.headers.get_list("set-cookie"):
            found.setdefault(raw.split("=", 1)[0], []).append(raw)
    return {name: " | ".join(values) for name, values in found.items()}


def _secure(raw: str) -> bool:
    return all("secure" in [a.strip().lower() for a in value.split(";")[1:]] for value in raw.split(" | "))


def test_cookies_are_secure_over_https_only(app, users):
    users.create("viewer", username="cook")
    plain = _login_cookies(app)
    assert plain["takeoff_session"] and not _secure(plain["takeoff_session"])
    https = _login_cookies(app, base_url="https://testserver")
    assert _secure(https["takeoff_session"]) and _secure(https["takeoff_login_csrf"])
    spoofed = _login_cookies(app, **{"X-Forwarded-Proto": "https"})  # no trusted proxy: the header is ignored
    assert not _secure(spoofed["takeoff_session"])


@pytest.mark.parametrize("update, proto, secure", [
    ({"trusted_proxies": "10.1.2.0/24"}, "https", True),
    ({"trusted_proxies": "10.1.2.0/24"}, "http", False),
    ({"trusted_proxies": "10.9.0.0/16"}, "https", False),  # the peer is not the trusted proxy: header ignored
    ({"cookie_secure": True}, "http", True),
])
def test_trusted_proxy_and_the_setting_make_cookies_secure(update, proto, secure, settings, engine, users):
    users.create("viewer", username="cook")
    app = create_app(settings.model_copy(update=update), engine=engine, start_worker=False)
    cookies = _login_cookies(app, **{"X-Forwarded-Proto": proto})
    assert _secure(cookies["takeoff_session"]) is secure


def test_https_and_cookie_rules():
    assert is_https("https", None, False) and not is_https("http", "https", False)
    assert is_https("http", "https, http", True) and not is_https("http", "http", True)
    assert secure_cookie(b"a=1; Path=/") == b"a=1; Path=/; Secure"
    assert secure_cookie(b"a=1; Secure; Path=/") == b"a=1; Secure; Path=/"
    assert secure_cookie(b"secure=1; Path=/") == b"secure=1; Path=/; Secure"


def test_the_guards_413_and_the_json_500_carry_the_headers(settings, engine, users):
    app = create_app(settings.model_copy(update={"max_body_bytes": 1000}), engine=engine, start_worker=False)
    h = users.headers("admin")
    c = TestClient(app, raise_server_exceptions=False)
    declared = c.post("/api/v1/events", content=b"{" + b" " * 2000 + b"}", headers={**h, "content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "too_large"
    _assert_headers(declared, "413 declared")

    def chunks():  # no Content-Length: the guard counts the body as it streams in
        yield b"{" + b" " * 600
        yield b" " * 600 + b"}"

    streamed = c.post("/api/v1/events", content=chunks(), headers={**h, "content-type": "application/json"})
    assert streamed.status_code == 413
    _assert_headers(streamed, "413 streamed")

    def boom() -> None:
        raise RuntimeError("kaboom")

    inner = app
    while not hasattr(inner, "add_api_route"):  # the FastAPI app inside the outer middleware
        inner = inner.app
    inner.add_api_route("/api/v1/boom-for-test", boom)
    r = c.get("/api/v1/boom-for-test", headers=h)
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal" and "kaboom" not in r.text
    _assert_headers(r, "500")
