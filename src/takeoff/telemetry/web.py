"""Telemetry at the root: OTLP/HTTP `POST /v1/traces`, the /telemetry overview page, the use-case dashboard fragment
(its charts, split by release, with the scale targets drawn as lines)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from takeoff.catalog import pricing
from takeoff.catalog import service as catalog
from takeoff.core.actor import Actor

from takeoff.core.db import utcnow
from takeoff.deps import DB, Allowed
from takeoff.core.errors import ERROR_RESPONSES, BadRequest, NotFound
from takeoff.ratelimit import TokenLimits
from takeoff.telemetry import otlp, otlp_ingest, overview, rollup, series, window
from takeoff.web import filters
from takeoff.web.render import PageFor

# OTLP is a public ingestion API (in the OpenAPI document); the pages are not.
router = APIRouter()

RANGES: dict[str, tuple[int, int]] = {  # range -> (seconds, step seconds): at most 168 points, coarse rollup rows
    "1h": (3600, 60), "6h": (6 * 3600, 300), "24h": (86400, 3600), "7d": (7 * 86400, 3600),
    "30d": (30 * 86400, 86400), "90d": (90 * 86400, 86400),
}
QUALITY = rollup.QUALITY_ALL  # expanded to one quality_<score> line per score name the range holds


def _uptime_as_error_rate(uptime_pct: float) -> float:
    """An uptime target drawn on the error-rate chart: the error rate it allows."""
    return 1.0 - uptime_pct / 100.0


@dataclass(frozen=True)
class Chart:
    """One dashboard chart: its metrics (a line each, per release) and the scale targets drawn on it as lines."""

    key: str
    title: str
    metrics: tuple[str, ...]
    targets: tuple[tuple[str, str, Callable[[float], float]], ...] = ()  # (ScaleTargets field, legend, to chart units)


CHARTS: tuple[Chart, ...] = (
    Chart("latency", "Latency p50 / p95 / p99 (ms)", ("latency_p50", "latency_p95", "latency_p99"),
          (("latency_p95_ms", "target p95", float),)),
    Chart("throughput", "Throughput (events/min)", ("throughput",), (("throughput_per_min", "target", float),)),
    Chart("error_rate", "Error rate", ("error_rate",),
          (("max_error_rate", "target max", float), ("uptime_pct", "uptime target", _uptime_as_error_rate))),
    Chart("fallback_rate", "Fallback rate", ("fallback_rate",)),
    Chart("cost_per_task", "Cost per task (USD)", ("cost_per_task",), (("cost_per_task_usd", "target", float),)),
    Chart("cost_per_active_user", "Cost per active user (USD)", ("cost_per_active_user",)),
    Chart("tokens", "Tokens (input + output)", ("tokens",)),
    Chart("quality", "Quality scores (mean)", (QUALITY,), (("min_eval_pass_rate", "target pass rate", float),)),
    Chart("override_rate", "Human override rate", ("override_rate",)),
    Chart("escalation_rate", "Escalation rate", ("escalation_rate",)),
    Chart("users", "Active and repeat users", ("active_users", "repeat_users")),
    Chart("safety", "Safety filter findings, blocks and resolved", ("policy_violations", "policy_blocks",
                                                                    "policy_violations_resolved")),
)
LINE_LABELS = {"latency_p50": "p50", "latency_p95": "p95", "latency_p99": "p99", "active_users": "active",
               "repeat_users": "repeat"}
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
DASHES: list[list[int]] = [[], [6, 3], [2, 2], [10, 2, 2, 2]]  # one per metric of a chart; the color is the release
TARGET_COLORS = ["#d62728", "#7b1113"]


# OTLP's ExportTraceServiceRequest in its JSON mapping (opentelemetry-proto); the spans are read by telemetry.otlp.
OTLP_JSON = {"type": "object", "description": "OTLP ExportTraceServiceRequest (JSON mapping)",
             "properties": {"resourceSpans": {"type": "array", "items": {"type": "object"}}}}


@router.post("/v1/traces", tags=["telemetry"], summary="OTLP/HTTP trace export (protobuf or JSON)", responses={
    **ERROR_RESPONSES, 200: {"description": "ExportTraceServiceResponse (partial_success names refused spans)",
                             "content": {"application/x-protobuf": {}, "application/json": {}}}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-protobuf": {"schema": {
        "type": "string", "format": "binary"}}, "application/json": {"schema": OTLP_JSON}}}})
async def otlp_traces(request: Request, session: DB, actor: Allowed("telemetry.ingest")) -> Response:
    """Ingest GenAI spans; malformed or truncated bodies get 400; spans without a usable time or later than the
    lateness are refused (partial_success); values EventIn refuses are left out of their span's event."""
    body = await request.body()
    ctype = request.headers.get("content-type")
    refused = await run_in_threadpool(_ingest_spans, session, actor, body, ctype,
                                      request.headers.get("content-encoding"),
                                      request.app.state.settings.late_event_seconds,
                                      rollup.unit_key(request.app.state.settings.resolved_secret_key),
                                      request.app.state.limits, otlp_ingest.seen_traces(request.app.state))
    payload, media = otlp.response(ctype, refused)
    return Response(payload, media_type=media)


def _ingest_spans(session: Session, actor: Actor, body: bytes, ctype: str | None, encoding: str | None,
                  late_s: int, unit_key: bytes, limits: TokenLimits | None = None,
                  seen: otlp.SeenTraces | None = None) -> list[otlp.Refusal]:
    """The shared OTLP ingestion path (otlp_ingest) in one worker thread; a bad body is a 400."""
    try:
        return otlp_ingest.ingest_export(session, actor, body, ctype, encoding, late_s=late_s, unit_key=unit_key,
                                         limits=limits, seen=seen)
    except otlp.OtlpError as exc:
        raise BadRequest(str(exc), code="bad_otlp") from None


def _range(value: str | None) -> tuple[str, int, int]:
    key = value if value in RANGES else "24h"
    return key, *RANGES[key]


def _fmt(x: float | None, digits: int = 3) -> str:
    """A readable figure: thousands separated, small values with `digits` significant digits, never 8.1e-05."""
    return filters.number(x, digits)


@router.get("/telemetry", include_in_schema=False)
def overview_page(page: PageFor("read"), range: str | None = Query(None)) -> Any:  # the UI's word
    """Every use case not retired, and every one with telemetry: key metrics and the status against its targets."""
    key, secs, _ = _range(range)
    end = utcnow()
    rows = overview.overview(page.session, end - timedelta(seconds=secs), end)
    return page.render("telemetry/overview.html", rows=rows, range=key, ranges=list(RANGES), fmt=_fmt)


def chart_metrics(chart: Chart, score_names: Sequence[str]) -> list[str]:
    """The metrics a chart draws: quality expands to one line per score name present."""
    return [m2 for m in chart.metrics
            for m2 in ([f"quality_{n}" for n in sorted(score_names)] if m == QUALITY else [m])]


def target_lines(chart: Chart, targets: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chart's scale targets that the use case sets, in the chart's units."""
    return [{"target": name, "label": label, "value": convert(float(targets[name]))}
            for name, label, convert in chart.targets if targets.get(name) is not None]


def chart_config(chart: Chart, metrics: Sequence[str], by_release: Mapping[str, Mapping[str, list[float | None]]],
                 labels: list[str], lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A Chart.js line config: a dataset per (release, metric), color by release and dash by metric, targets as
    red dashed lines across the whole range."""
    datasets: list[dict[str, Any]] = []
    named = len(metrics) > 1 or QUALITY in chart.metrics  # a score's line says which score, even alone
    for i, (rel, values) in enumerate(by_release.items()):
        release = rel or "(no release)"
        for j, metric in enumerate(metrics):
            name = LINE_LABELS.get(metric, metric.removeprefix("quality_"))
            datasets.append({"label": f"{name} · {release}" if named else release, "data": values[metric],
                             "spanGaps": True, "borderColor": COLORS[i % len(COLORS)],
                             "borderDash": DASHES[j % len(DASHES)], "pointRadius": 0, "borderWidth": 1.5})
    for k, line in enumerate(lines):
        datasets.append({"label": f"{line['label']} ({line['value']:g})", "data": [line["value"]] * len(labels),
                         "borderColor": TARGET_COLORS[k % len(TARGET_COLORS)], "borderDash": [8, 4],
                         "pointRadius": 0, "borderWidth": 1, "target": line["target"]})
    return {"type": "line", "data": {"labels": labels, "datasets": datasets},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "plugins": {"legend": {"position": "bottom"}}, "scales": {"y": {"beginAtZero": True}}}}


MODEL_LINES = 8  # the busiest models get a line each; the rest one "other" line


def model_rows(models: Mapping[str, int], use_case: str, since: datetime) -> list[dict[str, Any]]:
    """The range's traffic by model, busiest first: provider, model, requests, share, and the link to its requests."""
    from urllib.parse import urlencode

    total = sum(models.values()) or 1
    rows = []
    for k, n in sorted(models.items(), key=lambda kv: (-kv[1], kv[0])):
        provider, model = rollup.split_model_key(k)
        params = {"use_case": use_case, "start": since.isoformat(), "model": model,
                  **({"provider": provider} if provider else {})}
        rows.append({"provider": provider, "model": model, "requests": n, "share": n / total,
                     "href": None if k == rollup.OTHER else f"/requests?{urlencode(params)}"})
    return rows


def model_chart(by_model: Mapping[str, list[int]], labels: list[str]) -> dict[str, Any]:
    """Requests per bucket, a line per model (the MODEL_LINES busiest; the others summed as "other")."""
    ranked = sorted(by_model, key=lambda k: -sum(by_model[k]))
    lines = {k: list(by_model[k]) for k in ranked[:MODEL_LINES]}
    if len(ranked) > MODEL_LINES:
        lines["other"] = [sum(by_model[k][i] for k in ranked[MODEL_LINES:]) for i in range(len(labels))]
    datasets = [{"label": k.lstrip("/") if k != "other" else k, "data": v, "spanGaps": True,
                 "borderColor": COLORS[i % len(COLORS)], "pointRadius": 0, "borderWidth": 1.5}
                for i, (k, v) in enumerate(lines.items())]
    return {"type": "line", "data": {"labels": labels, "datasets": datasets},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "plugins": {"legend": {"position": "bottom"}}, "scales": {"y": {"beginAtZero": True}}}}


def dashboard_context(session: Any, uc: Any, range_key: str | None) -> dict[str, Any]:
    """Every dashboard chart over the range from one rollup query for all releases and metrics, plus one for the
    repeat users' lookback (series.dashboard_series; no per-chart or per-point query), a line per release and
    metric, the scale targets as dashed lines."""
    from takeoff.portfolio import service as portfolio

    key, secs, step = _range(range_key)
    end = utcnow()
    targets = portfolio.targets(uc).model_dump()
    data = series.dashboard_series(session, uc.key, [m for c in CHARTS for m in c.metrics],
                                    end - timedelta(seconds=secs), end, step)
    labels = [t.strftime("%m-%d" if step >= 86400 else "%m-%d %H:%M") for t in data.times]
    charts = []
    for chart in CHARTS:
        metrics = chart_metrics(chart, data.score_names)
        lines = target_lines(chart, targets)
        charts.append({"key": chart.key, "title": chart.title, "metrics": metrics, "targets": lines,
                       "config": chart_config(chart, metrics, data.by_release, labels, lines) if metrics else None})
    return {"uc": uc, "range": key, "ranges": list(RANGES), "step_s": step, "since": data.times[0],
            "times": [int(t.timestamp()) for t in data.times],  # each point's bucket: its drill-down to /requests
            "charts": charts, "releases": list(data.by_release), "summary": data,
            "models": model_rows(data.models, uc.key, data.times[0]),
            "price_note": pricing.prices_note(catalog.snapshot_dates(session, data.models, data.times[0], end)),
            "models_chart": model_chart(data.by_model, labels) if data.by_model else None,
            "last_event_at": None if data.count else window.last_event_at(session, uc.key)}


@router.get("/telemetry/usecase/{key}/dashboard", include_in_schema=False)
def dashboard_fragment(key: str, page: PageFor("read"), range: str | None = Query(None)) -> Any:
    """The use-case page's telemetry section (htmx fragment)."""
    from takeoff.portfolio import service as portfolio

    uc = portfolio.find(page.session, key)
    if uc is None:
        raise NotFound(f"use case '{key}' not found")
    return page.render("telemetry/dashboard_fragment.html", fmt=_fmt, **dashboard_context(page.session, uc, range))

