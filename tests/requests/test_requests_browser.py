"""In Chromium: from a point of a use case's dashboard chart to the requests of its bucket and on to one request;
from an incident to its requests."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from takeoff.core.actor import SYSTEM
from takeoff.core.db import transaction
from takeoff.incidents import service as incidents
from tests.requests.conftest import event


def _login(page, base):  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_dashboard_point_and_incident_lead_to_requests(live_server, page, send, usecase, factory):
    now = time.time()
    t2 = (now - 60) // 60 * 60 + 30  # both requests in one minute (so one hour), whatever the clock's second
    send(event(usecase, id="b-req-1", ts=t2 - 10, status="error", error_category="timeout"),
         event(usecase, id="b-req-2", ts=t2))
    _login(page, live_server)
    page.goto(f"{live_server}/usecases/{usecase}/monitoring")
    canvas = page.locator("article.chart[data-metric=throughput] canvas")
    canvas.wait_for()
    # drawn and done animating: a point read mid-animation is not where a click finds it (a flake on a busy machine)
    page.wait_for_function("el => { const c = window.Chart && Chart.getChart(el); return c && !Chart.animator.running(c); }",
                           arg=canvas.element_handle())
    # the last point that has data: its position from Chart.js, clicked like a user would
    x, y = page.evaluate("""el => { const ch = Chart.getChart(el); const ds = ch.data.datasets[0];
        let i = ds.data.length - 1; while (i > 0 && !ds.data[i]) i--;
        const p = ch.getDatasetMeta(0).data[i]; return [p.x, p.y]; }""", canvas.element_handle())
    canvas.click(position={"x": x, "y": y})
    page.wait_for_url("**/requests?use_case=*")
    assert "start=" in page.url and page.locator("tr[data-request=b-req-1]").count() == 1
    page.click("tr[data-request=b-req-1] a")
    page.wait_for_url("**/requests/b-req-1")
    assert "timeout" in page.locator(".request-facts").inner_text()
    with transaction(factory) as s:
        inc = incidents.open_incident(s, SYSTEM, usecase, "Timeouts", 2, source="manual",
                                      started_at=datetime.fromtimestamp(t2 - 40, UTC))
        inc_id = inc.id
    page.goto(f"{live_server}/incidents/{inc_id}")
    page.click(".incident-requests a:has-text('its errors')")
    page.wait_for_url("**/requests?*status=error*")
    assert page.locator("tr[data-request=b-req-1]").count() == 1  # the error inside the incident's window
    assert page.locator("tr[data-request=b-req-2]").count() == 0  # not an error
    assert page.locator("form.requests-filter select[name=status]").input_value() == "error"


def test_incident_requests_go_into_an_eval_set(live_server, page, client, admin, send, usecase, factory):
    now = time.time()
    assert client.put(f"/api/v1/capture-policies/{usecase}", json={"capture": True}, headers=admin).status_code == 200
    assert client.post("/api/v1/evalsets", json={"name": "support-golden", "use_case": usecase},
                       headers=admin).status_code == 201
    send(event(usecase, id="p-req-1", ts=now - 30, content={"input": [{"role": "user", "content": "refund, mail a@b.io"}],
                                                          "output": [{"role": "assistant", "content": "no"}]}),
         event(usecase, id="p-req-2", ts=now - 20))
    with transaction(factory) as s:
        inc_id = incidents.open_incident(s, SYSTEM, usecase, "Wrong refunds", 2, source="manual",
                                         started_at=datetime.fromtimestamp(now - 60, UTC)).id
    _login(page, live_server)
    page.goto(f"{live_server}/incidents/{inc_id}")
    page.click(".incident-requests a:has-text('requests in the incident')")
    page.wait_for_url("**/requests?use_case=*")
    assert page.locator("tr[data-request=p-req-1]").count() == 1 and page.locator("tr[data-request=p-req-2]").count() == 1
    page.go_back()
    page.click("details.to-evalset summary:has-text(\"incident's requests\")")
    page.select_option("#incident-to-evalset select[name=eval_set]", "support-golden")
    page.fill("#incident-to-evalset input[name=failure_category]", "wrong_policy")
    page.click("#incident-to-evalset button[type=submit]")
    result = page.locator("#to-evalset-result")
    assert "support-golden@1" in result.inner_text() and f"incident #{inc_id}" in result.inner_text()
    assert "1 no content" in page.locator("#to-evalset-skipped").inner_text()  # p-req-2 sent no content
    page.click("#to-evalset-result a:has-text('support-golden@1')")
    page.wait_for_url("**/evalsets/support-golden/versions/1")
    row = page.locator("#cases tbody tr").first
    assert "[email]" in row.inner_text() and f"incident #{inc_id}" in row.locator(".provenance").inner_text()
