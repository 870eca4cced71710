"""Data pages: list, source page with history and figures, access log with CSV link, use-case fragment, forms."""
from __future__ import annotations

import re

from tests.conftest import csrf_of, web_login


def test_pages_show_sources_runs_and_never_the_secret(app, client, registered, owner, use_case, users):
    client.put("/api/v1/datasources/orders/access-rules", headers=owner["headers"],
               json={"rules": [{"field": "ssn", "roles": ["ai_engineer"], "sensitive": True}]})
    web = web_login(app, owner["name"])
    listing = web.get("/datasources")
    assert listing.status_code == 200 and "orders" in listing.text and "never checked" in listing.text
    page = web.get("/datasources/orders")
    assert page.status_code == 200
    resp = web.post("/datasources/orders/check", data={"csrf_token": csrf_of(page.text)}, follow_redirects=True)
    assert resp.status_code == 200 and "check run" in resp.text and "latest-results" in resp.text
    assert "data-chart" in resp.text  # figures over runs
    assert "orders.db" not in resp.text and "sqlite://…" in resp.text
    assert "ERP wins" in resp.text  # conflict resolution shown
    bad = web.post("/datasources/orders/check", data={"csrf_token": "wrong"})
    assert bad.status_code == 403
    frag = web.get(f"/datasources/fragment/usecase/{use_case}")
    assert frag.status_code == 200 and "orders" in frag.text and 'data-status="pass"' in frag.text
    assert 'data-evidence="pass"' in frag.text
    log = web.get("/datasources/access-log", params={"action": "check"})
    assert log.status_code == 200 and "dora" in log.text
    assert 'href="/api/v1/access-log.csv?action=check"' in log.text
    csv_resp = web.get("/api/v1/access-log.csv", params={"action": "check"})  # cookie-authenticated GET
    assert csv_resp.status_code == 200 and "dora,orders,check" in csv_resp.text


def test_request_and_approve_through_forms(app, client, registered, owner, users):
    client.put("/api/v1/datasources/orders/access-rules", headers=owner["headers"],
               json={"rules": [{"field": "ssn", "roles": ["ai_engineer"], "sensitive": True}]})
    users.create("ai_engineer", username="ana")
    eng = web_login(app, "ana")
    page = eng.get("/datasources/orders")
    assert "no access" in page.text
    resp = eng.post("/datasources/orders/access-requests", follow_redirects=True,
                    data={"fields": "ssn", "reason": "fraud case 12", "hours": "4", "csrf_token": csrf_of(page.text)})
    assert "sent to the data owners" in resp.text
    refused = eng.post("/datasources/orders/access-requests", follow_redirects=True,
                       data={"fields": "email", "reason": "why not", "hours": "4", "csrf_token": csrf_of(page.text)})
    assert "not a sensitive field" in refused.text
    own = web_login(app, owner["name"])
    listing = own.get("/datasources")
    assert "fraud case 12" in listing.text
    rid = re.search(r"/datasources/access-requests/(\d+)/decision", listing.text).group(1)
    done = own.post(f"/datasources/access-requests/{rid}/decision", follow_redirects=True,
                    data={"approve": "yes", "note": "", "next": "/datasources", "csrf_token": csrf_of(listing.text)})
    assert "approved" in done.text
    page = eng.get("/datasources/orders")
    assert "may read (grant)" in page.text
    prev = eng.get("/datasources/orders/preview", params={"fields": "ssn", "reason": "case 12"})
    assert prev.status_code == 200 and "000-00-0001" in prev.text
    denied = eng.get("/datasources/orders/preview", params={"fields": "email", "reason": "x"})
    assert "may not read field" in denied.text


def test_usecase_section_template_fetches_fragment():
    from takeoff.web.render import TEMPLATES

    html = TEMPLATES.env.get_template("usecase_sections/40_data.html").render(uc={"key": "support-reply"})
    assert 'hx-get="/datasources/fragment/usecase/support-reply"' in html


def test_collection_page_shows_context_pipeline(app, client, owner, use_case, source_db):
    docs = {"name": "kb", "entity": "knowledge article", "owner": owner["name"], "interface": "database",
            "connection": source_db, "table": "docs", "kind": "collection", "use_cases": [use_case],
            "context": {"freshness_sla_s": 30 * 86400, "max_stale_share": 0.5, "max_unlabeled": 1}}
    assert client.post("/api/v1/datasources", json=docs, headers=owner["headers"]).status_code == 201
    assert client.post("/api/v1/datasources/kb/check", headers=owner["headers"]).json()["status"] == "pass"
    page = web_login(app, owner["name"]).get("/datasources/kb")
    assert page.status_code == 200
    assert "Context pipeline" in page.text and "3 documents" in page.text and "33.3% older than the freshness SLA" in page.text
    assert "1 without a permission label" in page.text
