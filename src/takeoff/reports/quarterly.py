"""Quarterly review report: snapshot, re-scores beside last quarter's, suggested actions, decisions, comparison."""
from __future__ import annotations

import html
from typing import Any

from sqlalchemy.orm import Session

from takeoff.db import utcnow
from takeoff.outcomes import service
from takeoff.reports import html_page, html_table, md_table

TITLE = "Quarterly review"
SNAP_H = ["Use case", "Status", "Priority", "Last quarter", "Guardrail breaches", "Incidents", "Adoption trend",
          "Previous review"]
ACT_H = ["Use case", "Suggested action", "Reasons", "Decision"]


def _trend(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.0f} %"


def render(session: Session, fmt: str, quarter: str | None = None, **params: Any) -> str:
    """Markdown or printable HTML of a review (default: the latest one)."""
    if fmt not in ("md", "html"):
        raise ValueError("format must be md or html")
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    if quarter:
        rev = service.get_review(session, quarter)
    else:
        revs = service.list_reviews(session)
        rev = revs[0] if revs else None
    if rev is None:
        text = "No quarterly review has been started yet."
        return f"# {TITLE}\n\n{text}\n" if fmt == "md" else html_page(TITLE, f"<h1>{TITLE}</h1><p>{text}</p>")
    v = service.review_view(session, rev)
    snap = []
    for s in v["snapshot"]:
        c = v["compare"].get(s["use_case"])
        prev = (f"priority {c['priority']}, {c['status']}" + (f", decided {c['decision']}" if c["decision"] else "")) if c else "-"
        snap.append([s["name"], s["status"], s["priority"] if s["priority"] is not None else "not scored",
                     s["last_quarter_priority"] if s["last_quarter_priority"] is not None else "-",
                     s["guardrail_breaches"], s["incidents"] if s["incidents"] is not None else "no evidence",
                     _trend(s["adoption_trend"]), prev])
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
            + "<h2>Suggested actions and decisions</h2>" + html_table(ACT_H, acts))
    return html_page(f"{TITLE} {v['quarter']}", body)
