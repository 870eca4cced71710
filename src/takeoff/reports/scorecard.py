"""Weekly adoption scorecard report: adoption, feedback themes, KPIs against target and ROI per use case."""
from __future__ import annotations

import html
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.outcomes import adoption, economics, kpis
from takeoff.portfolio import service as portfolio
from takeoff.reports import html_page, html_table, md_table
from takeoff.web import charts

TITLE = "Weekly adoption scorecard"
WEEK_H = ["Week of", "Active users", "Repeat users", "AI calls", "Time saved (h)", "Feedback", "Avg rating",
          "Escalations", "AI incidents", "Policy violations (blocked, resolved)", "Review (h)", "Cost of quality"]


def _v(x: Any) -> str:
    return "no data" if x is None else (f"{x:,.2f}" if isinstance(x, float) else str(x))


def _week_rows(card: dict[str, Any]) -> list[list[object]]:
    return [[w["week"], _v(w["active_users"]), _v(w["repeat_users"]), _v(w["calls"]), _v(w["time_saved_h"]),
             _v(w["feedback"]), _v(w["avg_rating"]), _v(w["escalations"]), _v(w["incidents"]),
             f"{w['policy_violations']} ({w['policy_blocks']}, {w['policy_violations_resolved']})",
             _v(w["review_hours"]), "no ROI rates" if w["cost_of_quality"] is None else f"{w['cost_of_quality']:,.2f}"]
            for w in card["weeks"]]


def _kpi_rows(session: Session, key: str) -> list[list[object]]:
    out = []
    for k in kpis.kpi_report(session, key)["kpis"]:
        out.append([("north star: " if k["role"] == "north_star" else "guardrail: ") + k["name"], k["unit"],
                    _v(k.get("baseline")), _v(k.get("target")), _v(k["latest"]), k["status"].replace("_", " ")])
    return out


def _north_star_chart(session: Session, key: str) -> str:
    rows = kpis.kpi_report(session, key)["kpis"]
    if not rows or not rows[0]["measurements"]:
        return ""
    ms = rows[0]["measurements"]
    k = rows[0]
    return charts.bars([m["measured_on"] for m in ms], [m["value"] for m in ms],
                        f"{k['name']} ({k['unit']}), target {k.get('target')}", name="north-star",
                        tick=lambda d: d[5:], target=k.get("target"), unit=k["unit"])


def _roi_line(session: Session, key: str) -> str:
    r = economics.roi(session, key)
    if r["result"] is None:
        return "ROI: not computed; missing " + "; ".join(r["missing"])
    res = r["result"]
    roi = "undefined" if res["roi_percent"] is None else f"{res['roi_percent']:.1f} %"
    pay = "never" if res["payback_months"] == "never" else f"{res['payback_months']:.2f} months"
    return f"ROI {roi} ({res['formulas']['roi']}); payback {pay} ({res['formulas']['payback_months']})"


def render(session: Session, fmt: str, use_case: str | None = None, weeks: str | int = 6, **params: Any) -> str:
    """Markdown or printable HTML scorecard for every active use case (or one with `use_case=KEY`)."""
    if fmt not in ("md", "html"):
        raise ValueError("format must be md or html")
    try:
        n = int(weeks)
    except (TypeError, ValueError):
        raise ValueError(f"weeks must be a whole number, got {weeks!r}") from None
    ucs = [portfolio.get(session, use_case)] if use_case else \
        [u for u in portfolio.list_use_cases(session) if u.status != "retired"]
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    md = [f"# {TITLE}", "", f"Generated {stamp}.", ""]
    body = f"<h1>{TITLE}</h1><p>Generated {stamp}.</p>"
    kpi_h = ["KPI", "Unit", "Baseline", "Target", "Latest", "Status"]
    for uc in ucs:
        card = adoption.weekly_scorecard(session, uc.key, n)
        share = "no active users" if card["trained_share"] is None else f"{card['trained_share'] * 100:.0f} %"
        themes = card["themes"]
        policy = card["usage_policy"]
        md += [f"## {uc.name} ({uc.key})", "", md_table(WEEK_H, _week_rows(card)), "",
               f"Active users trained: {share} ({card['trained_people']} people).", ""]
        md += [f"- {n_}" for n_ in card["notes"]]
        md += ["", "### Feedback themes", ""]
        md += [f"- **{t['label']}** ({t['size']}): " + " / ".join(f"“{e}”" for e in t["examples"]) for t in themes] or ["_No comments._"]
        md += ["", "### KPIs", "", md_table(kpi_h, _kpi_rows(session, uc.key)), "", _roi_line(session, uc.key), ""]
        if policy:
            md += ["### Usage policy", "", "Approved: " + "; ".join(policy["approved_uses"]),
                   "Prohibited: " + "; ".join(policy["prohibited_uses"]),
                   "Red flags: " + ("; ".join(policy["red_flags"]) or "none"),
                   "Trust vs verify: " + policy["trust_vs_verify"], ""]
        body += (f"<h2>{html.escape(uc.name)} ({html.escape(uc.key)})</h2>"
                 + charts.bars([w["week"] for w in card["weeks"]], [w["active_users"] for w in card["weeks"]],
                                "active users per week", name="active-users", tick=lambda d: d[5:])
                 + html_table(WEEK_H, _week_rows(card))
                 + f"<p>Active users trained: {html.escape(share)} ({card['trained_people']} people).</p>"
                 + "".join(f"<p><small>{html.escape(x)}</small></p>" for x in card["notes"])
                 + "<h3>Feedback themes</h3><ul>"
                 + ("".join(f"<li><strong>{html.escape(t['label'])}</strong> ({t['size']}): "
                            + " / ".join(f"“{html.escape(e)}”" for e in t["examples"]) + "</li>" for t in themes)
                    or "<li>No comments.</li>")
                 + "</ul><h3>KPIs</h3>" + _north_star_chart(session, uc.key) + html_table(kpi_h, _kpi_rows(session, uc.key))
                 + f"<p>{html.escape(_roi_line(session, uc.key))}</p>")
    if not ucs:
        md.append("_No use cases._")
        body += "<p>No use cases.</p>"
    return "\n".join(md) if fmt == "md" else html_page(TITLE, body)
