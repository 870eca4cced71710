"""Pure scorecard rules: status against target, week-over-week change, trained share, CSV parsing by line."""
from __future__ import annotations

from datetime import date

import pytest

from takeoff.outcomes import scorecard as sc

UNITS = {"handle time": "min", "csat": "score"}
TODAY = date(2026, 11, 25)


def test_kpi_status_honours_direction():
    assert sc.kpi_status("lower_is_better", 7.5, 8.0) == "on_target"
    assert sc.kpi_status("lower_is_better", 8.5, 8.0) == "off_target"
    assert sc.kpi_status("higher_is_better", 3.9, 4.0) == "off_target"
    assert sc.kpi_status("higher_is_better", None, 4.0) == "no_data"
    assert sc.kpi_status("higher_is_better", 3.0, None) == "no_target"
    with pytest.raises(ValueError, match="direction"):
        sc.kpi_status("up", 1, 2)


def test_change_and_trained_share():
    assert sc.change(6, 5) == pytest.approx(0.2)
    assert sc.change(6, 0) is None and sc.change(None, 3) is None
    assert sc.trained_share(3, 6) == 0.5
    assert sc.trained_share(9, 6) == 1.0  # people trained but not active this week do not push it over 100 %
    assert sc.trained_share(3, 0) is None
    with pytest.raises(ValueError):
        sc.trained_share(-1, 5)


def test_csv_rows_and_errors_by_line():
    text = ("kpi,value,unit,measured_on,note\n"
            "handle time,9.5,min,2026-11-20,ok\n"
            "\n"
            "csat,4.1,percent,2026-11-20,\n"
            "nps,3,pt,2026-11-20,\n"
            "handle time,inf,min,2026-11-20,\n"
            "handle time,9,min,2026-12-01,\n"
            "handle time,9\n")
    rows, errors = sc.parse_measurements_csv(text, known_units=UNITS, today=TODAY)
    assert [(r.line, r.kpi, r.value) for r in rows] == [(2, "handle time", 9.5)]
    assert [e["line"] for e in errors] == [4, 5, 6, 7, 8]
    assert "measured in 'score'" in errors[0]["message"]
    assert "unknown KPI" in errors[1]["message"]
    assert "not a number" in errors[2]["message"]
    assert "future" in errors[3]["message"]
    assert "columns" in errors[4]["message"]


def test_csv_header_and_empty_files():
    assert sc.parse_measurements_csv("", known_units=UNITS, today=TODAY)[1][0]["line"] == 1
    _, errors = sc.parse_measurements_csv("kpi,value\n", known_units=UNITS, today=TODAY)
    assert "unit, measured_on" in errors[0]["message"]
    _, errors = sc.parse_measurements_csv("kpi,value,unit,measured_on\n", known_units=UNITS, today=TODAY)
    assert "no rows" in errors[0]["message"]
    with pytest.raises(ValueError):
        sc.parse_measurements_csv(b"x", known_units=UNITS, today=TODAY)  # type: ignore[arg-type]
