"""axe-core on every page of the demo workspace, in one Chromium page: the navigation, each use case's page
sections and its per-use-case pages (the CSP crawl's start list), plus one page of each kind they link to (a
release, an eval run, an incident): zero serious or critical violations. Screenshots of the main pages go to
test-artifacts/screenshots/ for review (not compared)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_csp_browser import demo_pages

from takeoff.demo.seed import PASSWORD_ENV_DEFAULT

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "src" / "takeoff" / "web" / "static" / "vendor" / "axe.min.js"
# axe's own rules, every page: WCAG 2 A/AA plus best practices; only serious and critical findings fail the test
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""
SHOT_PAGES = {"/": "home", "/usecases": "portfolio", "/readiness": "readiness", "/releases": "releases",
              "/monitoring": "monitoring", "/outcomes": "outcomes", "/evalruns": "eval_runs",
              "/monitoring/usecase/support-reply/drift": "drift_support-reply"}
LINKED = ("table.eval-runs a[href^='/evalruns/']", "a[href^='/releases/support-reply:']", "a[href^='/incidents/']")


def _shot_name(path: str) -> str | None:
    if path in SHOT_PAGES:
        return SHOT_PAGES[path]
    if path.startswith("/usecases/support-reply"):
        return "usecase_" + (path.removeprefix("/usecases/support-reply").strip("/") or "overview")
    return None


@pytest.mark.one_backend  # the pages' markup does not depend on the database: checked once, on SQLite
def test_every_demo_page_has_no_serious_accessibility_violation(demo_seeded, factory, settings, live_server):
    from playwright.sync_api import sync_playwright

    assert AXE.is_file(), f"{AXE} is missing: run `make setup` (it copies axe-core from node_modules)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[dict[str, Any]]] = {}
    visited: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.goto(f"{live_server}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD_ENV_DEFAULT)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/")

        def check(path: str) -> None:
            resp = page.goto(f"{live_server}{path}")
            assert resp is not None and resp.status < 400, f"{path}: {resp.status if resp else 'no response'}"
            page.wait_for_load_state("networkidle")  # htmx sections loaded: they are checked too
            page.add_script_tag(url="/static/vendor/axe.min.js")
            bad = page.evaluate(AXE_RUN)
            if bad:
                found[path] = bad
            visited.append(path)
            name = _shot_name(path)
            if name:
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

        for path in demo_pages():
            check(path)
            if path in ("/evalruns", "/releases", "/incidents"):
                for sel in LINKED:
                    href = page.eval_on_selector_all(sel, "els => els.length ? els[0].getAttribute('href') : null")
                    if href:
                        check(href.split("#", 1)[0])
                        break
        # the check can fail: an image without alternative text is a critical violation
        page.evaluate("() => document.body.appendChild(document.createElement('img'))")
        assert any(v["id"] == "image-alt" for v in page.evaluate(AXE_RUN))
        browser.close()
    print(f"axe-core checked {len(visited)} pages; screenshots in {SHOTS}")
    assert len(visited) >= 50, visited
    assert not found, f"axe-core serious/critical violations: {found}"
