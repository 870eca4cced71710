"""Quarterly review report: snapshot, re-scores beside last quarter's, adoption and north-star KPI over the two
quarters (as inline SVG charts in the HTML), suggested actions, decisions, and the comparison with the last review."""
from __future__ import annotations

import html
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.outcomes import reviews
from takeoff.reports import html_page, html_table, md_table
from takeoff.web import charts

TITLE = "Quarterly review"
SNAP_H = ["Use case", "Status", "Priority", "Last quarter", "Guardrail breaches", "Incidents", "Policy violations",
          "Audit findings",
          "Adoption trend", "Previous review"]
ACT_H = ["Use case", "Suggested action", "Reasons", "Decision"]
DIMENSIONS = (("value", "Value"), ("feasibility", "Feasibility"), ("risk", "Risk"))


def _trend(s: dict[str, Any]) -> str:
    x = s.get("adoption_trend")
    if x is not None:
        return f"{x * 100:+.0f} %"
    return s.get("adoption_note") or "-"


def _findings(s: dict[str, Any]) -> str:
    if "audit_findings" not in s:
        return "-"  # a review taken before findings were recorded
    if s["audit_findings"] is None:
        return "no evidence"
    return str(s["audit_findings"]) + (": " + "; ".join(s.get("findings") or []) if s.get("findings") else "")


def score_charts(snapshot: list[dict[str, Any]], quarter: str, previous: str) -> str:
    """Value, feasibility and risk (1-5) and priority (0-100), last quarter beside this quarter, per use case."""
    scored = [s for s in snapshot if s.get("value") is not None or s.get("last_quarter_value") is not None]
    if not scored:
        return f"<p class='nodata'>No use case was scored in {html.escape(previous)} or {html.escape(quarter)}.</p>"
    names = [s["name"] for s in scored]
    out = []
    for key, label in DIMENSIONS:
        out.append(charts.grouped_bars(names, [
            charts.Series(previous, [s.get(f"last_quarter_{key}") for s in scored], charts.GREY),
            charts.Series(quarter, [s.get(key) for s in scored], charts.BLUE)],
            f"{label}: {previous} vs {quarter}", name=f"score-{key}", max_value=5))
    out.append(charts.grouped_bars(names, [
        charts.Series(previous, [s.get("last_quarter_priority") for s in scored], charts.GREY),
        charts.Series(quarter, [s.get("priority") for s in scored], charts.BLUE)],
        f"Priority: {previous} vs {quarter}", name="score-priority", max_value=100))
    return "<div class='charts'>" + "".join(out) + "</div>"


def adoption_chart(snapshot: list[dict[str, Any]], quarter: str, previous: str) -> str:
    """Active users in the same stretch of last quarter and this one; a quarter without traffic says so."""
    rows = [s for s in snapshot if "active_users" in s]
    if not rows:
        return "<p class='nodata'>Adoption was not part of this review's snapshot.</p>"

    def val(x: int | None) -> int | None:
        return x if x else None  # no active user in a quarter is "no data", not a figure

    chart = charts.grouped_bars([s["name"] for s in rows], [
        charts.Series(previous, [val(s.get("last_quarter_active_users")) for s in rows], charts.GREY),
        charts.Series(quarter, [val(s.get("active_users")) for s in rows], charts.BLUE)],
        f"Active users: {previous} vs {quarter} (same days of each quarter)", name="adoption")
    notes = [f"{s['name']}: {s['adoption_note']}" for s in rows if s.get("adoption_note")]
    return chart + "".join(f"<p class='nodata'><small>{html.escape(n)}</small></p>" for n in notes)


def kpi_charts(snapshot: list[dict[str, Any]], quarter: str, previous: str) -> str:
    """Each use case's north-star KPI measurements over the two quarters, with its target line."""
    out = []
    for s in snapshot:
        ns = s.get("north_star")
        if not ns:
            continue
        if not ns["points"]:
            out.append(f"<p class='nodata'>{html.escape(s['name'])}: no {html.escape(ns['name'])} measurements in "
                       f"{html.escape(previous)} or {html.escape(quarter)}.</p>")
            continue
        avg = lambda v: "no data" if v is None else charts.fmt(v)  # noqa: E731
        title = (f"{s['name']}: {ns['name']} ({ns['unit']}); average {previous} {avg(ns['last_quarter'])}, "
                 f"{quarter} {avg(ns['this_quarter'])}")
        out.append(charts.bars([p[0] for p in ns["points"]], [p[1] for p in ns["points"]], title,
                                name="north-star", tick=lambda d: d[5:], target=ns.get("target"), unit=ns["unit"] or ""))
    notes = "".join(x for x in out if x.startswith("<p"))
    figures = "".join(x for x in out if not x.startswith("<p"))
    if not out:
        return "<p class='nodata'>No use case has a north-star KPI.</p>"
    return notes + (f"<div class='charts'>{figures}</div>" if figures else "")


def render(session: Session, fmt: str, quarter: str | None = None, **params: Any) -> str:
    """Markdown or printable HTML of a review (default: the latest one)."""
    if fmt not in ("md", "html"):
        raise ValueError("format must be md or html")
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    if quarter:
        rev = reviews.get_review(session, quarter)
    else:
        revs = reviews.list_reviews(session)
        rev = revs[0] if revs else None
    if rev is None:
        text = "No quarterly review has been started yet."
        return f"# {TITLE}\n\n{text}\n" if fmt == "md" else html_page(TITLE, f"<h1>{TITLE}</h1><p>{text}</p>")
    v = reviews.review_view(session, rev)
    prev_q = reviews.previous_quarter(v["quarter"])
    snap = []
    for s in v["snapshot"]:
        c = v["compare"].get(s["use_case"])
        prev = (f"priority {c['priority']}, {c['status']}" + (f", decided {c['decision']}" if c["decision"] else "")) if c else "-"
        snap.append([s["name"], s["status"], s["priority"] if s["priority"] is not None else "not scored",
                     s["last_quarter_priority"] if s["last_quarter_priority"] is not None else "-",
                     s["guardrail_breaches"], s["incidents"] if s["incidents"] is not None else "no evidence",
                     s.get("policy_violations", "-"),  # "-": a review taken before violations were counted
                     _findings(s), _trend(s), prev])
    acts = []
    for a in v["actions"]:
        d = v["decisions"].get(a["use_case"])
        acts.append([a["use_case"], a["action"].replace("_", " "), "; ".join(a["reasons"]),
                     f"{d['action']} by {d['decided_by']}: {d['rationale']}" if d else "undecided"])
    head = f"Review {v['quarter']} started by {v['created_by']} on {v['created_at'][:10]}; generated {stamp}."
    if v["previous"]:
        head += f" Compared with {v['previous']}."
    if fmt == "md":
        return "\n".join([f"# {TITLE} {v['quarter']}", "", head, "", "## Snapshot and re-scoring", "",
                          md_table(SNAP_H, snap), "", *[f"- {n}" for n in v["notes"]], "",
                          "## Suggested actions and decisions", "", md_table(ACT_H, acts), ""])
    body = (f"<h1>{TITLE} {html.escape(v['quarter'])}</h1><p>{html.escape(head)}</p><h2>Snapshot and re-scoring</h2>"
            + html_table(SNAP_H, snap) + "".join(f"<p><small>{html.escape(n)}</small></p>" for n in v["notes"])
            + f"<h2>Scores: {html.escape(prev_q)} vs {html.escape(v['quarter'])}</h2>"
            + score_charts(v["snapshot"], v["quarter"], prev_q)
            + "<h2>Adoption</h2>" + adoption_chart(v["snapshot"], v["quarter"], prev_q)
            + "<h2>North-star KPI trend</h2>" + kpi_charts(v["snapshot"], v["quarter"], prev_q)
            + "<h2>Suggested actions and decisions</h2>" + html_table(ACT_H, acts))
    return html_page(f"{TITLE} {v['quarter']}", body)
