"""Pure rules of the adoption scorecard and KPIs: status against target, week-over-week change, trained share,
and parsing a CSV of KPI measurements (every bad row reported by its line, so nothing half-imports)."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

KpiStatus = Literal["on_target", "off_target", "no_target", "no_data"]
CSV_COLUMNS: tuple[str, ...] = ("kpi", "value", "unit", "measured_on")
MAX_CSV_ROWS = 5000


def kpi_status(direction: str, value: float | None, target: float | None) -> KpiStatus:
    """Where a KPI stands against its target, honouring which way is good."""
    if direction not in ("higher_is_better", "lower_is_better"):
        raise ValueError(f"direction must be higher_is_better or lower_is_better, got {direction!r}")
    if value is None:
        return "no_data"
    if target is None:
        return "no_target"
    ok = value >= target if direction == "higher_is_better" else value <= target
    return "on_target" if ok else "off_target"


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change from previous to current (0.1 = +10 %); None when either is missing or previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


def trained_share(trained_people: int, active_users: int | None) -> float | None:
    """Share of active users who completed their training (capped at 1); None without active users."""
    if trained_people < 0 or (active_users is not None and active_users < 0):
        raise ValueError("counts cannot be negative")
    if not active_users:
        return None
    return min(1.0, trained_people / active_users)


@dataclass(frozen=True)
class CsvRow:
    """One parsed measurement row with the line it came from."""

    line: int
    kpi: str
    value: float
    unit: str
    measured_on: date
    note: str = ""


def parse_measurements_csv(text: str, *, known_units: dict[str, str], today: date) -> tuple[list[CsvRow], list[dict[str, Any]]]:
    """Rows and per-line errors of a CSV with header kpi,value,unit,measured_on[,note].

    A row is bad when its KPI is unknown, its unit differs from the KPI's unit, its value is not a finite number,
    or its date is not YYYY-MM-DD or lies in the future. Line numbers count the header as line 1.
    """
    if not isinstance(text, str):
        raise ValueError("the CSV must be text")
    if not text.strip():
        return [], [{"line": 1, "message": "the CSV is empty; expected a header kpi,value,unit,measured_on"}]
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        return [], [{"line": 1, "message": f"unreadable header: {exc}"}]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        return [], [{"line": 1, "message": f"header lacks column(s) {', '.join(missing)}; expected kpi,value,unit,measured_on[,note]"}]
    idx = {c: header.index(c) for c in header}
    rows: list[CsvRow] = []
    errors: list[dict[str, Any]] = []
    try:
        for n, raw in enumerate(reader, start=2):
            if not any(c.strip() for c in raw):
                continue
            if n - 1 > MAX_CSV_ROWS:
                errors.append({"line": n, "message": f"more than {MAX_CSV_ROWS} rows; split the file"})
                break
            if len(raw) < len(header):
                errors.append({"line": n, "message": f"expected {len(header)} columns, got {len(raw)}"})
                continue
            cell = {c: raw[i].strip() for c, i in idx.items()}
            problems = []
            kpi = cell["kpi"]
            if kpi not in known_units:
                problems.append(f"unknown KPI {kpi!r}; known: {', '.join(known_units) or 'none'}")
            elif cell["unit"] != known_units[kpi]:
                problems.append(f"unit {cell['unit']!r} is wrong for {kpi!r}, which is measured in {known_units[kpi]!r}")
            try:
                value = float(cell["value"])
                if not math.isfinite(value):
                    raise ValueError
            except ValueError:
                problems.append(f"value {cell['value']!r} is not a number")
                value = math.nan
            try:
                day = date.fromisoformat(cell["measured_on"])
                if day > today:
                    problems.append(f"measured_on {day} is in the future")
            except ValueError:
                problems.append(f"measured_on {cell['measured_on']!r} is not a date (YYYY-MM-DD)")
                day = today
            if problems:
                errors.append({"line": n, "message": "; ".join(problems)})
            else:
                rows.append(CsvRow(n, kpi, value, cell["unit"], day, cell.get("note", "")))
    except csv.Error as exc:
        errors.append({"line": reader.line_num, "message": f"unreadable CSV: {exc}"})
    if not rows and not errors:
        errors.append({"line": 2, "message": "the CSV has a header but no rows"})
    return rows, errors
