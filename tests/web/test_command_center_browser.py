"""The pages a program lead opens first, in Chromium at 1440 px: the command center over the demo workspace (its
fragments load, each item links to its evidence, the navigation holds one line), the intake form with bad input
(the browser's checks match the server's, and the server shows every problem beside its field), the API explorer
with no network beyond the server, and axe-core's accessibility check (no serious or critical violation) on the home
and use-case pages. Screenshots of the main pages go to test-artifacts/screenshots/ for review (not compared)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from takeoff.audit import service as audit
from takeoff.core.db import transaction, utcnow
from takeoff.data.models import DataCheckRun, DataSource
from takeoff.incidents.models import Incident
from takeoff.monitoring.models import Alert, DriftResult
from takeoff.portfolio.models import UseCase, UseCaseScore
from takeoff.releases.models import Release

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "src" / "takeoff" / "web" / "static" / "vendor" / "axe.min.js"
MAIN_PAGES = ("/", "/usecases", "/usecases/support-reply", "/readiness", "/releases", "/monitoring", "/outcomes",
              "/datasources", "/incidents", "/telemetry", "/governance")
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                 nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


@pytest.fixture
def wide(browser) -> Iterator[tuple[Any, list[str]]]:  # type: ignore[no-untyped-def]
    """A page 1440 px wide, collecting JavaScript errors."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg, errors
    context.close()


def _login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now (the script comes from /static, so the
    page's CSP allows it)."""
    assert AXE.is_file(), f"{AXE} is missing: run `make setup` (it copies axe-core from node_modules)"
    page.add_script_tag(url="/static/vendor/axe.min.js")
    return [v for v in page.evaluate(AXE_RUN) if v["impact"] in ("serious", "critical")]


def _shot(page: Any, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _workspace(factory: Any, owner: str) -> None:
    """Three use cases in three stages: one serving with a canary and a broken data SLA, one on fire (severity 2
    incident, firing alert, drift), one proposed; every one scored, and a week of changes in the audit log."""
    now = utcnow()
    with transaction(factory) as s:
        for i, (key, stage) in enumerate((("support-reply", "production"), ("invoice-triage", "pilot"),
                                          ("contract-search", "proposed"))):
            uc = UseCase(key=key, name=key.replace("-", " ").capitalize(), status=stage, risk_tier="medium",
                         business_owner=owner, purpose="help", data_sources=["crm"], expected_users=10,
                         monthly_volume=1000 * (i + 1), targets={"latency_p95_ms": 1500, "max_error_rate": 0.05})
            s.add(uc)
            s.flush()
            s.add(UseCaseScore(use_case_id=uc.id, scorer=owner, scored_on=now.date(), value=5 - i, feasibility=4,
                               risk=2 + i))
            audit.record(s, owner, "usecase.create", "use_case", key, None, {"key": key})
        s.add(Release(use_case_key="support-reply", version=1, status="production", bundle={"model": "openai/gpt-4o-mini"}, content_hash="a" * 64,
                      created_by=owner, production_at=now))
        s.add(Release(use_case_key="support-reply", version=2, status="canary", canary_weight=10, bundle={"model": "openai/gpt-4o-mini"},
                      content_hash="b" * 64, created_by=owner))
        s.add(Release(use_case_key="invoice-triage", version=1, status="production", bundle={"model": "openai/gpt-4o-mini"}, content_hash="c" * 64,
                      created_by=owner, production_at=now))
        s.add(Incident(use_case_key="invoice-triage", title="wrong totals on credit notes", severity=2))
        s.add(Alert(use_case_key="invoice-triage", name="error rate above 5 %", state="firing"))
        s.add(DriftResult(use_case_key="invoice-triage", status="drift", drifted=["amount"]))
        src = DataSource(name="crm", entity="customers", owner=owner, interface="sql", connection_enc="x",
                         checks=[{"kind": "freshness", "column": "updated_at", "max_age_s": 86400}],
                         use_cases=["support-reply"])
        s.add(src)
        s.flush()
        s.add(DataCheckRun(source_id=src.id, status="breach"))


def test_command_center_answers_the_program_leads_questions(factory, users, live_server, wide):
    page, errors = wide
    users.create("admin", username="lena")
    _workspace(factory, "lena")
    _login(page, live_server, "lena", "password123")

    # first paint: every use case's row, the recommendation, this week's changes; then both fragments fill in
    rows = page.locator("#command-table tbody tr")
    assert rows.count() >= 3
    page.wait_for_selector("#ready-support-reply a.badge")
    page.wait_for_selector("#budget-support-reply a.badge, #budget-support-reply small:text('no SLO data')")
    assert page.locator("#recommendation").inner_text().count("Near term") == 1
    assert page.locator("#changes li").count() > 0
    assert page.locator("#uc-support-reply svg.spark").count() == 2
    # each item links to its evidence: every link of the table opens a page (no 4xx/5xx)
    hrefs = set(page.eval_on_selector_all("#command-table a[href], #recommendation a[href], #changes a[href]",
                                          "els => els.map(e => e.getAttribute('href'))"))
    for href in sorted(hrefs):
        path = href.split("#", 1)[0]
        r = page.request.get(f"{live_server}{path}")
        assert r.status < 400, f"{href}: {r.status}"
    assert any(h.startswith("/readiness/") for h in hrefs) and any(h.startswith("/releases/") for h in hrefs)
    # the navigation holds one line at 1440 px
    tops = page.eval_on_selector_all("header nav > ul > li", "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    assert max(tops) - min(tops) < 20, tops
    page.click("header summary:text('Operate')")
    page.click("header a:text('Incidents')")
    page.wait_for_url(f"{live_server}/incidents")

    # the use-case page opens with the same read-out, then its sections
    page.goto(f"{live_server}/usecases/invoice-triage")
    glance = page.wait_for_selector("#glance-invoice-triage")
    assert "S2 #1" in glance.inner_text() and "Resolve severity 2 incident" in glance.inner_text()
    assert page.locator(".uc-nav a").count() >= 7
    assert page.request.get(f"{live_server}/home/usecase/no-such-case").status == 404

    found = {}
    for path in ("/", "/usecases/support-reply"):
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
        found[path] = _axe(page)
    assert not any(found.values()), f"axe-core serious/critical violations: {found}"
    page.evaluate("() => document.body.appendChild(document.createElement('img'))")  # the check sees a violation
    assert any(v["id"] == "image-alt" for v in _axe(page))
    # what each row says
    page.goto(f"{live_server}/")
    assert "canary support-reply:2 at 10 %" in page.locator("#uc-support-reply").inner_text()
    fire = page.locator("#uc-invoice-triage")
    assert "S2" in fire.inner_text() and "1 drifted" in fire.inner_text()
    assert fire.locator("td").last.inner_text().startswith("Resolve severity 2 incident")
    assert "breached" in page.locator("#uc-support-reply").inner_text()
    assert "Near term" in page.locator("#recommendation").inner_text()
    page.wait_for_selector("#payback-support-reply a")
    assert "no ROI yet" in page.locator("#payback-support-reply").inner_text()

    for path in MAIN_PAGES:
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
        _shot(page, "home" if path == "/" else path.strip("/").replace("/", "_"))
    assert not errors, f"JavaScript errors: {errors}"


def test_intake_form_checks_in_the_browser_match_the_server(users, live_server, wide):
    page, errors = wide
    users.create("admin", username="ines")
    _login(page, live_server, "ines", "password123")
    page.goto(f"{live_server}/usecases/new")
    key = page.locator("input[name=key]")
    for value, bad in (("Bad Key!", True), ("-edge", True), ("a", True), ("support-reply", False), ("x1", False)):
        key.fill(value)
        assert key.evaluate("e => !e.validity.valid") is bad, value  # the pattern compiles and checks
    page.fill("input[name=expected_users]", "-2")
    assert page.locator("input[name=expected_users]").evaluate("e => e.validity.rangeUnderflow")
    assert page.locator("form#intake-form").evaluate("f => f.checkValidity()") is False
    # the server says the same, every problem at once, beside its field, keeping the input
    key.fill("Bad Key!")
    page.fill("input[name=name]", "Triage")
    page.fill("input[name=expected_users]", "")
    page.eval_on_selector("form#intake-form", "f => { f.noValidate = true; }")
    page.click("#submit-intake")
    page.wait_for_selector("#form-error")
    assert "use 2 to 64 lowercase letters" in page.locator("#key-error").inner_text()
    for field in ("purpose", "data_sources", "expected_users", "risk_tier"):
        assert page.locator(f"#{field}-error").is_visible(), field
    assert page.locator("input[name=key]").get_attribute("aria-invalid") == "true"
    assert page.locator("input[name=name]").input_value() == "Triage"
    _shot(page, "usecases_new_errors")
    assert not _axe(page)
    assert not errors, f"JavaScript errors: {errors}"


def test_api_explorer_works_without_internet(live_server, wide):
    page, errors = wide
    outside: list[str] = []

    def only_the_server(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.goto(f"{live_server}/api/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "takeoff" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() > 5  # the operations of the first tags, rendered
    _shot(page, "api_docs", full_page=False)
    assert not outside, f"the explorer reached outside the server: {outside}"
    assert not errors, f"JavaScript errors: {errors}"
