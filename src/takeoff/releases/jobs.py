"""Importing the release service registers its gate hook, so workers move releases when their runs finish."""
from __future__ import annotations

from takeoff.releases import service  # noqa: F401
