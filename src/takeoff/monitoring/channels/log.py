"""The delivery log of one channel: what was sent to it, when, how many attempts, and the last error."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.core.errors import NotFound
from takeoff.monitoring.models import Channel, Delivery


def deliveries_of(session: Session, channel_id: int, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
    """The channel's deliveries, newest first (404 for an unknown channel)."""
    if session.get(Channel, channel_id) is None:
        raise NotFound(f"channel {channel_id} not found")
    q = select(Delivery).where(Delivery.channel_id == channel_id)
    if status:
        q = q.where(Delivery.status == status)
    return list(session.scalars(q.order_by(Delivery.id.desc()).limit(limit)))
