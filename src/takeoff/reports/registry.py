"""A named registry of reports: each has a name, a title and `render(session, fmt, **params) -> str` (Markdown or
printable HTML). The API, the CLI's `report` command and the reports page list and render what is registered.

The defaults are registered through the same `register` call a third party uses (takeoff.reports.defaults imports
each report module explicitly, the first time the registry is read: no string-addressed imports).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Renderer = Callable[..., str]  # render(session, fmt, **params) -> str; ValueError for a bad parameter
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class Report:
    """A registered report."""

    name: str
    title: str
    render: Renderer


class Registry:
    """The reports by name. Registering a name twice is an error (one name, one report)."""

    def __init__(self, load_defaults: Callable[[Registry], None] | None = None) -> None:
        self._reports: dict[str, Report] = {}
        self._load_defaults = load_defaults
        self._loaded = load_defaults is None

    def register(self, name: str, render: Renderer, *, title: str = "") -> Report:
        """Add a report; its title defaults to its name in title case."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"report names are lower_snake_case (up to 41 characters), got {name!r}")
        if name in self._reports:
            raise ValueError(f"report {name!r} is already registered")
        if not callable(render):
            raise ValueError(f"the renderer of report {name!r} must be callable")
        report = self._reports[name] = Report(name, title or name.replace("_", " ").title(), render)
        return report

    def remove(self, name: str) -> None:
        """Unregister a report (a plugin being unloaded; tests)."""
        self._reports.pop(name, None)

    def _ensure(self) -> None:
        if not self._loaded and self._load_defaults is not None:
            self._loaded = True
            self._load_defaults(self)

    def get(self, name: Any) -> Report | None:
        """The report registered under this name, or None."""
        self._ensure()
        return self._reports.get(name) if isinstance(name, str) else None

    def names(self) -> list[str]:
        """Every registered report's name, sorted."""
        self._ensure()
        return sorted(self._reports)

    def all(self) -> list[Report]:
        """Every registered report, by name."""
        return [self._reports[n] for n in self.names()]


def _load_defaults(registry: Registry) -> None:
    from takeoff.reports import defaults  # the one place that imports every default report module

    defaults.register(registry)


reports = Registry(_load_defaults)
