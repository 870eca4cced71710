"""tele0005 packs the rollups' JSON unit sketches into binary, row for row, and its downgrade gives the JSON back."""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

import takeoff.models_all  # noqa: F401
from takeoff import migrate
from takeoff.core.db import Base, make_sessionmaker
from takeoff.telemetry.models import TelemetryRollup
from takeoff.telemetry.request_models import unmodelled
from tests.conftest import database_at

COLUMNS = ("grain, bucket, use_case, release, count, errors, fallbacks, latency_n, latency_sum_ms, cost_usd, cost_sq, "
           "tokens_input, tokens_output, tokens_cache_read, tokens_cache_write, tokens_reasoning, latency, outcomes, "
           "error_categories, scores, features, units")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tele0005_packs_every_sketch_and_downgrades_back(backend: str, tmp_path: Path) -> None:
    rnd = random.Random(5)
    sketches = [sorted(rnd.sample(range(1 << 52), n)) for n in (0, 1, 7, 256, 256, 3, 0, 100)]
    sketches += [[i] for i in range(5_000)]  # past one conversion batch (5,000 rows)
    with database_at(backend, tmp_path, "tele0004") as (engine, cfg):
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO telemetry_rollups ({COLUMNS}) VALUES (60, :bucket, 'uc', '', 1, 0, 0, "
                              "0, 0, 0, 0, 0, 0, 0, 0, 0, '{}', '{}', '{}', '{}', '{}', :units)"),
                         [{"bucket": datetime.fromtimestamp(60 * i, UTC), "units": json.dumps(sketch)}
                          for i, sketch in enumerate(sketches)])
        migrate.upgrade(engine)
        assert migrate.pending(engine) == set()
        with engine.connect() as conn:  # the rebuilt table (SQLite's batch copy) keeps every index and constraint
            opts = {"compare_type": True, "include_name": lambda name, *_: not unmodelled(name)}  # tele0009's search
            assert compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata) == []
        with make_sessionmaker(engine)() as s:
            rows = s.scalars(select(TelemetryRollup).order_by(TelemetryRollup.bucket)).all()
            assert [r.units for r in rows] == sketches
        with engine.connect() as conn:
            sizes = conn.execute(text("SELECT length(units) FROM telemetry_rollups ORDER BY bucket")).scalars().all()
        assert sizes == [8 * len(sk) for sk in sketches]
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "tele0004")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT units FROM telemetry_rollups ORDER BY bucket")).scalars().all()
        assert [json.loads(v) if isinstance(v, str) else v for v in back] == sketches
