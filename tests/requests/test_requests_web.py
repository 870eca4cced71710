"""The requests pages: the list with filters (bad input says so), the detail with the waterfall, and the span
layout rules."""
from __future__ import annotations

import time

from takeoff.requests.waterfall import layout
from tests.conftest import web_login
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
