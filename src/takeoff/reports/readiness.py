"""Readiness report: the seven-item diagnostic per use case (or one with `use_case=KEY`), with reasons and every
item blocking "ready to scale" with its link."""
from __future__ import annotations

import html
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.readiness import checks, service
from takeoff.readiness.charts import LABEL, matrix_chart, summary_chart
from takeoff.reports import html_page, html_table, md_table

TITLE = "Production readiness"


def _rows(d: dict[str, Any]) -> list[list[object]]:
    return [[i["title"] + (" (mandatory)" if i["mandatory"] else ""), LABEL[i["status"]], i["reason"], i["gap"]]
            for i in d["items"]]


def _blocking_md(d: dict[str, Any]) -> list[str]:
    """The verdict's blocking items as a Markdown list, each with its link (none: no lines)."""
    items = d["verdict"].get("blocking") or []
    if not items:
        return []
    out = ["Blocking ready to scale:", ""]
    for b in items:
        text = str(b["text"]).replace("\n", " ").replace("[", "\\[").replace("]", "\\]")
        out.append(f"- {text}" + (f" ([{b['link']}](<{b['link']}>))" if b.get("link") else ""))
    return [*out, ""]


def _blocking_html(d: dict[str, Any]) -> str:
    """The verdict's blocking items as an HTML list, each with its link shown (the report is printed)."""
    items = d["verdict"].get("blocking") or []
    if not items:
        return ""
    lis = "".join(f"<li>{html.escape(str(b['text']))}"
                  + (f" (<a href='{html.escape(str(b['link']), quote=True)}'>{html.escape(str(b['link']))}</a>)"
                     if b.get("link") else "") + "</li>"
                  for b in items)
    return f"<p class='blocking'><strong>Blocking ready to scale:</strong></p><ul class='blocking'>{lis}</ul>"


def render(session: Session, fmt: str, use_case: str | None = None, **params: Any) -> str:
    """Markdown or printable HTML of the diagnostic, portfolio-wide or for one use case."""
    if fmt not in ("md", "html"):
        raise ValueError("format must be md or html")
    if use_case:
        views = [service.diagnose(session, use_case)]
    else:
        views = service.portfolio_view(session)["use_cases"]
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    ready = sum(1 for d in views if d["verdict"]["ready"])
    headers = ["Item", "Status", "Reason", "Pilot gap"]
    summary_h = ["Use case", "Tier"] + [checks.TITLES[i] for i in checks.ITEMS] + ["Verdict"]
    summary = [[d["name"], d["risk_tier"] or "-"] + [LABEL[i["status"]] for i in d["items"]] + [d["verdict"]["label"]]
               for d in views]
    if fmt == "md":
        parts = [f"# {TITLE}", "", f"Generated {stamp}. {ready} of {len(views)} use case(s) ready to scale.", ""]
        if views:
            parts += [md_table(summary_h, summary), ""]
        for d in views:
            parts += [f"## {d['name']} ({d['use_case']}): {d['verdict']['label']}", "",
                      "; ".join(d["verdict"]["reasons"]), "", *_blocking_md(d), md_table(headers, _rows(d)), ""]
        if not views:
            parts.append("_No use cases._")
        return "\n".join(parts)
    body = f"<h1>{TITLE}</h1><p>Generated {stamp}. {ready} of {len(views)} use case(s) ready to scale.</p>"
    if views:
        body += (matrix_chart(views, "Readiness: use cases × the seven items") + summary_chart(views)
                 + html_table(summary_h, summary))
    for d in views:
        body += (f"<h2>{html.escape(d['name'])} ({html.escape(d['use_case'])}): {html.escape(d['verdict']['label'])}</h2>"
                 + matrix_chart([d], f"{d['name']}: {d['verdict']['passed']} of {d['verdict']['total']} items pass",
                                name="readiness-usecase")
                 + f"<p>{html.escape('; '.join(d['verdict']['reasons']))}</p>" + _blocking_html(d)
                 + html_table(headers, _rows(d)))
    if not views:
        body += "<p>No use cases.</p>"
    return html_page(TITLE, body)
