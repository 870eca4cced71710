"""The default reports, each module imported explicitly in this one place and registered through the same
`Registry.register` call a third party uses."""
from __future__ import annotations

from takeoff.reports import inventory, quarterly, readiness, scorecard
from takeoff.reports.registry import Registry

MODULES = (inventory, quarterly, readiness, scorecard)


def register(registry: Registry) -> None:
    """Register every default report under its module's name, with its TITLE."""
    for module in MODULES:
        registry.register(module.__name__.rsplit(".", 1)[1], module.render, title=module.TITLE)
