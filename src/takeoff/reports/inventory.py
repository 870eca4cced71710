"""The one-page inventory (seed step 1): every initiative, plus the organization's constraints and platforms."""
from __future__ import annotations

import html
from typing import Any

from sqlalchemy.orm import Session

from takeoff.core.db import utcnow
from takeoff.governance import organization as gov
from takeoff.portfolio import service as portfolio
from takeoff.reports import html_page, html_table, md_table

TITLE = "AI initiative inventory"
HEADERS = ["Use case", "Status", "System of record", "Biggest bottleneck", "Non-negotiable constraint",
           "Risk tier", "EU AI Act", "Business owner"]


def _rows(items: list[dict[str, Any]]) -> list[list[object]]:
    return [[f"{i['name']} ({i['key']})", i["status"], i["system_of_record"] or "-",
             (i["biggest_bottleneck"] or "-").replace("_", " "), i["risk_constraint"] or "-", i["risk_tier"] or "-",
             (i["eu_category"] or "-").replace("_", " "), i["business_owner"] or "-"] for i in items]


def _org_rows(org: dict[str, Any], key: str, names: tuple[str, ...]) -> list[list[object]]:
    vals = org.get(key) or {}
    return [[n.replace("_", " "), vals.get(n) if vals.get(n) not in (None, "", []) else "not recorded"] for n in names]


def render(session: Session, fmt: str, **params: Any) -> str:
    """Render the inventory as Markdown (`md`) or printable HTML (`html`)."""
    if fmt not in ("md", "html"):
        raise ValueError("format must be md or html")
    items = portfolio.inventory(session)
    org = gov.organization_view(gov.organization(session))
    by_status: dict[str, int] = {}
    for i in items:
        by_status[i["status"]] = by_status.get(i["status"], 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "no initiatives yet"
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    constraints = _org_rows(org, "constraints", gov.CONSTRAINT_KEYS)
    platforms = _org_rows(org, "platforms", gov.PLATFORM_KEYS)
    if fmt == "md":
        parts = [f"# {TITLE}", "", f"Generated {stamp}. {len(items)} initiatives: {counts}.", "",
                 f"Operating model: {org['operating_model'] or 'not set'}", "", "## Initiatives", "",
                 md_table(HEADERS, _rows(items)) if items else "_No initiatives registered._", "",
                 "## Organization-level constraints", "", md_table(["Constraint", "Value"], constraints), "",
                 "## Platforms", "", md_table(["Platform", "Value"], platforms), ""]
        return "\n".join(parts)
    body = (f"<h1>{TITLE}</h1><p>Generated {stamp}. {len(items)} initiatives: {html.escape(counts)}.</p>"
            f"<p>Operating model: {html.escape(org['operating_model'] or 'not set')}</p><h2>Initiatives</h2>"
            + (html_table(HEADERS, _rows(items)) if items else "<p>No initiatives registered.</p>")
            + "<h2>Organization-level constraints</h2>" + html_table(["Constraint", "Value"], constraints)
            + "<h2>Platforms</h2>" + html_table(["Platform", "Value"], platforms))
    return html_page(TITLE, body)
