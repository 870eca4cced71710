"""Outcome and readiness pages, the feedback widget, forms refusing bad input, and the printable reports."""
from __future__ import annotations

from datetime import date, timedelta

from tests.conftest import csrf_of, web_login


def test_pages_render_and_widget_records_feedback(app, client, admin, users, usecase):
    users.create("admin", username="webadmin")
    web = web_login(app, "webadmin")
    detail = web.get(f"/usecases/{usecase}/outcomes")
    assert detail.status_code == 200
    assert f'hx-get="/outcomes/fragment/usecase/{usecase}"' in detail.text
    assert f'hx-get="/readiness/fragment/usecase/{usecase}"' in web.get(f"/usecases/{usecase}/readiness").text
    frag = web.get(f"/outcomes/fragment/usecase/{usecase}")
    assert frag.status_code == 200 and "No usage policy yet" in frag.text
    csrf = csrf_of(frag.text)
    r = web.post(f"/outcomes/fragment/usecase/{usecase}/feedback",
                 data={"csrf_token": csrf, "rating": "5", "comment": "the draft saved me ten minutes", "minutes_saved": "10"},
                 headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and "feedback is recorded" in r.text
    card = client.get(f"/api/v1/usecases/{usecase}/scorecard?weeks=1", headers=admin).json()
    assert card["weeks"][0]["feedback"] == 1 and card["weeks"][0]["time_saved_h"] == round(600 / 3600, 2)
    for path in ("/outcomes", f"/outcomes/{usecase}", "/readiness", f"/readiness/{usecase}",
                 f"/readiness/fragment/usecase/{usecase}"):
        page = web.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert "Traceback" not in page.text
    assert "the draft saved me ten minutes" in web.get(f"/outcomes/{usecase}").text


def test_forms_refuse_bad_input_and_write_nothing(app, client, admin, users, usecase):
    users.create("admin", username="webadmin")
    web = web_login(app, "webadmin")
    csrf = csrf_of(web.get(f"/outcomes/{usecase}").text)
    future = str(date.today() + timedelta(days=2))
    r = web.post(f"/outcomes/{usecase}/measurements",
                 data={"csrf_token": csrf, "kpi": "handle time", "value": "9", "unit": "min", "measured_on": future})
    assert r.status_code == 422 and "in the future" in r.text
    r = web.post(f"/outcomes/{usecase}/roi", data={"csrf_token": csrf, "build_cost": "-1", "unit_value": "1"})
    assert r.status_code == 422 and "build_cost" in r.text
    r = web.post(f"/outcomes/{usecase}/import", data={"csrf_token": csrf},
                 files={"file": ("m.csv", b"kpi,value,unit,measured_on\nhandle time,9,hours,2020-01-01\n", "text/csv")})
    assert r.status_code == 422 and "line 2" in r.text
    kpis = client.get(f"/api/v1/usecases/{usecase}/kpis", headers=admin).json()["kpis"]
    assert all(k["measurements"] == [] for k in kpis)
    r = web.post(f"/outcomes/{usecase}/policy", data={"approved_uses": "a", "prohibited_uses": "b", "trust_vs_verify": "c"})
    assert r.status_code == 403  # no CSRF token


def test_reports_render_md_and_html(client, admin, usecase):
    client.post(f"/api/v1/usecases/{usecase}/feedback", json={"rating": 4, "comment": "useful drafts"}, headers=admin)
    for name in ("readiness", "scorecard", "quarterly"):
        md = client.get(f"/api/v1/reports/{name}?format=md", headers=admin)
        assert md.status_code == 200, (name, md.text)
        assert md.text.startswith("# ")
        h = client.get(f"/api/v1/reports/{name}?format=html", headers=admin)
        assert h.status_code == 200 and h.text.startswith("<!doctype html>")
    assert "Decision ownership" in client.get("/api/v1/reports/readiness?format=md", headers=admin).text
    assert "<svg" in client.get("/api/v1/reports/scorecard?format=html", headers=admin).text
    assert "useful drafts" in client.get("/api/v1/reports/scorecard?format=md", headers=admin).text
    assert client.get("/api/v1/reports/scorecard?format=md&weeks=x", headers=admin).status_code == 422
    assert client.get("/api/v1/reports/quarterly?format=md&quarter=2020-Q1", headers=admin).status_code == 404


def test_viewer_reads_pages_without_write_forms_and_cannot_post(app, users, usecase):
    users.create("viewer", username="vera")
    web = web_login(app, "vera")
    page = web.get(f"/outcomes/{usecase}")
    assert page.status_code == 200
    assert "Save assumptions" not in page.text and "Edit the usage policy" not in page.text
    frag = web.get(f"/outcomes/fragment/usecase/{usecase}")
    assert frag.status_code == 200 and 'id="feedback-widget"' not in frag.text  # viewers lack telemetry.ingest
    r = web.post(f"/outcomes/{usecase}/policy", data={"csrf_token": csrf_of(page.text), "approved_uses": "a",
                                                      "prohibited_uses": "b", "trust_vs_verify": "c"})
    assert r.status_code == 403 and "outcome.write" in r.text
    assert web.get("/outcomes").status_code == 200 and web.get("/readiness").status_code == 200
