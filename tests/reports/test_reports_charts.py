"""The shared inline SVG charts: one drawn bar per value, missing values marked "no data", labels escaped."""
from __future__ import annotations

import re

import pytest

from takeoff.web import charts


def _bars(svg: str) -> list[str]:
    return re.findall(r"<rect class='bar'[^>]*data-value='([^']+)'", svg)


def test_bars_draw_each_value_and_mark_missing_ones():
    svg = charts.bars(["2026-11-02", "2026-11-09", "2026-11-16"], [3, None, 7.5], "active users", name="au",
                       tick=lambda d: d[5:], target=6, unit="people")
    assert svg.count("<svg") == 1 and "data-chart='au'" in svg
    assert _bars(svg) == ["3", "7.5"]
    assert svg.count("class='nodata'") == 1 and "2026-11-09: no data" in svg
    assert ">11-16<" in svg and "target 6" in svg and "class='target'" in svg
    assert "<script" not in svg


def test_taller_values_get_taller_bars():
    svg = charts.bars(["a", "b"], [1, 4], "t")
    heights = [float(h) for h in re.findall(r"<rect class='bar'[^>]*height='([0-9.]+)'", svg)]
    assert heights[1] == pytest.approx(4 * heights[0])


def test_grouped_bars_per_series_and_category():
    svg = charts.grouped_bars(["Support", "Invoices"], [charts.Series("2026-Q3", [3, None], charts.GREY),
                                                         charts.Series("2026-Q4", [4, 3])], "Value", max_value=5)
    assert re.findall(r"data-series='([^']+)' data-value='([^']+)'", svg) == [
        ("2026-Q3", "3"), ("2026-Q4", "4"), ("2026-Q4", "3")]
    assert "Invoices · 2026-Q3: no data" in svg and "scale 0 to 5" in svg


def test_status_matrix_colours_each_cell():
    svg = charts.status_matrix(["Support <reply>"], ["Data quality", "Security"], [["pass", "no_evidence"]],
                                "Readiness", labels={"pass": "pass", "fail": "FAIL", "no_evidence": "no evidence"})
    assert re.findall(r"data-status='([a-z_]+)'", svg) == ["pass", "no_evidence"]
    assert "Support &lt;reply&gt; · Security: no evidence" in svg and "<reply>" not in svg


def test_stacked_bars_split_counts():
    svg = charts.stacked_bars(["Evaluation", "Security"], [charts.Series("pass", [2, 0], charts.GREEN),
                                                           charts.Series("fail", [1, 3], charts.RED)], "Items")
    assert re.findall(r"data-series='([^']+)' data-value='([^']+)'", svg) == [("pass", "2"), ("fail", "1"),
                                                                              ("fail", "3")]


@pytest.mark.parametrize("call", [
    lambda: charts.bars(["a"], [1, 2], "t"),
    lambda: charts.bars(["a"], [float("nan")], "t"),
    lambda: charts.bars(["a"], ["3"], "t"),
    lambda: charts.grouped_bars(["a"], [], "t"),
    lambda: charts.grouped_bars(["a", "b"], [charts.Series("s", [1])], "t"),
    lambda: charts.status_matrix(["r"], ["c"], [["maybe"]], "t"),
    lambda: charts.status_matrix(["r"], ["c", "d"], [["pass"]], "t"),
])
def test_bad_chart_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
