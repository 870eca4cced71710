"""The drift page: set and replace a baseline from a form (bad windows come back by their field, as typed), run a
check, per-feature statistics (test, PSI, p-value after correction) and a drifted feature's two histograms."""
from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import numpy as np

from takeoff.monitoring.drift_view import bin_labels, histogram_pair, shares

from .conftest import make_use_case, post_events
from .test_monitoring_drift import events
from .test_monitoring_pages import login


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M")


def test_histogram_pair_is_on_one_scale_and_labels_open_bins() -> None:
    assert bin_labels([1, 2]) == ["< 1", "1 – 2", "≥ 2"] and shares([0, 0]) == [0.0, 0.0]
    pair = histogram_pair({"kind": "categorical", "reference": {"web": 3, "email": 1}, "current": {"web": 1, "sms": 1}})
    assert pair["reference"]["data"]["labels"] == ["email", "sms", "web"]
    assert pair["reference"]["data"]["datasets"][0]["data"] == [0.25, 0.0, 0.75]
    assert pair["current"]["data"]["datasets"][0]["data"] == [0.0, 0.5, 0.5]
    assert pair["reference"]["options"]["scales"]["y"]["max"] == pair["current"]["options"]["scales"]["y"]["max"]
    assert (pair["reference_n"], pair["current_n"]) == (4, 2)


def test_baseline_from_the_page_then_a_drifted_feature_side_by_side(client, users, factory) -> None:
    make_use_case(factory, targets={})
    h = users.headers("ai_engineer")
    rng = np.random.default_rng(7)
    now = time.time()
    a0, r0, c0 = now - 10 * 3600, now - 5 * 3600, now - 1200
    post_events(client, h, events(rng, a0, 300, 100))
    csrf = login(client, users, "ai_engineer")
    page = client.get("/monitoring/usecase/support-reply/drift")
    assert page.status_code == 200 and "No baseline yet" in page.text and 'id="baseline-form"' in page.text
    # bad windows: each message by its field, what was typed kept, nothing saved
    r = client.post("/monitoring/usecase/support-reply/baseline",
                    data={"csrf_token": csrf, "start": local(a0 + 900), "end": local(a0), "release_id": "x:1"})
    assert r.status_code == 422 and 'id="end-error"' in r.text and "must be after the start" in r.text
    assert f'value="{local(a0 + 900)}"' in r.text and 'value="x:1"' in r.text and "No baseline yet" in r.text
    r = client.post("/monitoring/usecase/support-reply/baseline",
                    data={"csrf_token": csrf, "start": "yesterday", "end": "", "reference_start": local(r0)})
    assert r.status_code == 422 and "must be a date and time" in r.text and 'id="end-error"' in r.text
    r = client.post("/monitoring/usecase/support-reply/baseline",
                    data={"csrf_token": csrf, "start": local(a0), "end": local(a0 + 660),
                          "reference_start": local(r0), "reference_end": local(r0 + 660)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    post_events(client, h, events(rng, r0 + 30, 300, 100) + events(rng, c0, 300, 118))
    r = client.post("/monitoring/usecase/support-reply/drift/run", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/monitoring/usecase/support-reply/drift").text
    assert "2 feature(s): channel, length" in page and 'id="drift-verdict">drift<' in page
    row = re.search(r'<tr data-feature="length" data-status="drift".*?</tr>', page, re.S).group(0)
    assert "Kolmogorov–Smirnov" in row and "D = " in row and " / 300<" in row
    assert 'data-feature="channel" data-status="no_drift"' in page and "chi-square" in page
    charts = [json.loads(c.replace("&#39;", "'")) for c in re.findall(r"data-chart='([^']+)'", page)]
    assert len(charts) == 2 and charts[0]["data"]["labels"] == charts[1]["data"]["labels"]  # same bins
    assert "length: reference and current" in page
    other = client.get("/monitoring/usecase/support-reply/drift?feature=channel").text
    assert "channel: reference and current" in other
    # replacing the baseline is the same form, and audited
    assert "Replace the baseline" in page
    audit = client.get("/api/v1/audit?action=monitoring.baseline", headers=users.headers("admin")).json()
    assert audit["total"] == 1 and audit["items"][0]["object_id"] == "support-reply"


def test_drift_page_permissions_and_unknown_use_case(client, users, factory) -> None:
    make_use_case(factory, targets={})
    csrf = login(client, users, "viewer")
    page = client.get("/monitoring/usecase/support-reply/drift")
    assert page.status_code == 200 and 'id="baseline-form"' not in page.text
    r = client.post("/monitoring/usecase/support-reply/baseline",
                    data={"csrf_token": csrf, "start": "2026-01-01T00:00", "end": "2026-01-02T00:00"})
    assert r.status_code == 403
    assert client.post("/monitoring/usecase/support-reply/drift/run", data={"csrf_token": csrf}).status_code == 403
    assert client.get("/monitoring/usecase/nope/drift").status_code == 404
