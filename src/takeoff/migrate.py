"""Alembic migrations: one branch per domain under migrations/versions/<domain>/, applied as `heads`."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for this package's migrations, every domain folder a version location."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    locations = sorted(str(p) for p in (HERE / "versions").iterdir() if p.is_dir() and not p.name.startswith("__"))
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every pending migration of every domain branch."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def pending(engine: Engine) -> set[str]:
    """Heads of the scripts that the database has not reached (empty when current)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    script = ScriptDirectory.from_config(cfg)
    with engine.connect() as conn:
        current = tuple(MigrationContext.configure(conn).get_current_heads())
    # A head reached through another branch's depends_on is not stored in alembic_version: walk ancestors.
    applied = {r.revision for r in script.revision_map.iterate_revisions(current, "base", implicit_base=True)} if current else set()
    return set(script.get_heads()) - applied
