"""Import every domain's models so Base.metadata knows all tables (Alembic, tests, create_all)."""
from __future__ import annotations

import importlib
import importlib.util

from takeoff.domains import DOMAINS

for _name in DOMAINS:
    if importlib.util.find_spec(f"takeoff.{_name}") and importlib.util.find_spec(f"takeoff.{_name}.models"):
        importlib.import_module(f"takeoff.{_name}.models")
