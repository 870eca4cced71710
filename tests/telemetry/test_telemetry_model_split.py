"""Dashboards split by model from rollups (tele0010): counts per "provider/model", the same before and after
compaction, a table linking each model to its requests and a line per model on the use case's dashboard."""
from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlparse

from takeoff.core.db import make_sessionmaker, transaction
from takeoff.telemetry import rollup
from takeoff.telemetry import window as telemetry_window
from takeoff.telemetry.compaction import compact_all
from tests.telemetry.test_telemetry_metrics_api import _login, _use_case, ev


def test_rollup_model_keys_fold_merge_and_cap() -> None:
    agg = rollup.empty()
    for provider, model in (("openai", "gpt-4o"), ("openai", "gpt-4o"), (None, "local-7b"), ("openai", None)):
        rollup._fold_one(agg, {"model": model, "provider": provider}, 0.0, 0, {}, b"k" * 16)
    assert agg["models"] == {"openai/gpt-4o": 2, "/local-7b": 1}  # an event without a model is not in the split
    assert rollup.split_model_key("openai/gpt-4o") == ("openai", "gpt-4o")
    assert rollup.split_model_key("/local-7b") == (None, "local-7b")
    assert rollup.split_model_key("openai/org/model") == ("openai", "org/model")
    many = rollup.merge_many([{"models": {f"p/m{i}": i + 1}} for i in range(rollup.MAX_CATEGORIES + 5)])
    assert len(many["models"]) == rollup.MAX_CATEGORIES + 1 and rollup.OTHER in many["models"]  # the rest as one
    assert sum(many["models"].values()) == sum(range(1, rollup.MAX_CATEGORIES + 6))


def test_dashboard_splits_traffic_by_model_with_links_to_requests(client, users, factory, engine):
    _use_case(factory, "triage")
    now = time.time()
    minute = int(now // 60) * 60
    events = ([ev(minute - 600 + 5, model="gpt-4o", provider="openai") for _ in range(6)]
              + [ev(minute - 300 + 5, release="2", model="claude-sonnet", provider="anthropic") for _ in range(3)]
              + [ev(minute - 300 + 6, model=None)])
    assert client.post("/api/v1/events", json={"events": events},
                       headers=users.headers("ai_engineer")).status_code == 200
    start, end = datetime.fromtimestamp(minute - 3600, UTC), datetime.fromtimestamp(minute + 60, UTC)
    with transaction(factory) as s:
        before = telemetry_window.window_stats(s, "triage", None, start, end).models
    assert before == {"openai/gpt-4o": 6, "anthropic/claude-sonnet": 3}
    compact_all(make_sessionmaker(engine))
    with transaction(factory) as s:
        assert telemetry_window.window_stats(s, "triage", None, start, end).models == before
    _login(client, users)
    html = client.get("/telemetry/usecase/triage/dashboard?range=1h").text
    section = html[html.index('class="traffic-by-model"'):]
    rows = re.findall(r'<tr data-model="([^"]+)"><td><a href="([^"]+)">.*?<td>([^<]+)</td><td>(\d+)</td>', section, re.S)
    assert [(m, p, int(n)) for m, _, p, n in rows] == [("gpt-4o", "openai", 6), ("claude-sonnet", "anthropic", 3)]
    query = parse_qs(urlparse(unescape(rows[0][1])).query)
    assert query["model"] == ["gpt-4o"] and query["provider"] == ["openai"] and query["use_case"] == ["triage"]
    assert datetime.fromisoformat(query["start"][0]) > datetime.now(UTC) - timedelta(hours=2)
    chart = json.loads(unescape(re.search(r'data-chart=\'([^\']*)\' aria-label="Requests by model"', section)[1]))
    lines = {d["label"]: sum(d["data"]) for d in chart["data"]["datasets"]}
    assert lines == {"openai/gpt-4o": 6, "anthropic/claude-sonnet": 3}
    listed = client.get(unescape(rows[1][1]), headers=users.headers("ai_engineer"))
    assert listed.status_code == 200
