"""Which telemetry is production traffic: monitoring checks read live behaviour of releases that serve (or served)
real users only, through the telemetry contract (window_stats); eval runs and staging releases never count."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.releases import queries as release_queries
from takeoff.releases.models import Release
from takeoff.telemetry import window as telemetry


def window_totals(session: Session, key: str, release_id: str | list[str] | None, start: datetime, end: datetime) -> Any | None:
    """The telemetry totals of a window (one release, several, or all under None)."""
    return telemetry.window_stats(session, key, release_id, start, end)


# A release in one of these statuses serves or served real users, so its telemetry is production traffic; a release
# that never went live (draft, evaluating, awaiting approval, approved, rejected) only sends staging traffic.
LIVE_RELEASE_STATUSES: frozenset[str] = frozenset({"canary", "production", "superseded", "rolled_back"})


def staging_releases(session: Session, key: str) -> set[str]:
    """Ids of the use case's releases that never served production traffic."""
    rows = session.execute(select(Release.version, Release.status).where(Release.use_case_key == key))
    return {f"{key}:{version}" for version, status in rows if status not in LIVE_RELEASE_STATUSES}


def production_releases(session: Session, key: str, start: datetime, end: datetime) -> list[str] | None:
    """The telemetry of a window that is production traffic: None when all of it is (the usual case), else the
    release tags that are ("" = events without a release). Events tagged with a release of the use case that never
    went live are not; events without a release, or with a tag takeoff does not know, are the application's own
    traffic and count. Eval runs never reach telemetry: they feed gates, release pages and eval history only."""
    staging = staging_releases(session, key)
    if not staging:
        return None
    tags = set(telemetry.releases_in_window(session, key, start, end))
    if not tags & staging:
        return None
    return sorted(tags - staging)


def production_totals(session: Session, key: str, start: datetime, end: datetime) -> Any | None:
    """Window totals of the use case's production traffic only."""
    return window_totals(session, key, production_releases(session, key, start, end), start, end)


def production_release_id(session: Session, key: str) -> str | None:
    """The id of the release in production now, if any."""
    rel = release_queries.current_release(session, key)
    return rel.release_id if rel is not None else None
