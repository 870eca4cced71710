"""Upgrading a database whose organization row holds the old auto-written decision rights clears them (they were
never chosen, and are enforced now); deliberate assignments survive."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from takeoff import migrate
from tests.conftest import database_at

OLD = {"fund_use_cases": "business_owner", "approve_tools": "platform_engineer", "set_risk_tier": "risk_partner",
       "ship_to_production": "ai_engineer", "incident_owner": "ai_engineer"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("rights,expected", [(OLD, {}), ({**OLD, "incident_owner": "business_owner"},
                                                         {**OLD, "incident_owner": "business_owner"})])
def test_gove0003_clears_only_untouched_defaults(backend, rights, expected, tmp_path: Path) -> None:
    with database_at(backend, tmp_path, "gove0002") as (engine, _cfg):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO organization (id, name, operating_model, self_check, constraints, platforms, "
                              "decision_rights, updated_at) VALUES (1, 'Acme', 'hub_and_spoke', '{}', '{}', '{}', "
                              ":dr, CURRENT_TIMESTAMP)"), {"dr": json.dumps(rights)})
        migrate.upgrade(engine)
        with engine.connect() as conn:
            stored = conn.scalar(text("SELECT decision_rights FROM organization WHERE id = 1"))
        assert (json.loads(stored) if isinstance(stored, str) else stored) == expected
        assert migrate.pending(engine) == set()
