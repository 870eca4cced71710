"""Review jobs: the sampling rules of every active queue, run over new request records every few minutes."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from takeoff.core.actor import SYSTEM
from takeoff.core.db import transaction, utcnow
from takeoff.jobs.registry import JobContext, every, handler
from takeoff.review import queues
from takeoff.review.models import ReviewQueue

log = logging.getLogger("takeoff.review")
SAMPLE_EVERY_S = 300


@handler("review.sample")
def sample(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Each active queue's rules over the requests since its last run, each queue in its own transaction."""
    now = utcnow()
    with transaction(ctx.factory) as s:
        ids = list(s.scalars(select(ReviewQueue.id).where(ReviewQueue.active.is_(True)).order_by(ReviewQueue.id)))
    added = failed = 0
    for qid in ids:
        try:
            with transaction(ctx.factory) as s:
                added += queues.sample(s, SYSTEM, queues.get_queue(s, qid), now)["added"]
        except Exception:
            failed += 1
            log.exception("sampling of review queue %s failed", qid)
    return {"queues": len(ids), "added": added, "failed": failed}


every("review.sample", SAMPLE_EVERY_S)
