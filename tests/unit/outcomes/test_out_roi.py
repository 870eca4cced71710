import math

import pytest

from takeoff.outcomes.roi import NEVER, RoiInputs, compute_roi


def support_reply_assist(**over):
    base = dict(
        build_cost=60_000,
        telemetry_cost_per_month=1_500,
        infrastructure_cost_per_month=500,
        kpi_baseline=12.0,  # minutes of handle time per ticket
        kpi_current=9.0,
        unit_value=0.75,  # money per minute saved
        monthly_volume=10_000,
        review_hours_per_month=40,
        rework_hours_per_month=10,
        hourly_rate=50,
        escalations_per_month=20,
        cost_per_escalation=25,
        horizon_months=12,
    )
    base.update(over)
    return RoiInputs(**base)


def test_hand_computed_lower_is_better_example():
    # run 1,500 + 500 = 2,000; quality (40 + 10) × 50 + 20 × 25 = 3,000
    # benefit (12 − 9) × 0.75 × 10,000 = 22,500; net 22,500 − 2,000 − 3,000 = 17,500
    # total cost 60,000 + 5,000 × 12 = 120,000; total benefit 270,000; ROI 150,000 / 120,000 = 125 %
    # payback 60,000 / 17,500 = 3.43 months
    r = compute_roi(support_reply_assist())
    assert r.run_cost_per_month == 2_000
    assert r.quality_cost_per_month == 3_000
    assert r.benefit_per_month == pytest.approx(22_500)
    assert r.net_benefit_per_month == pytest.approx(17_500)
    assert r.total_cost == pytest.approx(120_000)
    assert r.total_benefit == pytest.approx(270_000)
    assert r.roi == pytest.approx(1.25)
    assert r.roi_percent == pytest.approx(125.0)
    assert r.payback_months == pytest.approx(60_000 / 17_500)


def test_formulas_show_the_numbers_next_to_each_figure():
    f = compute_roi(support_reply_assist()).formulas
    assert f["run_cost_per_month"] == "telemetry 1,500.00 + infrastructure 500.00 = 2,000.00"
    assert f["quality_cost_per_month"] == "(review 40 h + rework 10 h) × 50.00/h + 20 escalations × 25.00 = 3,000.00"
    assert f["kpi_change"] == "baseline 12 − current 9 = 3"
    assert f["benefit_per_month"] == "change 3 × unit value 0.75 × volume 10,000 = 22,500.00"
    assert f["roi"] == "(270,000.00 − 120,000.00) / 120,000.00 = 125.0 %"
    assert f["payback_months"] == "build 60,000.00 / net 17,500.00 per month = 3.43 months"
    assert f["total_cost"] == "build 60,000.00 + (2,000.00 + 3,000.00) × 12 months = 120,000.00"


def test_hand_computed_higher_is_better_example():
    # conversion 10 % → 12 %: 0.02 × 500 × 1,000 leads = 10,000 / month; run 1,000; net 9,000
    # 6 months: total cost 20,000 + 6,000 = 26,000; benefit 60,000; ROI 34,000 / 26,000 = 130.8 %; payback 2.22
    r = compute_roi(
        RoiInputs(
            build_cost=20_000,
            telemetry_cost_per_month=1_000,
            infrastructure_cost_per_month=0,
            kpi_baseline=0.10,
            kpi_current=0.12,
            unit_value=500,
            monthly_volume=1_000,
            kpi_direction="higher_is_better",
            horizon_months=6,
        )
    )
    assert r.benefit_per_month == pytest.approx(10_000)
    assert r.roi == pytest.approx(34_000 / 26_000)
    assert r.payback_months == pytest.approx(20_000 / 9_000)
    assert r.formulas["kpi_change"] == "current 0.12 − baseline 0.1 = 0.02"


def test_zero_net_benefit_gives_payback_never_not_an_error():
    # benefit (10 − 9) × 1 × 5,000 = 5,000 equals run 2,000 + quality 3,000
    r = compute_roi(support_reply_assist(kpi_baseline=10, kpi_current=9, unit_value=1, monthly_volume=5_000))
    assert r.net_benefit_per_month == pytest.approx(0)
    assert r.payback_months == NEVER
    assert r.formulas["payback_months"].startswith("never")


def test_negative_benefit_gives_payback_never_and_negative_roi():
    r = compute_roi(support_reply_assist(kpi_current=13))  # handle time got worse
    assert r.benefit_per_month == pytest.approx(-7_500)
    assert r.payback_months == NEVER
    assert r.roi < 0


def test_zero_build_cost_pays_back_immediately():
    assert compute_roi(support_reply_assist(build_cost=0)).payback_months == 0


def test_no_cost_at_all_gives_undefined_roi_not_a_division_error():
    r = compute_roi(
        RoiInputs(
            build_cost=0,
            telemetry_cost_per_month=0,
            infrastructure_cost_per_month=0,
            kpi_baseline=5,
            kpi_current=5,
            unit_value=1,
            monthly_volume=0,
        )
    )
    assert r.roi is None and r.roi_percent is None
    assert r.formulas["roi"] == "undefined: total cost is 0"
    assert r.payback_months == NEVER


@pytest.mark.parametrize(
    "field, bad, message",
    [
        ("build_cost", -1, "build_cost cannot be negative"),
        ("telemetry_cost_per_month", -0.01, "telemetry_cost_per_month cannot be negative"),
        ("infrastructure_cost_per_month", -5, "cannot be negative"),
        ("hourly_rate", -50, "hourly_rate cannot be negative"),
        ("monthly_volume", -10, "monthly_volume cannot be negative"),
        ("unit_value", -0.75, "unit_value cannot be negative"),
        ("escalations_per_month", -1, "cannot be negative"),
        ("horizon_months", 0, "horizon_months must be greater than 0"),
        ("build_cost", math.nan, "finite number"),
        ("build_cost", math.inf, "finite number"),
        ("build_cost", "60k", "finite number"),
        ("build_cost", None, "finite number"),
        ("kpi_direction", "up", "kpi_direction must be one of"),
    ],
)
def test_impossible_inputs_are_refused(field, bad, message):
    with pytest.raises(ValueError, match=message):
        support_reply_assist(**{field: bad})


def test_negative_kpi_levels_are_allowed():
    # A net promoter score can be negative; only its change matters.
    r = compute_roi(support_reply_assist(kpi_direction="higher_is_better", kpi_baseline=-10, kpi_current=5))
    assert r.kpi_change == 15


def test_compute_roi_refuses_a_plain_dict():
    with pytest.raises(ValueError, match="needs RoiInputs"):
        compute_roi({"build_cost": 1})
