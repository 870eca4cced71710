"""What outcomes count and how they read a request body: production traffic only, calendar weeks, incidents in a
window, and a body parsed into its Pydantic model with a 422 naming the field."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from takeoff.incidents import service as incidents_svc
from takeoff.monitoring import traffic as monitoring

WEEK_S = 7 * 86400


def production(session: Session, key: str, start: datetime, end: datetime) -> list[str] | None:
    """The releases whose telemetry of [start, end) counts in outcomes: production traffic only, by monitoring's
    rule (None = all of it), so a staging or smoke-test release never inflates adoption, cost or volume."""
    return monitoring.production_releases(session, key, start, end)


def week_window(now: datetime, weeks: int) -> tuple[datetime, datetime]:
    end = datetime.fromtimestamp(math.floor(now.timestamp() / WEEK_S) * WEEK_S + WEEK_S, UTC)
    return end - timedelta(seconds=WEEK_S * weeks), end


def incidents_between(session: Session, key: str, start: datetime, end: datetime) -> list[Any]:
    return [i for i in incidents_svc.list_incidents(session, use_case_key=key) if start <= i.detected_at < end]
