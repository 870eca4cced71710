"""What human review costs in time: reviews completed on a use case's queues in a window and the seconds reviewers
spent (claim to submit), read by outcomes for the cost of quality and the ROI's review hours."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from takeoff.review.models import Review, ReviewQueue


def review_time(session: Session, use_case_key: str, start: datetime, end: datetime) -> tuple[int, float]:
    """(reviews completed, seconds spent) on the use case's queues in [start, end); skips are not reviews."""
    n, seconds = session.execute(select(func.count(Review.id), func.coalesce(func.sum(Review.seconds_spent), 0.0))
                                 .join(ReviewQueue, ReviewQueue.id == Review.queue_id)
                                 .where(and_(ReviewQueue.use_case_key == use_case_key, Review.skipped.is_(False),
                                             Review.created_at >= start, Review.created_at < end))).one()
    return int(n), float(seconds)
