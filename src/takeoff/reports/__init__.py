"""Reports: Markdown or printable HTML, one module per report (`render(session, fmt, **params) -> str`).

A report module only reads, through other domains' services. `available()` discovers them, so a new report is a
new module in this package.
"""
from __future__ import annotations

import html
import importlib
import pkgutil
import re
from types import ModuleType

_NOT_REPORTS = {"api", "schemas", "web"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def available() -> list[str]:
    """Names of the report modules present in this build."""
    import takeoff.reports as pkg

    return sorted(i.name for i in pkgutil.iter_modules(pkg.__path__)
                  if not i.name.startswith("_") and i.name not in _NOT_REPORTS)


def module(name: str) -> ModuleType | None:
    """The report module for a name, or None when there is none."""
    if not isinstance(name, str) or not _NAME.match(name) or name not in available():
        return None
    mod = importlib.import_module(f"takeoff.reports.{name}")
    return mod if callable(getattr(mod, "render", None)) else None


def title_of(name: str) -> str:
    """A report's title (its module's TITLE, else its name)."""
    mod = module(name)
    return str(getattr(mod, "TITLE", name.replace("_", " ").title())) if mod else name


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
