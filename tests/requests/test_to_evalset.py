"""Production requests into eval sets over HTTP on both backends: by id, by filters, by incident; provenance on the
new version; redaction markers kept; requests without content skipped and counted; bad input refused whole."""
from __future__ import annotations

import json
import time

from sqlalchemy import text

from takeoff.core.db import transaction
from tests.conftest import csrf_of, web_login
from tests.requests.conftest import event, make_use_case

URL = "/api/v1/requests/to-evalset"


def _setup(client, admin, send, key="invoice-anomaly"):  # type: ignore[no-untyped-def]
    make_use_case(client, admin, key)
    r = client.put(f"/api/v1/capture-policies/{key}", json={"capture": True}, headers=admin)
    assert r.status_code == 200, r.text
    golden = b'{"id": "g1", "input": {"amount": 100, "vendor_median": 90, "vendor_known": true}, "expected": "ok"}\n'
    r = client.post(f"/api/v1/evalsets/{key}-golden/versions?create=true&use_case={key}", content=golden,
                    headers={**admin, "content-type": "application/x-ndjson"})
    assert r.status_code == 201, r.text
    now = time.time()
    send(event(key, id="q1", ts=now - 30, release="1",
               content={"input": [{"role": "user", "content": '{"amount": 900, "vendor_median": 100, "vendor_known": true}'}],
                        "output": [{"role": "assistant", "content": "anomaly"}]}),
         event(key, id="q2", ts=now - 20,
               content={"input": [{"role": "user", "content": "Invoice from jane@example.com, amount 30"}],
                        "output": [{"role": "assistant", "content": "ok"}]}),
         event(key, id="q3", ts=now - 10))  # no content sent: skipped
    return key


def test_by_ids_makes_a_new_version_with_provenance_and_markers(client, admin, users, send, factory):
    key = _setup(client, admin, send)
    r = client.post(URL, json={"eval_set": f"{key}-golden", "request_ids": ["q1", "q2", "q3"],
                               "corrections": {"q1": "ok"}, "failure_category": "false_flag", "tags": ["drift"]},
                    headers=users.headers("ai_engineer"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["version"] == 2 and out["created"] and out["added"] == ["req-q1", "req-q2"]
    assert out["skipped"] == {"no_content": 1} and out["redacted"] == 1 and out["selected"] == 3
    v = client.get(f"/api/v1/evalsets/{key}-golden/versions/2", headers=admin).json()
    assert v["n_cases"] == 3 and v["from_production"] == 2 and v["diff"]["added"]["case_ids"] == ["req-q1", "req-q2"]
    cases = {c["id"]: c for c in v["cases"]}
    assert cases["g1"]["provenance"] is None
    q1, q2 = cases["req-q1"], cases["req-q2"]
    assert q1["input"] == {"amount": 900, "vendor_median": 100, "vendor_known": True}  # a structured input
    assert q1["expected"] == "ok" and q2["expected"] == "ok"  # the correction, the output
    assert q1["provenance"]["request_id"] == "q1" and q1["provenance"]["release"] == f"{key}:1"
    assert q1["provenance"]["corrected"] and not q2["provenance"]["corrected"]
    assert "[email]" in q2["input"] and "jane@" not in json.dumps(v)  # the redaction marker stays a marker
    assert set(q1["tags"]) == {"drift", "production", "false_flag"}
    # the same requests again: nothing new, no version
    again = client.post(URL, json={"eval_set": f"{key}-golden", "request_ids": ["q1", "q2"], "corrections": {"q1": "ok"},
                                   "failure_category": "false_flag", "tags": ["drift"]}, headers=admin).json()
    assert not again["created"] and again["version"] == 2 and again["unchanged"] == ["req-q1", "req-q2"]
    # a re-import of the downloaded cases keeps where they came from
    dl = client.get(f"/api/v1/evalsets/{key}-golden/versions/2/cases.jsonl", headers=admin).content
    same = client.post(f"/api/v1/evalsets/{key}-golden/versions", content=dl,
                       headers={**admin, "content-type": "application/x-ndjson"}).json()
    assert same["version"] == 2 and not same["created"]  # the built version's hash is the file import's hash
    dl += b'{"id": "g2", "input": "new one", "expected": "ok"}\n'
    r = client.post(f"/api/v1/evalsets/{key}-golden/versions", content=dl,
                    headers={**admin, "content-type": "application/x-ndjson"})
    assert r.status_code == 201 and r.json()["from_production"] == 2, r.text
    with transaction(factory) as s:
        assert s.scalar(text("SELECT count(*) FROM audit_entries WHERE action = 'requests.to_evalset'")) == 1


def test_by_incident_and_by_filters(app, client, admin, users, send):
    key = _setup(client, admin, send)
    inc = client.post("/api/v1/incidents", json={"use_case": key, "title": "Override rate jumped", "severity": 2,
                                                 "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))},
                      headers=admin)
    assert inc.status_code == 201, inc.text
    iid = inc.json()["id"]
    r = client.post(URL, json={"eval_set": f"{key}-golden", "incident": iid, "reference": "none"}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["incident"] == iid and r.json()["added"] == ["req-q1", "req-q2"]
    cases = client.get(f"/api/v1/evalsets/{key}-golden/versions/2", headers=admin).json()["cases"]
    prod = [c for c in cases if c["provenance"]]
    assert {c["provenance"]["incident"] for c in prod} == {iid} and all(c["expected"] is None for c in prod)
    assert all(f"incident-{iid}" in c["tags"] for c in prod)
    r = client.post(URL, json={"eval_set": f"{key}-golden", "filters": {"use_case": key, "status": "ok"}},
                    headers=admin)
    assert r.status_code == 201 and r.json()["version"] == 3 and r.json()["changed"] == ["req-q1", "req-q2"], r.text
    users.create("ai_engineer", username="erin")
    page = web_login(app, "erin").get(f"/incidents/{iid}")
    assert page.status_code == 200 and 'id="incident-to-evalset"' in page.text and 'value="' + str(iid) in page.text


def test_bad_input_is_refused_whole(client, admin, users, send, factory):
    key = _setup(client, admin, send)
    before = client.get(f"/api/v1/evalsets/{key}-golden", headers=admin).json()["versions"]

    def post(body, who=admin):  # type: ignore[no-untyped-def]
        return client.post(URL, json={"eval_set": f"{key}-golden", **body}, headers=who)

    assert post({"request_ids": ["nope"]}).status_code == 404
    assert post({"incident": 999}).status_code == 404
    r = client.post(URL, json={"eval_set": "missing", "request_ids": ["q1"]}, headers=admin)
    assert r.status_code == 404 and "missing" in r.json()["error"]["message"]
    r = post({"request_ids": []})
    assert r.status_code == 422 and "request_ids" in r.text
    r = post({"filters": {"use_case": "nobody"}})
    assert r.status_code == 422 and "no request matches" in r.text
    r = post({"filters": {"colour": "red"}})
    assert r.status_code == 422 and "filters.colour" in r.text
    r = post({"filters": {"status": "weird"}})
    assert r.status_code == 422 and "filters.status" in r.text
    r = post({"request_ids": ["q1"], "incident": 1})
    assert r.status_code == 422 and "exactly one" in r.text
    r = post({"request_ids": ["q1"], "corrections": {"q9": "x"}})
    assert r.status_code == 422 and "corrections.q9" in r.text
    r = post({"request_ids": ["q3"]})
    assert r.status_code == 422 and "no_content 1" in r.text
    r = post({"request_ids": [f"x{i}" for i in range(501)]})
    assert r.status_code == 422 and "request_ids" in r.text
    send(*[event(key, id=f"b{i}") for i in range(501)])
    r = post({"filters": {"use_case": key}})
    assert r.status_code == 422 and "max batch size (500)" in r.text
    for role in ("viewer", "risk_partner", "platform_engineer"):
        assert post({"request_ids": ["q1"]}, users.headers(role)).status_code == 403
    assert client.get(f"/api/v1/evalsets/{key}-golden", headers=admin).json()["versions"] == before
    with transaction(factory) as s:
        assert s.scalar(text("SELECT count(*) FROM audit_entries WHERE action = 'requests.to_evalset'")) == 0


def test_pages_add_to_an_eval_set_and_the_release_page_shows_the_cases(app, client, admin, users, send):
    key = _setup(client, admin, send)
    catalog = {"provider": "demo", "model": "m", "approved_tiers": ["low", "medium", "high"],
               "price": {"input": 0.15, "output": 0.6, "effective_from": "2026-01-01T00:00:00Z"},
               "data_retention": "30 days", "contract_terms": {"availability_sla_pct": 99.9}}
    r = client.post("/api/v1/catalog/models", json=catalog, headers=admin)
    assert r.status_code == 201, r.text
    rel = client.post("/api/v1/releases", json={"use_case": key, "model": "demo/m",
                                                "eval_set": {"name": f"{key}-golden"}}, headers=admin)
    assert rel.status_code == 201, rel.text
    users.create("ai_engineer", username="erin")
    c = web_login(app, "erin")
    page = c.get("/requests/q1")
    assert page.status_code == 200 and 'id="to-evalset"' in page.text
    token = csrf_of(page.text.split('id="to-evalset"', 1)[1])  # the form's own token
    assert token
    r = c.post("/requests/to-evalset", data={"csrf_token": token, "eval_set": f"{key}-golden",
                                             "request_id": "q1", "corrected": "ok", "tags": "drift, clerk"})
    assert r.status_code == 201 and f"{key}-golden@2" in r.text, r.text
    r = c.post("/requests/to-evalset", data={"csrf_token": token, "eval_set": f"{key}-golden",
                                             "f_use_case": key})
    assert r.status_code == 201 and "1 no content" in r.text and f"{key}-golden@3" in r.text, r.text
    r = c.post("/requests/to-evalset", data={"csrf_token": token, "eval_set": f"{key}-golden",
                                             "request_id": "q3"})
    assert r.status_code == 422 and "no_content 1" in r.text
    old = c.get(f"/releases/{rel.json()['id']}").text
    assert 'id="newer-production"' in old and "2 cases from production since your eval set version" in old
    rel2 = client.post("/api/v1/releases", json={"use_case": key, "model": "demo/m",
                                                 "eval_set": {"name": f"{key}-golden"}}, headers=admin).json()
    assert rel2["eval_set"]["version"] == 3
    d = client.get(f"/api/v1/releases/{rel2['id']}", headers=admin).json()["from_production"]
    assert d["count"] == 2 and d["from_incidents"] == 0 and d["newer"] is None and d["cases"][0]["provenance"]["request_id"] in ("q1", "q2")
    new = c.get(f"/releases/{rel2['id']}").text
    assert 'id="production-cases"' in new and 'href="/requests/q1"' in new and "newer-production" not in new
    v = c.get(f"/evalsets/{key}-golden/versions/3").text
    assert 'id="from-production"' in v and 'href="/requests/q2"' in v
    users.create("viewer", username="vic")
    cv = web_login(app, "vic")
    assert 'id="to-evalset"' not in cv.get("/requests/q1").text
    r = cv.post("/requests/to-evalset", data={"csrf_token": csrf_of(cv.get("/requests/q1").text),
                                              "eval_set": f"{key}-golden", "request_id": "q1"})
    assert r.status_code == 403
