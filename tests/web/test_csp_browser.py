"""Under the Content-Security-Policy (scripts from /static only), every page of a demo workspace opens in Chromium
without one CSP violation, and its interactive parts still work: charts draw, htmx sections load, JS forms submit."""
from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS

from takeoff.demo.seed import PASSWORD_ENV_DEFAULT, USE_CASES
from takeoff.web.render import NAV

MAX_PAGES = 160
PER_SHAPE = 2  # pages of one shape (ids replaced) visited: /releases/3 and /releases/7 test the same template
SKIP = re.compile(r"^/(static/|logout|api/docs)|format=md|\.csv|/export")
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.reportCsp(location.pathname + ": " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
                   + (e.sample ? " (" + e.sample + ")" : ""));
});
"""


def demo_pages() -> list[str]:
    """The demo's pages every browser check starts from: home, the navigation, each use case's page sections and
    its per-use-case pages (the CSP crawl follows their links further; the axe-core check visits exactly these)."""
    from takeoff.portfolio.web import SECTION_NAMES

    keys = [u["key"] for u in USE_CASES]
    return (["/", "/tokens", "/audit", "/evalruns"] + [p for _, p in NAV]
            + [f"/usecases/{k}" + ("" if s == "overview" else f"/{s}") for k in keys for s in SECTION_NAMES]
            + [f"/{area}/{k}" for k in keys for area in ("readiness", "outcomes")]
            + [f"/monitoring/usecase/{k}/drift" for k in keys] + [f"/usecases/{keys[0]}/capture", "/requests/unit-deletion"])


@pytest.fixture
def csp_page() -> Iterator[tuple[Any, list[str], list[str]]]:
    """A Chromium page reporting CSP violations (DOM events and console) and JavaScript errors; Playwright is
    started here, not session-wide (its event loop would break later tests that call asyncio.run)."""
    from playwright.sync_api import sync_playwright

    violations: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = b.new_context()
        context.expose_binding("reportCsp", lambda _source, text: violations.append(text))
        context.add_init_script(REPORT_CSP)
        pg = context.new_page()
        pg.on("console", lambda m: violations.append(f"console: {m.text}")
              if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text else None)
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        yield pg, violations, errors
        b.close()


def _shape(url: str) -> str:
    parts = urlsplit(url)
    keys = sorted(q.split("=", 1)[0] for q in parts.query.split("&") if q)
    return re.sub(r"\d+", "N", parts.path) + "?" + "&".join(keys)


def _links(page: Any, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    out = []
    for href in hrefs:
        url = urljoin(page.url, href).split("#", 1)[0]
        rel = url[len(base):] if url.startswith(base) else None
        if rel is None or SKIP.search(rel) or (rel.startswith("/api/") and "format=html" not in rel):
            continue
        out.append(url)
    return out


def _crawl(page: Any, base: str, start: list[str]) -> list[str]:
    """Breadth-first over the workspace's GET links from the start pages; returns the paths visited."""
    queue, seen, shapes, visited = deque(base + p for p in start), set(), Counter(), []
    while queue and len(visited) < MAX_PAGES:
        url = queue.popleft()
        if url in seen or shapes[_shape(url)] >= PER_SHAPE:
            continue
        seen.add(url)
        shapes[_shape(url)] += 1
        resp = page.goto(url)
        assert resp is not None and resp.status < 400, f"{url}: {resp.status if resp else 'no response'}"
        page.wait_for_load_state("networkidle")
        visited.append(url[len(base):])
        queue.extend(u for u in _links(page, base) if u not in seen)
    return visited


def test_every_demo_page_works_under_the_csp(demo_seeded, factory, settings, live_server, csp_page):
    page, violations, errors = csp_page
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD_ENV_DEFAULT)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    # the detector sees a violation: an inline script injected into the page is refused and reported
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.pwned = 1';"
                  " document.body.appendChild(s); }")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.pwned") is None
    assert any("script-src" in v for v in violations), violations
    violations.clear()

    start = demo_pages()
    visited = _crawl(page, live_server, start)
    print(f"visited {len(visited)} pages under the CSP: {' '.join(visited)}")
    assert len(visited) >= 40 and {"/usecases", "/releases", "/audit"} <= set(visited), visited
    assert not violations, violations

    # a chart renders, htmx sections load and swap
    page.goto(f"{live_server}/usecases/support-reply/monitoring")
    page.wait_for_selector("#telemetry-dashboard canvas[data-drawn]")
    assert page.eval_on_selector("#telemetry-dashboard canvas[data-chart]", "e => !!Chart.getChart(e)")
    page.click("#telemetry-dashboard nav a:text-is('30d')")
    page.wait_for_selector("#telemetry-dashboard[data-range='30d'] canvas[data-drawn]")
    # a form submitted by htmx (with its CSRF header from hx-headers)
    page.goto(f"{live_server}/usecases/support-reply/outcomes")
    page.wait_for_selector("#feedback-widget")
    page.select_option("#feedback-widget select[name=rating]", "4")
    page.fill("#feedback-widget input[name=comment]", "CSP test feedback")
    page.click("#feedback-widget button[type=submit]")
    page.wait_for_selector("text=feedback is recorded")
    # an htmx button loading a partial
    page.goto(f"{live_server}/audit")
    page.click("button[hx-get='/audit/verify']")
    page.wait_for_selector("#verify mark.good")
    # the error page's "Go back" (a click handler in app.js, no javascript: URL)
    page.goto(f"{live_server}/usecases")
    page.goto(f"{live_server}/no-such-page")
    page.click("#go-back")
    page.wait_for_url(f"{live_server}/usecases")
    assert not violations, violations
    assert not errors, f"JavaScript errors: {errors}"
