"""Pure incident metrics: MTTD / MTTR per use case and per month, counts by severity, input checks."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from takeoff.incidents import metrics

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def inc(uc: str, sev: int, start: datetime, ttd_min: float, ttr_min: float | None) -> metrics.IncidentTimes:
    det = start + timedelta(minutes=ttd_min)
    return metrics.IncidentTimes(uc, sev, start, det, det + timedelta(minutes=ttr_min) if ttr_min is not None else None)


def test_grouped_means_per_use_case_and_month() -> None:
    rows = [inc("a", 1, T0, 10, 60), inc("a", 2, T0 + timedelta(days=31), 30, None), inc("b", 2, T0, 0, 20)]
    g = metrics.grouped(rows)
    assert g["overall"]["count"] == 3 and g["overall"]["open"] == 1
    assert g["overall"]["mttd_s"] == pytest.approx((600 + 1800 + 0) / 3)
    assert g["overall"]["mttr_s"] == pytest.approx((3600 + 1200) / 2)  # the open one has no recovery time yet
    assert g["overall"]["by_severity"] == {1: 1, 2: 2, 3: 0, 4: 0}
    a = next(r for r in g["by_use_case"] if r["use_case"] == "a")
    assert a["mttd_s"] == 1200 and a["mttr_s"] == 3600
    assert [m["month"] for m in g["by_month"]] == ["2026-04", "2026-03"]
    assert metrics.grouped([])["overall"]["mttd_s"] is None


def test_checks_and_durations() -> None:
    with pytest.raises(ValueError, match="severity"):
        metrics.check_severity(5)
    with pytest.raises(ValueError, match="severity"):
        metrics.check_severity(True)
    with pytest.raises(ValueError, match="started_at"):
        metrics.check_times(T0 + timedelta(hours=1), T0)
    with pytest.raises(ValueError, match="resolved_at"):
        metrics.check_times(T0, T0, T0 - timedelta(seconds=1))
    with pytest.raises(ValueError, match="timezone"):
        metrics.check_times(datetime(2026, 1, 1), T0)
    assert [metrics.human_duration(x) for x in (None, 42, 185, 3 * 3600 + 300, 50 * 3600)] == \
        ["—", "42s", "3m 05s", "3h 05m", "2d 02h"]
