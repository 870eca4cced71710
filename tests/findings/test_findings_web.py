"""The audit findings section of the use-case page: listed, recorded, worked on and closed through its forms."""
from __future__ import annotations

from datetime import date, timedelta

from tests.conftest import csrf_of, web_login


def test_section_records_works_on_and_closes(app, client, admin, users, usecase):
    users.create("risk_partner", username="rita")
    web = web_login(app, "rita")
    page = web.get(f"/usecases/{usecase}/governance")
    assert page.status_code == 200 and f'hx-get="/findings/fragment/usecase/{usecase}"' in page.text
    frag = web.get(f"/findings/fragment/usecase/{usecase}")
    assert frag.status_code == 200 and "No audit findings recorded" in frag.text and 'id="record-finding"' in frag.text
    assert "TK-HO-01" in frag.text  # the control library feeds the form
    csrf = csrf_of(frag.text)
    form = {"csrf_token": csrf, "title": "Declines not reviewed", "severity": "high", "source": "external_audit",
            "control_id": "TK-HO-01", "owner": "", "found_on": str(date.today()), "due_on": "", "description": "x"}
    r = web.post(f"/findings/fragment/usecase/{usecase}", data=form)
    assert r.status_code == 200 and "Recorded finding" in r.text and "Declines not reviewed" in r.text
    fid = client.get("/api/v1/findings", headers=admin).json()[0]["id"]

    bad = {**form, "title": "Future", "found_on": str(date.today() + timedelta(days=5))}
    r = web.post(f"/findings/fragment/usecase/{usecase}", data=bad)
    assert "in the future" in r.text and 'value="Future"' in r.text  # the form keeps what was typed
    r = web.post(f"/findings/fragment/usecase/{usecase}", data={**form, "due_on": "soon"})
    assert "due on must be a date" in r.text
    assert len(client.get("/api/v1/findings", headers=admin).json()) == 1

    r = web.post(f"/findings/fragment/usecase/{usecase}/{fid}/status", data={"csrf_token": csrf, "status": "in_progress"})
    assert "is now in progress" in r.text
    r = web.post(f"/findings/fragment/usecase/{usecase}/{fid}/close", data={"csrf_token": csrf, "resolution": ""})
    assert "needs a resolution" in r.text
    r = web.post(f"/findings/fragment/usecase/{usecase}/{fid}/close", data={"csrf_token": csrf, "resolution": "fixed"})
    assert "Closed finding" in r.text and "Resolution: fixed" in r.text
    assert client.get(f"/api/v1/findings/{fid}", headers=admin).json()["status"] == "closed"
    assert web.post(f"/findings/fragment/usecase/{usecase}/{fid}/close",
                    data={"resolution": "x"}).status_code == 403  # no CSRF token


def test_viewer_sees_findings_without_forms_and_cannot_post(app, client, admin, users, usecase):
    client.post("/api/v1/findings", json={"use_case": usecase, "title": "Stale model card", "severity": "low"},
                headers=admin)
    users.create("viewer", username="vera")
    web = web_login(app, "vera")
    frag = web.get(f"/findings/fragment/usecase/{usecase}")
    assert frag.status_code == 200 and "Stale model card" in frag.text
    assert 'id="record-finding"' not in frag.text and "Close</button>" not in frag.text
    csrf = csrf_of(web.get(f"/usecases/{usecase}").text)
    r = web.post(f"/findings/fragment/usecase/{usecase}", data={"csrf_token": csrf, "title": "x", "severity": "low"})
    assert r.status_code == 403 and "finding.write" in r.text
    assert len(client.get("/api/v1/findings", headers=admin).json()) == 1


def test_a_finding_of_another_use_case_is_not_found_here(app, client, admin, users, usecase):
    from .conftest import make_use_case

    make_use_case(client, admin, key="other-case")
    f = client.post("/api/v1/findings", json={"use_case": "other-case", "title": "t", "severity": "low"},
                    headers=admin).json()
    users.create("admin", username="webadmin")
    web = web_login(app, "webadmin")
    csrf = csrf_of(web.get(f"/findings/fragment/usecase/{usecase}").text)
    r = web.post(f"/findings/fragment/usecase/{usecase}/{f['id']}/close", data={"csrf_token": csrf, "resolution": "x"})
    assert r.status_code == 404
    assert client.get(f"/api/v1/findings/{f['id']}", headers=admin).json()["status"] == "open"


def test_portfolio_page_lists_open_findings_and_filters(app, client, admin, users, usecase):
    for title, sev in (("Declines lack reason codes", "critical"), ("Model card out of date", "low")):
        assert client.post("/api/v1/findings", json={"use_case": usecase, "title": title, "severity": sev},
                           headers=admin).status_code == 201
    fid = client.get("/api/v1/findings", headers=admin).json()[-1]["id"]
    client.post(f"/api/v1/findings/{fid}/close", json={"resolution": "card refreshed"}, headers=admin)
    users.create("viewer", username="victor")
    web = web_login(app, "victor")
    page = web.get("/")
    assert 'href="/findings"' in page.text  # in the navigation
    r = web.get("/findings")
    assert r.status_code == 200 and "Declines lack reason codes" in r.text and "Model card out of date" not in r.text
    assert f'href="/usecases/{usecase}#findings"' in r.text
    r = web.get("/findings?status=all")
    assert "Declines lack reason codes" in r.text and "Model card out of date" in r.text
    r = web.get("/findings?status=all&severity=low")
    assert "Declines lack reason codes" not in r.text and "Model card out of date" in r.text
    # bad filters: a readable message on the page, never a 500
    r = web.get("/findings?severity=enormous")
    assert r.status_code == 200 and 'role="alert"' in r.text and "severity" in r.text
    r = web.get("/findings?use_case=nope")
    assert r.status_code == 200 and 'role="alert"' in r.text and "No findings match" in r.text
