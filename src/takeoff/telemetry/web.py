"""Telemetry at the root: OTLP/HTTP `POST /v1/traces`, the /telemetry overview page, the use-case dashboard fragment."""
from __future__ import annotations

import hashlib
import math
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from takeoff.actor import Actor

from takeoff.db import utcnow
from takeoff.deps import DB, Allowed
from takeoff.errors import BadRequest, NotFound
from takeoff.telemetry import otlp, service
from takeoff.telemetry.ingest import timing_errors
from takeoff.web.render import CurrentPage

# OTLP is a public ingestion API (in the OpenAPI document); the pages are not.
router = APIRouter()

RANGES: dict[str, tuple[int, int]] = {  # range -> (seconds, step seconds): at most a few hundred points per chart
    "1h": (3600, 60), "6h": (6 * 3600, 300), "24h": (86400, 900), "7d": (7 * 86400, 3600),
    "30d": (30 * 86400, 86400), "90d": (90 * 86400, 86400),
}
CHARTS: list[tuple[str, str, str | None]] = [  # (metric, title, scale target drawn as a line)
    ("latency_p95", "Latency p95 (ms)", "latency_p95_ms"),
    ("throughput", "Throughput (events/min)", "throughput_per_min"),
    ("error_rate", "Error rate", "max_error_rate"),
    ("fallback_rate", "Fallback rate", None),
    ("cost_per_task", "Cost per task (USD)", "cost_per_task_usd"),
    ("tokens", "Tokens (input + output)", None),
    ("active_users", "Active users", None),
    ("escalation_rate", "Escalation rate", None),
]
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


@router.post("/v1/traces", tags=["telemetry"], summary="OTLP/HTTP trace export (protobuf or JSON)")
async def otlp_traces(request: Request, session: DB, actor: Allowed("telemetry.ingest")) -> Response:
    """Ingest GenAI spans; malformed or truncated bodies get 400; spans later than the lateness are rejected."""
    body = await request.body()
    ctype = request.headers.get("content-type")
    rejected = await run_in_threadpool(_ingest_spans, session, actor, body, ctype,
                                       request.headers.get("content-encoding"),
                                       request.app.state.settings.late_event_seconds)
    payload, media = otlp.response(ctype, rejected,
                                   f"{rejected} span(s) outside the accepted time range" if rejected else "")
    return Response(payload, media_type=media)


def _ingest_spans(session: Session, actor: Actor, body: bytes, ctype: str | None, encoding: str | None,
                  late_s: int) -> int:
    """Decode, ingest and commit in one worker thread (as POST /api/v1/events); returns the spans rejected as late."""
    with service.ingest_slot(session):  # one ingest at a time per process, committed inside
        try:
            req = otlp.parse(otlp.decompress(body, encoding), ctype)
            events, _skipped = otlp.span_events(req)
        except otlp.OtlpError as exc:
            raise BadRequest(str(exc), code="bad_otlp") from None
        for ev in events:
            if ev["id"] is None:  # a span without a span id still gets a stable identity
                ev["id"] = hashlib.sha256(repr(sorted(ev.items())).encode()).hexdigest()[:48]
        bad = {int(d["field"].split(".")[1]) for d in timing_errors(events, utcnow().timestamp(), late_s)}
        service.ingest_events(session, actor, [ev for i, ev in enumerate(events) if i not in bad], late_s=late_s,
                              source="otlp")
    return len(bad)


def _range(value: str | None) -> tuple[str, int, int]:
    key = value if value in RANGES else "24h"
    return key, *RANGES[key]


def _fmt(x: float | None, digits: int = 3) -> str:
    """A readable figure: thousands separated, small values with `digits` significant digits, never 1e+03."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


@router.get("/telemetry", include_in_schema=False)
def overview_page(page: CurrentPage, range: str | None = Query(None)) -> Any:  # noqa: A002 - the UI's word
    """Every use case with telemetry: volume, p95, error rate, cost per task and its status against targets."""
    page.require("read")
    key, secs, _ = _range(range)
    end = utcnow()
    rows = service.overview(page.session, end - timedelta(seconds=secs), end)
    return page.render("telemetry/overview.html", rows=rows, range=key, ranges=list(RANGES), fmt=_fmt)


def dashboard_context(session: Any, uc: Any, range_key: str | None) -> dict[str, Any]:
    """Chart.js configs of every dashboard metric over the range, one line per release, targets as dashed lines."""
    from takeoff.portfolio import service as portfolio

    key, secs, step = _range(range_key)
    end = utcnow()
    start = end - timedelta(seconds=secs)
    targets = portfolio.targets(uc).model_dump()
    releases = service.releases_in_window(session, uc.key, start, end)
    per_release = {rel: service.series_many(session, uc.key, [m for m, _, _ in CHARTS], start, end, step, rel)
                   for rel in (releases or [None])}
    charts = []
    for metric, title, target_name in CHARTS:
        datasets: list[dict[str, Any]] = []
        labels: list[str] = []
        for i, (rel, by_metric) in enumerate(per_release.items()):
            points = by_metric[metric]
            labels = [t.strftime("%m-%d %H:%M") for t, _ in points]
            datasets.append({"label": rel or "(no release)", "data": [v for _, v in points], "spanGaps": True,
                             "borderColor": COLORS[i % len(COLORS)], "pointRadius": 0, "borderWidth": 1.5})
        target = targets.get(target_name) if target_name else None
        if target is not None:
            datasets.append({"label": "target", "data": [target] * len(labels), "borderColor": "#d62728",
                             "borderDash": [6, 4], "pointRadius": 0, "borderWidth": 1})
        charts.append({"metric": metric, "title": title, "target": target, "config": {
            "type": "line", "data": {"labels": labels, "datasets": datasets},
            "options": {"animation": False, "responsive": True, "plugins": {"legend": {"position": "bottom"}},
                        "scales": {"y": {"beginAtZero": True}}}}})
    stats = service.window_stats(session, uc.key, None, start, end)
    return {"uc": uc, "range": key, "ranges": list(RANGES), "charts": charts, "releases": releases,
            "stats": stats, "last_event_at": service.last_event_at(session, uc.key)}


@router.get("/telemetry/usecase/{key}/dashboard", include_in_schema=False)
def dashboard_fragment(key: str, page: CurrentPage, range: str | None = Query(None)) -> Any:  # noqa: A002
    """The use-case page's telemetry section (htmx fragment)."""
    page.require("read")
    from takeoff.portfolio import service as portfolio

    uc = portfolio.find(page.session, key)
    if uc is None:
        raise NotFound(f"use case '{key}' not found")
    return page.render("telemetry/dashboard_fragment.html", fmt=_fmt, **dashboard_context(page.session, uc, range))

