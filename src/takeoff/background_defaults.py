"""The default background services, registered through takeoff.core.background the way a third party registers
its own: each domain's service imported explicitly in this one place (no string-addressed imports)."""
from __future__ import annotations

from takeoff.core import background
from takeoff.telemetry import compaction

DEFAULTS = (compaction.SERVICE,)


def register_background_services() -> None:
    """Register every default background service (idempotent: a name registered again is replaced)."""
    for service in DEFAULTS:
        background.register(service)
