"""Readiness and quarterly reports carry inline SVG charts of the real data; the quarterly review reads audit
findings (titles as reasons) and says which quarter has no adoption data instead of leaving it blank."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from tests.outcomes.conftest import make_use_case

from takeoff.core.db import utcnow
from takeoff.outcomes import reviews


def _quarters() -> tuple[str, str, date]:
    today = utcnow().date()
    q = reviews.quarter_of(today)
    prev = reviews.previous_quarter(q)
    return q, prev, reviews.quarter_bounds(prev)[0].date()


def _setup(client, admin, users):  # type: ignore[no-untyped-def]
    owner = users.create("business_owner", username="olivia")
    make_use_case(client, admin, owner=owner)
    make_use_case(client, admin, key="invoice-anomaly", owner=owner, name="Invoice anomaly detection")
    q, prev, prev_start = _quarters()
    for key, last, now in (("support-reply", (3, 4, 2), (4, 4, 2)), ("invoice-anomaly", (2, 3, 3), (3, 3, 3))):
        for (v, f, r), on in ((last, prev_start + timedelta(days=3)), (now, utcnow().date())):
            r_ = client.post(f"/api/v1/usecases/{key}/scores",
                             json={"value": v, "feasibility": f, "risk": r, "scored_on": on.isoformat()}, headers=admin)
            assert r_.status_code == 201, r_.text
        client.post(f"/api/v1/usecases/{key}/transitions", json={"to": "pilot", "reason": "go"}, headers=admin)
    m = [{"kpi": "handle time", "value": v, "unit": "min", "measured_on": d.isoformat()}
         for v, d in ((11.0, prev_start + timedelta(days=10)), (9.5, utcnow().date()))]
    assert client.post("/api/v1/usecases/support-reply/kpis/measurements", json={"measurements": m},
                       headers=admin).status_code == 201
    now = utcnow().timestamp()
    events = [{"id": f"e{i}", "use_case": "support-reply", "unit_id": f"agent{i % 3}", "ts": now - 60 * i,
               "latency_ms": 100} for i in range(6)]
    assert client.post("/api/v1/events", json={"events": events}, headers=admin).status_code in (200, 202)
    return q, prev


def test_review_reads_findings_and_reports_chart_real_data(app, client, admin, users):
    q, prev = _setup(client, admin, users)
    f1 = client.post("/api/v1/findings", json={"use_case": "invoice-anomaly", "title": "Vendor master edits unlogged",
                                               "severity": "high", "control_id": "TK-DATA-02"}, headers=admin).json()
    old = client.post("/api/v1/findings", json={"use_case": "invoice-anomaly", "title": "Closed long ago",
                                                "severity": "low", "found_on": (date.today() - timedelta(days=400)).isoformat()},
                      headers=admin).json()
    client.post(f"/api/v1/findings/{old['id']}/close",
                json={"resolution": "fixed", "closed_at": (datetime.now(UTC) - timedelta(days=390)).isoformat()},
                headers=admin)
    rev = client.post("/api/v1/reviews", json={"quarter": q}, headers=admin).json()
    snap = {s["use_case"]: s for s in rev["snapshot"]}
    assert snap["invoice-anomaly"]["audit_findings"] == 1  # the one closed long ago is not this quarter's
    assert snap["support-reply"]["audit_findings"] == 0
    gov = [a for a in rev["actions"] if a["action"] == "revisit_governance"]
    assert [a["use_case"] for a in gov] == ["invoice-anomaly"]
    assert any("Vendor master edits unlogged (high, control TK-DATA-02, new this quarter, open)" in r
               for r in gov[0]["reasons"])
    assert not any("not tracked" in n for n in rev["notes"])
    assert snap["support-reply"]["active_users"] == 3 and snap["support-reply"]["last_quarter_active_users"] == 0
    assert snap["support-reply"]["adoption_trend"] is None
    assert snap["support-reply"]["adoption_note"] == f"no data for {prev}"
    assert snap["invoice-anomaly"]["adoption_note"] == f"no data for {prev} or {q}"
    assert snap["support-reply"]["last_quarter_value"] == 3 and snap["support-reply"]["value"] == 4

    md = client.get(f"/api/v1/reports/quarterly?format=md&quarter={q}", headers=admin).text
    assert f"no data for {prev}" in md and "Vendor master edits unlogged" in md
    h = client.get(f"/api/v1/reports/quarterly?format=html&quarter={q}", headers=admin).text
    assert "<script" not in h
    charts = dict(re.findall(r"<figure class='chart' data-chart='([^']+)'>(.*?)</figure>", h))
    assert {"score-value", "score-feasibility", "score-risk", "score-priority", "adoption", "north-star"} <= set(charts)
    value = re.findall(r"<title>([^<]+)</title></rect>", charts["score-value"])
    assert sorted(value) == sorted([f"Support reply assist · {prev}: 3", f"Support reply assist · {q}: 4",
                                    f"Invoice anomaly detection · {prev}: 2", f"Invoice anomaly detection · {q}: 3"])
    adoption = charts["adoption"]
    assert re.findall(r"data-series='([^']+)' data-value='([^']+)'", adoption) == [(q, "3")]
    assert adoption.count("class='nodata'") == 3 and f"Support reply assist · {prev}: no data" in adoption
    assert f"Support reply assist: no data for {prev}" in h
    assert re.findall(r"<rect class='bar' data-value='([^']+)'", charts["north-star"]) == ["11", "9.5"]
    assert "target 8" in charts["north-star"]

    users.create("viewer", username="vera")
    web = TestClient(app)
    web.get("/login")
    web.post("/login", data={"username": "vera", "password": "password123",
                             "csrf_token": web.cookies.get("takeoff_login_csrf"), "next": "/"})
    page = web.get(f"/outcomes/reviews/{q}").text
    assert f"no data for {prev}" in page and "Vendor master edits unlogged" in page
    assert web.get(f"/reports/quarterly?quarter={q}").text.count("data-chart='score-") == 4


def test_readiness_report_draws_the_seven_items_per_use_case(client, admin, users):
    _setup(client, admin, users)
    h = client.get("/api/v1/reports/readiness?format=html", headers=admin).text
    charts = re.findall(r"<figure class='chart' data-chart='([^']+)'>(.*?)</figure>", h)
    names = [n for n, _ in charts]
    assert names.count("readiness-matrix") == 1 and names.count("readiness-summary") == 1
    assert names.count("readiness-usecase") == 2
    matrix = dict(charts)["readiness-matrix"]
    cells = re.findall(r"data-status='([a-z_]+)'", matrix)
    assert len(cells) == 2 * 7
    port = client.get("/api/v1/readiness", headers=admin).json()["use_cases"]
    assert cells == [i["status"] for d in port for i in d["items"]]
    assert "Decision ownership" in matrix and "font-weight='bold'>not ready</text>" in matrix
    summary = dict(charts)["readiness-summary"]
    total = sum(float(v) for v in re.findall(r"data-value='([^']+)'", summary))
    assert total == 2 * 7
    one = client.get("/api/v1/reports/readiness?format=html&use_case=support-reply", headers=admin).text
    assert one.count("data-chart='readiness-usecase'") == 1 and len(re.findall(r"data-status=", one)) == 2 * 7


def test_open_critical_finding_blocks_ready_to_scale(client, admin, users):
    _setup(client, admin, users)
    f = client.post("/api/v1/findings", json={"use_case": "support-reply", "title": "Replies leak account numbers",
                                              "severity": "critical", "source": "readiness_review"}, headers=admin).json()
    d = client.get("/api/v1/usecases/support-reply/readiness", headers=admin).json()
    assert d["critical_findings"] == ["Replies leak account numbers"]
    assert "open critical audit finding: Replies leak account numbers" in d["verdict"]["reasons"]
    assert d["verdict"]["ready"] is False
    client.post(f"/api/v1/findings/{f['id']}/close", json={"resolution": "masked"}, headers=admin)
    d = client.get("/api/v1/usecases/support-reply/readiness", headers=admin).json()
    assert d["critical_findings"] == [] and not any("critical" in r for r in d["verdict"]["reasons"])


def test_readiness_report_lists_each_blocking_item_with_its_link_in_every_format(client, admin, users):
    _setup(client, admin, users)
    for title in ("Replies leak account numbers", "Prompt <b>injection</b> via tickets"):
        assert client.post("/api/v1/findings", json={"use_case": "support-reply", "title": title, "severity": "critical",
                                                     "source": "readiness_review"}, headers=admin).status_code == 201
    blocking = client.get("/api/v1/usecases/support-reply/readiness", headers=admin).json()["verdict"]["blocking"]
    assert len(blocking) == 2 and all(b["link"] for b in blocking)
    md = client.get("/api/v1/reports/readiness?format=md&use_case=support-reply", headers=admin).text
    assert "Blocking ready to scale:" in md
    for b in blocking:
        assert f"- {b['text']} ([{b['link']}](<{b['link']}>))" in md
    page = client.get("/api/v1/reports/readiness?format=html", headers=admin).text
    lis = re.findall(r"<ul class='blocking'>(.*?)</ul>", page)
    assert len(lis) == 1  # only support-reply is blocked
    for b in blocking:
        text = b["text"].replace("<", "&lt;").replace(">", "&gt;")
        assert f"<li>{text} (<a href='{b['link']}'>{b['link']}</a>)</li>" in lis[0]
    assert "<b>injection</b>" not in page
