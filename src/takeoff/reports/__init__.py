"""Reports: Markdown or printable HTML, one module per report (`render(session, fmt, **params) -> str`), each
registered by name in `takeoff.reports.registry` (the defaults in `defaults.py`). A report only reads, through
other domains' services; this module holds the helpers they share (Markdown and HTML tables, the printable page).
"""
from __future__ import annotations

import html


def md_table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table; pipes and newlines in cells are escaped."""
    def cell(v: object) -> str:
        return ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def html_page(title: str, body: str) -> str:
    """A self-contained printable HTML page."""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 6px;"
            "text-align:left;vertical-align:top}th{background:#f3f3f3}figure.chart{margin:1em 0;break-inside:avoid}"
            ".charts{display:flex;flex-wrap:wrap;gap:0 1.5em}figure.chart svg{max-width:100%;height:auto}"
            "figcaption{font-size:12px;color:#555}"
            ".nodata{color:#777;font-style:italic}@media print{body{margin:0}}</style>"
            f"</head><body>{body}</body></html>")


def html_table(headers: list[str], rows: list[list[object]]) -> str:
    """An escaped HTML table."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
