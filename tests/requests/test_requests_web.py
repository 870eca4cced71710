"""The requests pages: the list with filters (bad input says so), the detail with the waterfall, and the span
layout rules."""
from __future__ import annotations

import time

from takeoff.requests.waterfall import layout
from tests.conftest import csrf_of, web_login
from tests.requests.conftest import TRACE, event


def test_list_and_detail_pages(app, users, send, usecase):
    t = time.time()
    spans = [{"trace_id": TRACE, "span_id": "a" * 16, "name": "workflow", "start": t - 1, "duration_ms": 1000},
             {"trace_id": TRACE, "span_id": "b" * 16, "parent_span_id": "a" * 16, "name": "retrieve", "start": t - 0.9,
              "duration_ms": 200},
             {"trace_id": TRACE, "span_id": "c" * 16, "parent_span_id": "a" * 16, "name": "chat", "start": t - 0.6,
              "duration_ms": 500, "status": "error"}]
    send(event(usecase, id="w1", spans=spans), event(usecase, id="w2", status="error", error_category="timeout"))
    users.create("viewer", username="vic")
    c = web_login(app, "vic")
    r = c.get("/requests", params={"use_case": usecase})
    assert r.status_code == 200 and 'data-request="w1"' in r.text and 'data-request="w2"' in r.text
    r = c.get("/requests", params={"status": "error"})
    assert 'data-request="w2"' in r.text and 'data-request="w1"' not in r.text
    r = c.get("/requests", params={"rating_min": "4", "rating_max": "5"})  # the well-rated: both bounds in the form
    assert r.status_code == 200 and 'name="rating_min" value="4"' in r.text and 'name="rating_max" value="5"' in r.text
    r = c.get("/requests", params={"status": "nope"})
    assert r.status_code == 422 and "status" in r.text
    r = c.get("/requests/w1")
    assert r.status_code == 200 and r.text.index('data-span="' + "b" * 16) < r.text.index('data-span="' + "c" * 16)
    assert 'data-depth="1"' in r.text and "waterfall-error" in r.text
    assert c.get("/requests/unknown-id").status_code == 404


def test_waterfall_layout_nests_children_and_survives_bad_trees():
    def span(sid, parent, start, dur):  # type: ignore[no-untyped-def]
        return {"span_id": sid, "parent_span_id": parent, "start": f"2026-01-01T00:00:{start:06.3f}+00:00",
                "duration_ms": dur}
    rows = layout([span("c", "a", 0.5, 100), span("a", None, 0, 1000), span("b", "a", 0.1, 100),
                   span("x", "missing", 0.2, 0)])
    assert [(r["span_id"], r["depth"]) for r in rows] == [("a", 0), ("b", 1), ("c", 1), ("x", 0)]
    assert rows[0]["left"] == 0 and rows[0]["width"] == 100 and rows[2]["left"] == 50 and rows[3]["width"] == 0.5
    cyc = layout([span("p", "q", 0, 10), span("q", "p", 0.001, 10)])
    assert sorted(r["span_id"] for r in cyc) == ["p", "q"]
    assert layout([]) == []


def test_the_capture_policy_is_shown_in_governance_and_changed_on_its_page(app, users, usecase, client, admin):
    """The Governance section shows the policy; its page changes it for privacy.write (audited like the API), a
    refused form comes back with the field named and what was typed, and a viewer sees it without a form."""
    users.create("risk_partner", username="ria")
    users.create("viewer", username="vic")
    c = web_login(app, "ria")
    assert 'id="capture"' in c.get(f"/usecases/{usecase}/governance").text
    frag = c.get(f"/requests/fragment/capture/{usecase}")
    assert frag.status_code == 200 and 'data-capture="off"' in frag.text and "never: the defaults" in frag.text
    assert "Change the capture policy" in frag.text
    page = c.get(f"/usecases/{usecase}/capture")
    assert page.status_code == 200 and 'id="capture-form"' in page.text
    token = csrf_of(page.text)
    form = {"csrf_token": token, "capture": "on", "kinds": ["email", "phone"], "patterns": "ticket=TCK-\\d+\n\n",
            "max_chars": "500", "retention_days": "30", "unit_ids": "hashed"}
    r = c.post(f"/usecases/{usecase}/capture", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/usecases/{usecase}/capture?saved=1", r.text
    got = client.get(f"/api/v1/capture-policies/{usecase}", headers=admin).json()
    assert (got["capture"], got["kinds"], got["patterns"], got["max_chars"], got["retention_days"]) == (
        True, ["email", "phone"], [{"name": "ticket", "pattern": "TCK-\\d+"}], 500, 30)
    frag = c.get(f"/requests/fragment/capture/{usecase}").text
    assert 'data-capture="on"' in frag and "by ria" in frag and "30 days" in frag and "ticket" in frag
    shown = c.get(f"/usecases/{usecase}/capture?saved=1").text
    assert "Saved." in shown and "TCK-\\d+" in shown and 'value="30"' in shown
    for bad, field, words in (({"patterns": "ok=TCK\n\nbad=("}, "patterns", "line 3:"),
                              ({"patterns": "no equals sign"}, "patterns", "line 1: write NAME=REGULAR EXPRESSION"),
                              ({"max_chars": "10"}, "max_chars", "100 or more"),
                              ({"max_chars": "lots"}, "max_chars", "whole number"),
                              ({"retention_days": "-3"}, "retention_days", "whole number"),
                              ({"kinds": ["ssn"]}, "kinds", "unknown detector"),
                              ({"unit_ids": "plain"}, "unit_ids", "")):
        r = c.post(f"/usecases/{usecase}/capture", data={**form, **bad})
        assert r.status_code == 422, (bad, r.text[:300])
        assert f'id="{field}-error"' in r.text and words in r.text, (bad, r.text.split('class="error"')[-1][:600])
    assert client.get(f"/api/v1/capture-policies/{usecase}", headers=admin).json() == got, "refused: unchanged"
    r = c.post(f"/usecases/{usecase}/capture", data={**form, "capture": "", "csrf_token": "forged"})
    assert r.status_code in (400, 403) and client.get(f"/api/v1/capture-policies/{usecase}", headers=admin).json() == got
    v = web_login(app, "vic")
    page = v.get(f"/usecases/{usecase}/capture")
    assert page.status_code == 200 and 'id="capture-form"' not in page.text and "privacy.write" in page.text
    assert "Change the capture policy" not in v.get(f"/requests/fragment/capture/{usecase}").text
    assert v.post(f"/usecases/{usecase}/capture", data={**form, "csrf_token": csrf_of(
        v.get("/requests").text)}).status_code == 403
    assert c.get("/usecases/nope/capture").status_code == 404


def test_a_data_subjects_deletion_request_from_the_web(app, users, send, usecase, client, admin):
    """The deletion form (privacy.write) removes a unit's content as the API does, says so, says when the unit had
    no data, names a bad unit id, and is refused to those without the permission."""
    assert client.put(f"/api/v1/capture-policies/{usecase}", json={"capture": True}, headers=admin).status_code == 200
    send(event(usecase, id="x1", unit_id="erin", content={"input": [{"role": "user", "content": "hello"}]}),
         event(usecase, id="x2", unit_id="frank", content={"input": [{"role": "user", "content": "hi"}]}))
    users.create("risk_partner", username="ria")
    users.create("ai_engineer", username="eli")
    c = web_login(app, "ria")
    assert "/requests/unit-deletion" in c.get("/requests").text
    page = c.get("/requests/unit-deletion")
    assert page.status_code == 200 and 'id="unit-deletion-form"' in page.text
    token = csrf_of(page.text)
    r = c.post("/requests/unit-deletion", data={"csrf_token": token, "unit": " erin "})
    assert r.status_code == 200 and 'data-found="true"' in r.text and "1 content record(s) deleted" in r.text, r.text
    assert client.get("/api/v1/requests/x1", headers=admin).json()["content"] is None
    assert client.get("/api/v1/requests/x2", headers=admin).json()["content"] is not None
    r = c.post("/requests/unit-deletion", data={"csrf_token": token, "unit": "erin"})
    assert r.status_code == 200 and 'data-found="false"' in r.text and "nothing to remove" in r.text
    for bad in ("", "   ", "x" * 201):
        r = c.post("/requests/unit-deletion", data={"csrf_token": token, "unit": bad})
        assert r.status_code == 422 and 'id="unit-error"' in r.text, bad
    assert c.post("/requests/unit-deletion", data={"csrf_token": "forged", "unit": "frank"}).status_code in (400, 403)
    assert client.get("/api/v1/requests/x2", headers=admin).json()["content"] is not None
    e = web_login(app, "eli")
    assert "/requests/unit-deletion" not in e.get("/requests").text
    assert e.get("/requests/unit-deletion").status_code == 403
    assert e.post("/requests/unit-deletion", data={"csrf_token": "", "unit": "frank"}).status_code == 403
    assert c.get("/requests/x2").status_code == 200, "a request's own page is still /requests/{id}"
