"""The readiness charts the diagnostic page and the printable readiness report share (inline SVG)."""
from __future__ import annotations

from typing import Any

from takeoff.readiness import checks
from takeoff.web import charts

LABEL = {"pass": "pass", "fail": "FAIL", "no_evidence": "no evidence"}


def _titles() -> list[str]:
    return [checks.TITLES[i] for i in checks.ITEMS]


def matrix_chart(views: list[dict[str, Any]], title: str, name: str = "readiness-matrix") -> str:
    """Use cases × the seven items, each cell pass / fail / no evidence; the verdict beside the use case's name."""
    cells = [[i["status"] for i in d["items"]] for d in views]
    return charts.status_matrix([d["name"] for d in views], _titles(), cells, title, name=name, labels=LABEL,
                                notes=[d["verdict"]["label"] for d in views])


def summary_chart(views: list[dict[str, Any]]) -> str:
    """Per item, how many use cases pass, fail or have no evidence."""
    count = {st: [sum(1 for d in views if d["items"][k]["status"] == st) for k in range(len(checks.ITEMS))]
             for st in LABEL}
    series = [charts.Series(LABEL[st], count[st], charts.STATUS_COLOURS[st]) for st in LABEL]
    return charts.stacked_bars(_titles(), series, f"Use cases per item and status ({len(views)} use case(s))",
                               name="readiness-summary")
