"""A per-process policy holder: the app sets the policy from its settings; code running without an app (a CLI
command, a job in a bare worker, a test) gets the one the environment's settings describe.

The outbound-address policy (`netguard`), the eval-code allow-list (`evals.sandbox`) and the local-file policy of
data sources (`data.connect`) each keep one `ProcessPolicy`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from takeoff.core.config import Settings

T = TypeVar("T")


class ProcessPolicy(Generic[T]):
    """One policy of this process: `configure` sets it (None: back to the environment's), `active` reads it."""

    def __init__(self, name: str, from_settings: Callable[[Settings], T]) -> None:
        self.name = name
        self.from_settings = from_settings
        self._configured: T | None = None

    def configure(self, policy: T | None) -> None:
        """Set this process's policy (the app does, from its settings); None falls back to the environment."""
        self._configured = policy

    def configure_from(self, settings: Settings) -> None:
        """Set this process's policy to the one these settings describe."""
        self._configured = self.from_settings(settings)

    def active(self) -> T:
        """This process's policy: the configured one, else the one the environment's settings describe."""
        if self._configured is not None:
            return self._configured
        # read at call time, not import time: the eval sandbox's child process imports its module without settings
        from takeoff.core.config import get_settings

        return self.from_settings(get_settings())
