"""The requests explorer over HTTP on both backends: filters, keyset pages, detail with spans and content under
the capture policy, export, policy validation and audit, deletion by unit, and bad input."""
from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from takeoff.core.db import transaction
from tests.requests.conftest import TRACE, event, make_use_case

CONTENT = {"system": "You answer tickets.",
           "input": [{"role": "user", "content": "I am jane@example.com, card 4111 1111 1111 1111, call +1 415 555 2671"}],
           "output": [{"role": "assistant", "content": "Thanks! Ticket TCK-123456 opened. " + "x" * 300}],
           "tool_calls": [{"name": "lookup", "arguments": '{"iban": "DE89370400440532013000"}'}],
           "documents": ["kb-12"]}


def _policy(client, admin, key, **kw):  # type: ignore[no-untyped-def]
    body = {"capture": True, "patterns": [{"name": "ticket", "pattern": r"TCK-\d{6}"}], "max_chars": 100, **kw}
    return client.put(f"/api/v1/capture-policies/{key}", json=body, headers=admin)


def test_content_is_stored_only_under_a_policy_redacted_and_capped(client, admin, users, send, usecase, factory):
    other = make_use_case(client, admin, "invoice-anomaly")
    r = _policy(client, admin, usecase, retention_days=7)
    assert r.status_code == 200, r.text
    assert r.json()["capture"] and r.json()["unit_ids"] == "hashed"
    spans = [{"trace_id": TRACE, "span_id": "a" * 16, "name": "workflow", "start": time.time() - 1, "duration_ms": 900,
              "status": "ok", "kind": "internal", "attributes": {"enduser.id": "u-42"}},
             {"trace_id": TRACE, "span_id": "b" * 16, "parent_span_id": "a" * 16, "name": "chat gpt-4o",
              "start": time.time() - 0.9, "duration_ms": 700, "status": "error", "kind": "client"}]
    send(event(usecase, id="r1", unit_id="u-42", content=CONTENT, spans=spans, trace_id=TRACE, span_id="b" * 16),
         event(other, id="r2", unit_id="u-42", content=CONTENT))
    d = client.get("/api/v1/requests/r1", headers=admin).json()
    body = d["content"]["body"]
    assert d["content"]["redactions"] == {"email": 1, "card": 1, "phone": 1, "iban": 1, "ticket": 1}
    assert "jane@" not in json.dumps(body) and "[email]" in body["input"][0]["content"]
    assert "[ticket]" in body["output"][0]["content"] and body["output"][0]["content"].endswith("characters]")
    assert d["content"]["truncated_fields"] == 1 and d["content"]["expires_at"]
    stored_expiry = datetime.fromisoformat(d["content"]["expires_at"])
    assert 6.9 < (stored_expiry - datetime.now(UTC)).total_seconds() / 86400 <= 7
    assert client.patch(f"/api/v1/capture-policies/{usecase}", json={"retention_days": 2}, headers=admin).json()[
        "retention_days"] == 2  # shorter now: the request says when the retention job deletes it
    shorter = datetime.fromisoformat(client.get("/api/v1/requests/r1", headers=admin).json()["content"]["expires_at"])
    assert 1.9 < (shorter - datetime.now(UTC)).total_seconds() / 86400 <= 2
    client.patch(f"/api/v1/capture-policies/{usecase}", json={"retention_days": 30}, headers=admin)
    longer = datetime.fromisoformat(client.get("/api/v1/requests/r1", headers=admin).json()["content"]["expires_at"])
    assert 6.9 < (longer - datetime.now(UTC)).total_seconds() / 86400 <= 7, "a longer one never extends the stored"
    assert body["documents"] == ["kb-12"] and "[iban]" in body["tool_calls"][0]["arguments"]
    assert [s["name"] for s in d["spans"]] == ["workflow", "chat gpt-4o"] and d["spans"][1]["parent_span_id"] == "a" * 16
    assert d["trace"]["trace_id"] == TRACE and d["unit"] == "(hashed)" and d["links"]["use_case"] == "/usecases/support-reply"
    assert client.get("/api/v1/requests/r2", headers=admin).json()["content"] is None  # capture off there
    viewer = client.get("/api/v1/requests/r1", headers=users.headers("viewer")).json()
    assert viewer["content"]["stored"] and "body" not in viewer["content"]  # content.read needed
    with transaction(factory) as s:  # stored keyed-hashed, never raw
        assert s.scalar(text("SELECT count(*) FROM telemetry_events WHERE unit_id = 'u-42'")) == 0
        audit = s.scalar(text("SELECT count(*) FROM audit_entries WHERE action = 'capture_policy.set'"))
    assert audit == 3  # the policy set, then two patches


def test_filters_pages_and_export(client, admin, send, usecase):
    now = time.time()
    send(*[event(usecase, id=f"e{i:02d}", ts=now - 100 + i, status="error" if i % 5 == 0 else "ok",
                 error_category="timeout" if i % 5 == 0 else None, model="gpt-4o" if i % 2 else "claude",
                 scores={"faithfulness": i / 20}, unit_id="alice" if i < 3 else "bob") for i in range(20)])
    client.post("/api/v1/feedback", json={"id": "f1", "request_id": "e07", "rating": 1}, headers=admin)
    seen, cursor = [], None
    while True:
        r = client.get("/api/v1/requests", params={"use_case": usecase, "limit": 6, **({"cursor": cursor} if cursor else {})},
                       headers=admin).json()
        seen += [i["id"] for i in r["items"]]
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert seen == [f"e{i:02d}" for i in range(19, -1, -1)]  # newest first, each once

    def ids(**params):  # type: ignore[no-untyped-def]
        r = client.get("/api/v1/requests", params={"limit": 200, **params}, headers=admin)
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]}
    assert ids(status="error") == {"e00", "e05", "e10", "e15"} == ids(error_category="timeout")
    assert ids(model="claude", use_case=usecase) == {f"e{i:02d}" for i in range(0, 20, 2)}
    assert ids(unit="alice") == {"e00", "e01", "e02"}
    assert ids(score="faithfulness", score_min=0.5, score_max=0.6) == {"e10", "e11", "e12"}
    assert ids(rating_max=2) == {"e07"}
    assert ids(has_content="true") == set() and len(ids(has_content="false")) == 20
    assert ids(start=now - 82.5, end=now - 81.5) == {"e18"}
    r = client.get("/api/v1/requests/export", params={"use_case": usecase, "format": "csv", "status": "error"},
                   headers=admin)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert r.status_code == 200 and [x["id"] for x in rows] == ["e15", "e10", "e05", "e00"]
    r = client.get("/api/v1/requests/export", params={"format": "jsonl", "max": 3}, headers=admin)
    assert [json.loads(line)["id"] for line in r.text.splitlines()] == ["e19", "e18", "e17"]


def test_text_search_in_stored_content(client, admin, send, usecase):
    assert _policy(client, admin, usecase).status_code == 200
    send(event(usecase, id="s1", content={"input": [{"role": "user", "content": "My invoice is wrong"}]}),
         event(usecase, id="s2", content={"input": [{"role": "user", "content": "Reset 100%_ password"}]}))
    r = client.get("/api/v1/requests", params={"q": "INVOICE"}, headers=admin).json()
    assert [i["id"] for i in r["items"]] == ["s1"]
    assert [i["id"] for i in client.get("/api/v1/requests", params={"q": "100%_"}, headers=admin).json()["items"]] == ["s2"]
    assert client.get("/api/v1/requests", params={"q": "0%x"}, headers=admin).json()["items"] == []


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "bad"}, "status"), ({"start": "yesterday"}, "start"),
    ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
    ({"score_min": "0.5"}, "score"), ({"score": "q", "score_min": "nan"}, "score_min"),
    ({"rating_max": "7"}, "rating_max"), ({"has_content": "maybe"}, "has_content"), ({"q": "a"}, "q"),
    ({"cursor": "not-a-cursor"}, "cursor"), ({"limit": "0"}, "limit"), ({"bogus": "1"}, "bogus"),
    ({"model": "x" * 201}, "model"),
])
def test_bad_filters_are_422_naming_the_field(client, admin, params, field):
    for path in ("/api/v1/requests", "/api/v1/requests/export"):
        if path.endswith("export") and field in ("cursor", "limit"):
            continue
        r = client.get(path, params=params, headers=admin)
        assert r.status_code == 422, (path, r.text)
        assert field in json.dumps(r.json()["error"]), r.text
    r = client.get("/api/v1/requests/export", params={"format": "xml"}, headers=admin)
    assert r.status_code == 422


def test_unknown_request_is_404(client, admin):
    r = client.get("/api/v1/requests/nope", headers=admin)
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]


@pytest.mark.parametrize(("body", "field"), [
    ({"kinds": ["email", "ssn"]}, "kinds"), ({"patterns": [{"name": "x y", "pattern": "a"}]}, "patterns.0.name"),
    ({"patterns": [{"name": "ok", "pattern": "("}]}, "patterns.0.pattern"),
    ({"patterns": [{"name": "ok", "pattern": "(a+)+"}]}, "patterns.0.pattern"),
    ({"patterns": [{"name": "a", "pattern": "x"}, {"name": "a", "pattern": "y"}]}, "patterns"),
    ({"max_chars": 10}, "max_chars"), ({"retention_days": 0}, "retention_days"), ({"unit_ids": "plain"}, "unit_ids"),
    ({"capture": "sometimes"}, "capture"), ({"bogus": 1}, "bogus"),
])
def test_bad_policies_are_refused_and_change_nothing(client, admin, usecase, body, field):
    r = client.put(f"/api/v1/capture-policies/{usecase}", json=body, headers=admin)
    assert r.status_code == 422, r.text
    assert any(d["field"].endswith(field) or d["field"] == field for d in r.json()["error"]["details"]), r.text
    assert client.get(f"/api/v1/capture-policies/{usecase}", headers=admin).json()["capture"] is False


def test_policy_needs_permission_and_a_known_use_case(client, admin, users, usecase):
    r = client.put(f"/api/v1/capture-policies/{usecase}", json={"capture": True}, headers=users.headers("ai_engineer"))
    assert r.status_code == 403 and "privacy.write" in r.text
    assert client.put("/api/v1/capture-policies/nope", json={}, headers=admin).status_code == 404
    assert client.get("/api/v1/capture-policies/nope", headers=admin).status_code == 404


def test_export_with_content_is_jsonl_for_content_readers(client, admin, users, send, usecase, factory):
    """content=true adds each request's redacted content (null where none is stored); CSV cannot carry it, and a
    reader without content.read is refused, as on a request's page."""
    assert _policy(client, admin, usecase).status_code == 200
    send(event(usecase, id="k1", ts=time.time() - 2, content={"input": [{"role": "user", "content": "mail a@b.io"}]}),
         event(usecase, id="k2", ts=time.time() - 1))
    r = client.get("/api/v1/requests/export", params={"use_case": usecase, "content": "true"}, headers=admin)
    assert r.status_code == 200, r.text
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert [(x["id"], x["has_content"]) for x in rows] == [("k2", False), ("k1", True)]
    assert rows[0]["content"] is None and rows[1]["content"]["input"][0]["content"] == "mail [email]"
    plain = [json.loads(line) for line in client.get("/api/v1/requests/export", params={"use_case": usecase},
                                                     headers=admin).text.splitlines()]
    assert all("content" not in x for x in plain)
    # each content export is audited with its filters, and no personal data: the unit hashed, the search redacted
    r = client.get("/api/v1/requests/export", params={"use_case": usecase, "unit": "u-9", "q": "mail a@b.io",
                                                      "content": "true", "max": "5"}, headers=admin)
    assert r.status_code == 200 and r.text == ""
    with transaction(factory) as s:
        logged = [(o, json.loads(d) if isinstance(d, str) else d) for o, d in s.execute(text(
            "SELECT object_id, diff FROM audit_entries WHERE action = 'requests.export_content' ORDER BY id"))]
    assert len(logged) == 2 and all(o == usecase for o, _ in logged)
    assert logged[0][1] == {"filters": {"from": None, "to": {"use_case": usecase}}, "max": {"from": None, "to": 10_000}}
    second = {k: v["to"] for k, v in logged[1][1].items()}
    assert second["max"] == 5 and second["filters"]["q"] == "mail [email]"
    assert second["filters"]["unit"].startswith("h:") and "u-9" not in json.dumps(logged)
    r = client.get("/api/v1/requests/export", params={"content": "true", "format": "csv"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "content"
    r = client.get("/api/v1/requests/export", params={"content": "maybe"}, headers=admin)
    assert r.status_code == 422
    r = client.get("/api/v1/requests/export", params={"content": "true"}, headers=users.headers("viewer"))
    assert r.status_code == 403 and "content.read" in r.text
    assert client.get("/api/v1/requests/export", headers=users.headers("viewer")).status_code == 200
    with transaction(factory) as s:  # refused exports and plain ones are not content exports
        assert s.scalar(text("SELECT count(*) FROM audit_entries WHERE action = 'requests.export_content'")) == 2


def test_a_patch_changes_only_the_fields_given_and_is_audited(client, admin, users, usecase, factory):
    """PATCH keeps what it does not name (an operator pattern must not vanish because a retention was set), writes
    one audit entry with before and after, and writes nothing when it changes nothing."""
    url = f"/api/v1/capture-policies/{usecase}"

    def entries() -> list[tuple[str, str]]:
        with transaction(factory) as s:
            return [tuple(r) for r in s.execute(text(
                "SELECT object_id, diff FROM audit_entries WHERE action = 'capture_policy.set' ORDER BY id"))]

    assert _policy(client, admin, usecase, retention_days=30).status_code == 200
    r = client.patch(url, json={"retention_days": 7}, headers=admin)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["retention_days"] == 7 and got["capture"] is True and got["max_chars"] == 100
    assert got["patterns"] == [{"name": "ticket", "pattern": r"TCK-\d{6}"}]
    assert client.get(url, headers=admin).json() == got
    diff = json.loads(entries()[-1][1]) if isinstance(entries()[-1][1], str) else entries()[-1][1]
    assert diff == {"retention_days": {"from": 30, "to": 7}}, "only the changed field"
    assert len(entries()) == 2
    assert client.patch(url, json={"retention_days": 7, "capture": True}, headers=admin).json() == got
    assert client.patch(url, json={}, headers=admin).json() == got
    assert client.patch(url, json={"kinds": ["phone", "card", "iban", "email"]}, headers=admin).json() == got
    assert len(entries()) == 2, "a patch that changes nothing writes nothing"
    r = client.patch(url, json={"retention_days": None, "patterns": [], "kinds": ["email"]}, headers=admin)
    assert (r.json()["retention_days"], r.json()["patterns"], r.json()["kinds"]) == (None, [], ["email"])
    assert r.json()["capture"] is True and len(entries()) == 3
    for body, field in (({"capture": None}, "capture"), ({"max_chars": None}, "max_chars"),
                        ({"patterns": [{"name": "ok", "pattern": "("}]}, "patterns.0.pattern"),
                        ({"kinds": ["ssn"]}, "kinds"), ({"retention_days": 0}, "retention_days"),
                        ({"unit_ids": "plain"}, "unit_ids"), ({"bogus": 1}, "bogus")):
        r = client.patch(url, json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        assert any(d["field"].endswith(field) for d in r.json()["error"]["details"]), (body, r.text)
    assert client.get(url, headers=admin).json()["kinds"] == ["email"] and len(entries()) == 3, "refused: unchanged"
    r = client.patch(url, json={"capture": False}, headers=users.headers("ai_engineer"))
    assert r.status_code == 403 and "privacy.write" in r.text
    assert client.patch("/api/v1/capture-policies/nope", json={"capture": True}, headers=admin).status_code == 404


def test_deleting_a_unit_removes_content_and_references(client, admin, send, usecase, factory):
    assert _policy(client, admin, usecase, unit_ids="raw").status_code == 200
    send(event(usecase, id="d1", unit_id="carol", content=CONTENT,
               spans=[{"trace_id": TRACE, "span_id": "c" * 16, "name": "chat", "start": time.time(),
                       "attributes": {"enduser.id": "carol", "k": "v"}}]),
         event(usecase, id="d2", unit_id="dave", content=CONTENT))
    client.post("/api/v1/feedback", json={"id": "fb1", "request_id": "d1", "rating": 2, "comment": "I am Carol",
                                         "unit_id": "carol"}, headers=admin)
    assert client.get("/api/v1/requests/d1", headers=admin).json()["unit"] == "carol"  # raw under this policy
    r = client.post("/api/v1/requests/unit-deletions", json={"unit": "carol"}, headers=admin)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["found"] and out["requests"] == 1 and out["content_deleted"] == 1 and out["feedback"] == 1
    assert out["spans_cleaned"] == 1 and "keyed hashes" in out["rollups"]
    d = client.get("/api/v1/requests/d1", headers=admin).json()
    assert d["unit"] is None and d["content"] is None and d["spans"][0]["attributes"] == {"k": "v"}
    assert d["feedback"][0]["comment"] == "" and d["feedback"][0]["rating"] == 2
    assert client.get("/api/v1/requests/d2", headers=admin).json()["content"] is not None  # others untouched
    again = client.post("/api/v1/requests/unit-deletions", json={"unit": "carol"}, headers=admin).json()
    assert again["found"] is False and again["requests"] == 0
    with transaction(factory) as s:
        assert s.scalar(text("SELECT count(*) FROM audit_entries WHERE action = 'unit.delete'")) == 2
        diffs = [str(d) + o for d, o in s.execute(text("SELECT diff, object_id FROM audit_entries"))]
    assert diffs and not any("carol" in d for d in diffs)  # the audit names the unit by its keyed hash only
    assert client.post("/api/v1/requests/unit-deletions", json={"unit": ""}, headers=admin).status_code == 422


def test_text_search_index_follows_inserts_and_unit_deletion(client, admin, send, usecase, factory, engine):
    """The text search blocks (tele0011: built behind ingestion, one per ingest batch) find content before and after
    they are built, and a unit's deletion rebuilds its blocks without its words."""
    from takeoff.telemetry import text_index

    assert _policy(client, admin, usecase, unit_ids="raw").status_code == 200
    body = {"input": [{"role": "user", "content": "my parcel zebrafinch arrived broken"}]}
    send(event(usecase, id="t1", unit_id="erin", content={"input": [{"role": "user", "content": "Erin Quixotic: "
                                                                      "my parcel zebrafinch arrived broken"}]}),
         event(usecase, id="t2", unit_id="finn", content=body))
    send(event(usecase, id="t3", unit_id="gina", content={"input": [{"role": "user", "content": "other text"}]}))

    def found(q: str = "Zebrafinch") -> list[str]:
        return [i["id"] for i in client.get("/api/v1/requests", params={"q": q}, headers=admin).json()["items"]]

    def blocks(word: str) -> int:
        with transaction(factory) as s:
            return s.scalar(text("SELECT count(*) FROM request_text_blocks WHERE words LIKE :w"), {"w": f"%{word}%"})

    def queued() -> int:
        with transaction(factory) as s:
            return s.scalar(text("SELECT count(*) FROM request_text_pending"))

    assert found() == ["t2", "t1"] and found("quixotic") == ["t1"]  # not indexed yet: queued batches are tested
    assert queued() == 2 and blocks("zebrafinch") == 0
    assert text_index.index_all(factory, max_rows=2) == 3
    assert queued() == 0 and blocks("zebrafinch") == 1 and blocks("quixotic") == 1
    assert found() == ["t2", "t1"] and found("quixotic") == ["t1"] and found("ZEBRA") == ["t2", "t1"]
    assert found("parcel zebra") == ["t2", "t1"] and found("zebrafinch arrived broken") == ["t2", "t1"]
    assert found("finch arrived") == ["t2", "t1"] and found("zebrafinchx") == [] and found("other text") == ["t3"]
    assert client.post("/api/v1/requests/unit-deletions", json={"unit": "erin"}, headers=admin).status_code == 200
    assert blocks("quixotic") == 0 and queued() == 1  # its block is dropped at once, and queued to rebuild
    assert found() == ["t2"] and found("quixotic") == []
    assert text_index.index_all(factory) == 1
    assert found() == ["t2"] and blocks("zebrafinch") == 1 and blocks("quixotic") == 0


def test_text_search_blocks_are_a_superset_of_the_exact_matches(client, admin, send, usecase, factory):
    """Seeded random texts and searches (words, parts of words, punctuation, case, non-ASCII letters): a search finds
    the same requests before its blocks are built and after, so the block index never hides a match."""
    import random

    from takeoff.telemetry import text_index

    assert _policy(client, admin, usecase).status_code == 200
    rng = random.Random(18)
    alphabet = ["alpha", "Beta", "gamma-ray", "über", "İstanbul", "naïve", "x_y", "100%", "a.b", "zz9", "ß", "\\n",
                "\"q\"", "Kelvin", "KELVIN", "tab\there", "ΟΔΟΣ", "οδός", "Привет", "мир", "我需要退款"]
    texts = [" ".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(40)]
    for i in range(0, 40, 8):
        send(*[event(usecase, id=f"r{j:02d}", content={"input": [{"role": "user", "content": texts[j]}]})
               for j in range(i, i + 8)])
    queries = ["alpha", "ALPHA beta", "mma-ra", "ber", "stanbul", "ïve", "x_y", "100%", "a.b", "zz9 alpha", "ray über",
               "elvin", "kelvin", "lpha Bet", "beta gam", "\\n", "ab", "ΟΔΟ", "οδό", "ПРИВЕТ мир", "ривет", "需要退款",
               "退款"] + [t[2:14] for t in texts[:12]]

    def found() -> dict[str, list[str]]:
        return {q: [i["id"] for i in client.get("/api/v1/requests", params={"q": q, "limit": 100},
                                                headers=admin).json()["items"]] for q in queries if len(q.strip()) >= 2}

    before = found()
    assert any(before.values())
    text_index.index_all(factory)
    assert found() == before


def test_a_search_in_another_script_is_narrowed_by_the_index_and_ignores_case(client, admin, send, usecase, factory):
    """Greek and Cyrillic words are words of the block index (not only ASCII runs), and so are the pairs of Chinese
    letters: such a search reads the few blocks holding it, and finds the text in any case on both backends."""
    from takeoff.telemetry import text_index

    assert _policy(client, admin, usecase).status_code == 200
    send(event(usecase, id="g1", content={"input": [{"role": "user", "content": "Καλημέρα, ΠΡΙΒΕΤ? Привет, мир"}]}),
         event(usecase, id="g2", content={"input": [{"role": "user", "content": "good morning, world"}]}),
         event(usecase, id="g3", content={"input": [{"role": "user", "content": "我需要退款, Order 12"}]}))
    text_index.index_all(factory)
    with factory() as s:
        assert text_index.candidate_batches(s, "привет МИР", 10) is not None, "the index narrows a Cyrillic text"
        assert text_index.candidate_batches(s, "γεια", 10) == ([], 0)
    for q in ("привет", "ПРИВЕТ, МИР", "καλημέρα", "Привет, мир"):
        got = client.get("/api/v1/requests", params={"q": q}, headers=admin).json()["items"]
        assert [i["id"] for i in got] == ["g1"], q
    assert client.get("/api/v1/requests", params={"q": "γεια"}, headers=admin).json()["items"] == []
    with factory() as s:  # a two-character Chinese word: a pair of the block's words (a trigram needs three)
        assert text_index.candidate_batches(s, "退款", 10) is not None, "the index narrows a two-character word"
        assert text_index.candidate_batches(s, "款我", 10) == ([], 0)
    with factory() as s:  # one Chinese letter: a word of its own (the blocks hold every CJK letter alone too)
        assert text_index.candidate_batches(s, "款", 10) is not None, "the index narrows a one-letter word"
        assert text_index.candidate_batches(s, "钱", 10) == ([], 0)
    for q in ("退款", "需要", "需要退款, order", "款", " 退 "):  # caseless script: a pair, a longer run, one letter
        got = client.get("/api/v1/requests", params={"q": q}, headers=admin).json()["items"]
        assert [i["id"] for i in got] == ["g3"], q
    for q in ("款我", "钱"):
        assert client.get("/api/v1/requests", params={"q": q}, headers=admin).json()["items"] == [], q
    for q in ("a", "・", "1"):  # one letter of another script, CJK punctuation or a digit is still too short
        r = client.get("/api/v1/requests", params={"q": q}, headers=admin)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "q", q


def test_a_text_search_folds_case_the_same_on_both_backends_whatever_the_locale(client, admin, send, usecase,
                                                                                 factory):
    """A text with non-ASCII cased letters is compared case-folded on both backends: a final sigma, ß as ss, a
    ligature; PostgreSQL through a pattern of each letter's variants, which a C locale (where ILIKE folds no
    non-ASCII letter) does not change. A text of ASCII letters stays ASCII-case-insensitive on both."""
    from sqlalchemy import text

    from takeoff.requests.text_search import pg_pattern
    from takeoff.telemetry import text_index

    assert _policy(client, admin, usecase).status_code == 200
    bodies = {"f1": "ΟΔΟΣ one", "f2": "Straße two", "f3": "STRASSE three", "f4": "ÉCOLE four", "f5": "ﬁle five",
              "f6": "FILE six"}
    send(*[event(usecase, id=k, content={"input": [{"role": "user", "content": v}]}) for k, v in bodies.items()])

    def found(q: str) -> list[str]:
        items = client.get("/api/v1/requests", params={"q": q, "limit": 100}, headers=admin).json()["items"]
        return sorted(i["id"] for i in items)

    expected = {"οδος": ["f1"], "STRAßE": ["f2", "f3"], "strasse": ["f3"], "école": ["f4"], "ÉCOLE F": ["f4"],
                "ﬁle": ["f5", "f6"], "file": ["f6"], "FILE S": ["f6"]}
    assert {q: found(q) for q in expected} == expected  # the batch not indexed yet: every row tested
    text_index.index_all(factory)
    assert {q: found(q) for q in expected} == expected  # narrowed by the blocks: the same
    if client.app.state.engine.dialect.name == "postgresql":  # type: ignore[attr-defined]
        with factory() as s:
            c_locale = s.execute(text("SELECT 'ÉCOLE' COLLATE \"C\" ILIKE '%école%', "
                                      "'ÉCOLE' COLLATE \"C\" ~ :p"), {"p": pg_pattern("école")}).one()
        assert tuple(c_locale) == (False, True)


def test_sqlite_walks_a_quarter_as_far_for_a_text_it_tests_folded(client, admin, send, usecase, monkeypatch):
    """SQLite tests a cased non-ASCII text through takeoff_fold (a Python call a row): a walking page tests a quarter
    of the budget, so it answers in the same time; PostgreSQL's pattern keeps the whole budget. Both find every match
    in any case, page after page."""
    from takeoff.requests import queries, text_search

    assert _policy(client, admin, usecase).status_code == 200
    now = time.time()
    send(*[event(usecase, id=f"m{i:02d}", ts=now - 100 + i,
                 content={"input": [{"role": "user", "content": "МЫ тут" if i % 4 == 0 else "other"}]}) for i in range(16)])
    monkeypatch.setattr(queries, "SCAN_BUDGET", 8)
    first = client.get("/api/v1/requests", params={"q": "мы"}, headers=admin).json()
    sqlite = client.app.state.engine.dialect.name == "sqlite"  # type: ignore[attr-defined]
    assert [i["id"] for i in first["items"]] == ([] if sqlite else ["m12", "m08"])  # m15-m14 tested, or m15-m08
    found, cursor = [], None
    while True:
        page = client.get("/api/v1/requests", params={"q": "мы", **({"cursor": cursor} if cursor else {})},
                          headers=admin).json()
        found += [i["id"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert found == ["m12", "m08", "m04", "m00"]
    assert text_search.folded("мы") and not text_search.folded("退款 ab")


def test_text_search_pages_the_same_driven_by_matches_or_by_time(client, admin, send, usecase, monkeypatch):
    """SQLite builds a rare text's page from its matches, a common one's from the time index: same rows, same order,
    same cursors either way."""
    from takeoff.requests import text_search

    assert _policy(client, admin, usecase).status_code == 200
    now = time.time()
    send(*[event(usecase, id=f"p{i:02d}", ts=now - 100 + i * (i % 3 != 0),  # ties in time: the id breaks them
                 content={"input": [{"role": "user", "content": f"heron {i}" if i % 2 else "other"}]})
           for i in range(12)])

    def pages() -> list[list[str]]:
        out, cursor = [], None
        while True:
            params = {"q": "heron", "limit": 2, **({"cursor": cursor} if cursor else {})}
            r = client.get("/api/v1/requests", params=params, headers=admin).json()
            out.append([i["id"] for i in r["items"]])
            cursor = r["next_cursor"]
            if not cursor:
                return out

    driven = pages()
    monkeypatch.setattr(text_search, "RARE_TEXT", 0)
    assert pages() == driven and sorted(sum(driven, [])) == [f"p{i:02d}" for i in range(1, 12, 2)]


def test_a_walking_text_search_tests_a_bounded_number_of_requests_a_page(app, client, admin, send, usecase,
                                                                         monkeypatch):
    """A text the index cannot narrow (`ab`: no word of 3 characters) walks the time index; with a budget of 5
    requests a page, pages say how far back they searched and hold only the matches there (maybe none), and the
    cursors lead through every match in the order of one unbounded walk, ties in time included."""
    from takeoff.requests import queries

    assert _policy(client, admin, usecase).status_code == 200
    now = time.time()
    send(*[event(usecase, id=f"w{i:02d}", ts=now - 100 + i * (i % 3 != 0),
                 content={"input": [{"role": "user", "content": f"ab {i}" if i in (2, 3, 4, 15, 16) else "other"}]})
           for i in range(20)])

    def walk(**params: Any) -> tuple[list[list[str]], list[str | None]]:
        out, searched, cursor = [], [], None
        while True:
            r = client.get("/api/v1/requests", params={"q": "ab", "limit": 2, **params,
                                                       **({"cursor": cursor} if cursor else {})}, headers=admin)
            assert r.status_code == 200, r.text
            out.append([i["id"] for i in r.json()["items"]])
            searched.append(r.json()["searched_to"])
            cursor = r.json()["next_cursor"]
            if not cursor:
                return out, searched

    unbounded, searched = walk()
    assert searched == [None] * len(unbounded)
    expected = sum(unbounded, [])
    assert sorted(expected) == ["w02", "w03", "w04", "w15", "w16"]
    monkeypatch.setattr(queries, "SCAN_BUDGET", 5)
    pages, searched = walk()
    assert sum(pages, []) == expected, "the same matches in the same order"
    assert [] in pages and any(s is not None for s in searched), "a page with no match says how far it searched"
    assert all(len(p) <= 2 for p in pages)
    filtered, _ = walk(model="gpt-4o")  # an indexed filter bounds the walk the same way
    assert sum(filtered, []) == expected
    from tests.conftest import web_login

    page = web_login(app, "root").get("/requests", params={"q": "ab"})  # the admin of the `admin` fixture
    assert page.status_code == 200 and "requests back to" in page.text and "Search older requests" in page.text
