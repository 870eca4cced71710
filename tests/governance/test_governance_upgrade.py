"""Upgrading a database whose organization row holds the old auto-written decision rights clears them (they were
never chosen, and are enforced now); deliberate assignments survive."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from takeoff import migrate
from takeoff.db import make_engine

OLD = {"fund_use_cases": "business_owner", "approve_tools": "platform_engineer", "set_risk_tier": "risk_partner",
       "ship_to_production": "ai_engineer", "incident_owner": "ai_engineer"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("rights,expected", [(OLD, {}), ({**OLD, "incident_owner": "business_owner"},
                                                         {**OLD, "incident_owner": "business_owner"})])
def test_gove0003_clears_only_untouched_defaults(backend, rights, expected, tmp_path: Path) -> None:
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'up.db'}"
    else:
        from tests.conftest import create_pg_database

        url, drop = create_pg_database("takeoff_upgrade")
    engine = make_engine(url)
    try:
        cfg = migrate.alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "gove0002")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO organization (id, name, operating_model, self_check, constraints, platforms, "
                              "decision_rights, updated_at) VALUES (1, 'Acme', 'hub_and_spoke', '{}', '{}', '{}', "
                              ":dr, CURRENT_TIMESTAMP)"), {"dr": json.dumps(rights)})
        migrate.upgrade(engine)
        with engine.connect() as conn:
            stored = conn.scalar(text("SELECT decision_rights FROM organization WHERE id = 1"))
        assert (json.loads(stored) if isinstance(stored, str) else stored) == expected
        assert migrate.pending(engine) == set()
    finally:
        engine.dispose()
        if drop is not None:
            drop()
