"""The cost of quality (issue 22): time reviewers spend in annotation queues is measured, feeds the ROI's review hours
when no assumption overrides it, and the weekly scorecard prices review time and escalations with the ROI's rates."""
from __future__ import annotations

from takeoff.core.db import transaction, utcnow
from takeoff.review.models import Review, ReviewItem, ReviewQueue


def _reviews(factory, key: str, seconds: list[float | None], skipped: int = 0) -> None:
    with transaction(factory) as s:
        q = ReviewQueue(use_case_key=key, name="quality", rubric={}, created_by="test")
        s.add(q)
        s.flush()
        for i, spent in enumerate(seconds + [None] * skipped):
            item = ReviewItem(queue_id=q.id, request_id=f"r{i}", request_ts=utcnow(), source="manual", added_by="t")
            s.add(item)
            s.flush()
            s.add(Review(item_id=item.id, queue_id=q.id, request_id=f"r{i}", reviewer="rita",
                         skipped=i >= len(seconds), seconds_spent=spent))


def test_review_time_feeds_the_roi_and_the_weekly_cost_of_quality(client, admin, usecase, factory) -> None:
    _reviews(factory, usecase, [1800.0, 3600.0, None], skipped=2)  # 1.5 h over three reviews; skips do not count
    week = client.get(f"/api/v1/usecases/{usecase}/scorecard?weeks=1", headers=admin).json()["weeks"][-1]
    assert (week["reviews"], week["review_hours"], week["cost_of_quality"]) == (3, 1.5, None)  # no rates yet
    r = client.put(f"/api/v1/usecases/{usecase}/roi", json={"build_cost": 1000, "unit_value": 2, "hourly_rate": 60,
                                                           "cost_per_escalation": 25}, headers=admin)
    assert r.status_code == 200, r.text
    week = client.get(f"/api/v1/usecases/{usecase}/scorecard?weeks=1", headers=admin).json()["weeks"][-1]
    assert week["cost_of_quality"] == 90.0  # 1.5 h x 60/h, no escalation
    roi = client.get(f"/api/v1/usecases/{usecase}/roi", headers=admin).json()
    assert roi["inputs"]["review_hours_per_month"] == 1.5
    assert roi["sources"]["review_hours_per_month"].startswith("human review: time 3 review(s)")
    # an explicit assumption wins over the measurement
    r = client.put(f"/api/v1/usecases/{usecase}/roi", json={"build_cost": 1000, "unit_value": 2, "hourly_rate": 60,
                                                           "review_hours_per_month": 40}, headers=admin)
    roi = client.get(f"/api/v1/usecases/{usecase}/roi", headers=admin).json()
    assert roi["inputs"]["review_hours_per_month"] == 40 and "assumption" in roi["sources"]["review_hours_per_month"]
