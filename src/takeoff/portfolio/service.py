"""Portfolio operations other domains rely on (lookups, discovered use cases); the only writer of use_cases."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.actor import Actor
from takeoff.audit import service as audit
from takeoff.errors import NotFound
from takeoff.portfolio.models import UseCase
from takeoff.portfolio.schemas import ScaleTargets


def find(session: Session, key: str) -> UseCase | None:
    """The use case with this key, or None."""
    return session.scalar(select(UseCase).where(UseCase.key == key))


def get(session: Session, key: str) -> UseCase:
    """The use case with this key, or 404."""
    uc = find(session, key)
    if uc is None:
        raise NotFound(f"use case '{key}' not found")
    return uc


def targets(uc: UseCase) -> ScaleTargets:
    """The use case's scale targets as a typed object (all fields optional)."""
    return ScaleTargets.model_validate(uc.targets or {})


def ensure_discovered(session: Session, actor: Actor, key: str) -> UseCase:
    """The use case for telemetry naming `key`; an unknown key becomes a 'discovered' (shadow AI) use case."""
    uc = find(session, key)
    if uc is not None:
        return uc
    try:
        with session.begin_nested():  # another batch may discover the same key at the same moment
            uc = UseCase(key=key[:64], name=key[:200], status="discovered", discovered=True,
                         purpose="Discovered from telemetry; register or retire it.")
            session.add(uc)
    except IntegrityError:
        return get(session, key)
    audit.record(session, actor, "usecase.discover", "use_case", uc.key, None, {"key": uc.key, "status": uc.status})
    return uc
