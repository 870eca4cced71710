"""Eval sets: streamed imports, immutable content-hashed versions, diffs, malformed files refused whole."""
from __future__ import annotations

from .conftest import jsonl, rows


def test_versions_are_hashed_and_diffed(client, eng, importer):
    r = importer("golden", rows(5))
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["version"] == 1 and v1["n_cases"] == 5 and len(v1["content_hash"]) == 64
    again = importer("golden", list(reversed(rows(5))))  # same cases, other order: same content
    assert again.json()["version"] == 1 and again.json()["created"] is False
    changed = rows(6)[1:]
    changed[0]["expected"] = "other"
    v2 = importer("golden", changed).json()
    assert v2["version"] == 2 and v2["content_hash"] != v1["content_hash"]
    assert v2["diff"]["added"]["case_ids"] == ["c5"]
    assert v2["diff"]["removed"]["case_ids"] == ["c0"]
    assert v2["diff"]["changed"]["case_ids"] == ["c1"]
    d = client.get("/api/v1/evalsets/golden/diff?from=1&to=2", headers=eng).json()
    assert d["added"] == ["c5"] and d["removed"] == ["c0"] and d["changed"] == ["c1"]
    v1_cases = client.get("/api/v1/evalsets/golden/versions/1", headers=eng).json()["cases"]
    assert [c["id"] for c in v1_cases] == ["c0", "c1", "c2", "c3", "c4"]  # version 1 is unchanged
    listing = client.get("/api/v1/evalsets", headers=eng).json()["items"]
    assert listing[0]["latest"]["version"] == 2


def test_malformed_lines_are_reported_by_number_and_nothing_imported(client, eng, importer):
    body = jsonl(rows(3)) + b"\n{not json}\n" + b'{"id": "x"}\n'
    r = importer("broken", body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert "line 4" in err["message"] and "nothing imported" in err["message"]
    assert {d["line"] for d in err["details"]} == {4, 5}
    # a refused import writes nothing, not even the eval set it would have created
    assert client.get("/api/v1/evalsets/broken", headers=eng).status_code == 404
    assert client.post("/api/v1/evalsets", json={"name": "broken"}, headers=eng).status_code == 201
    assert importer("broken", body).status_code == 422
    assert client.get("/api/v1/evalsets/broken", headers=eng).json()["versions"] == []


def test_csv_import_and_bad_format(client, eng, importer):
    csv = b"id,input,expected,tags\nq1,hello,hi,greet\nq2,bye,ciao,greet\n"
    r = importer("csvset", csv, fmt="csv")
    assert r.status_code == 201, r.text
    assert r.json()["n_cases"] == 2
    assert importer("csvset", csv, fmt="xml").status_code == 422
    assert importer("empty", b"").status_code == 422


def test_bad_names_and_unknown_sets(client, eng):
    assert client.post("/api/v1/evalsets", json={"name": "Bad Name"}, headers=eng).status_code == 422
    assert client.get("/api/v1/evalsets/nope", headers=eng).status_code == 404
    assert client.post("/api/v1/evalsets", json={"name": "ok", "use_case": "nope"}, headers=eng).status_code == 404
    assert client.post("/api/v1/evalsets", json={"name": "ok"}, headers=eng).status_code == 201
    assert client.post("/api/v1/evalsets", json={"name": "ok"}, headers=eng).status_code == 409
