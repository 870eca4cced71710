"""Autogenerate a migration for ONE domain's tables: `python scripts/makemigration.py DOMAIN "message"`.

Each domain keeps its own Alembic branch in src/takeoff/migrations/versions/<domain>/ (so domains can grow in
parallel without fighting over one linear history); its first revision depends on the foundation.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

import takeoff.models_all  # noqa: F401
from takeoff.core.db import Base, make_engine
from takeoff.migrate import HERE, alembic_config, upgrade


def main() -> None:
    domain, message = sys.argv[1], sys.argv[2]
    folder = HERE / "versions" / domain
    folder.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/gen.db"
        upgrade(make_engine(url))
        cfg = alembic_config(url)
        script = ScriptDirectory.from_config(cfg)
        existing = [r for r in script.walk_revisions() if Path(r.path).parent == folder]
        head = existing[0].revision if existing else None
        prefix = f"{domain}:"
        mine = {t.name for t in Base.metadata.sorted_tables
                if t.info.get("domain") == domain or _module_domain(t) == domain}

        def include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
            table = obj if type_ == "table" else getattr(obj, "table", None)
            return table is None or table.name in mine

        cfg.attributes["include_object"] = include
        n = len(existing) + 1
        rev_id = f"{domain[:4]}{n:04d}"
        kwargs = dict(message=message, autogenerate=True, rev_id=rev_id, version_path=str(folder))
        if head:
            command.revision(cfg, head=f"{head}", **kwargs)
        else:
            command.revision(cfg, head="base", branch_label=domain, depends_on="f0001", **kwargs)
        print(f"{prefix} wrote revision {rev_id} in {folder}")


def _module_domain(table) -> str | None:  # type: ignore[no-untyped-def]
    for mapper in Base.registry.mappers:
        if mapper.local_table is table:
            parts = mapper.class_.__module__.split(".")
            return parts[1] if len(parts) > 2 else None
    return None


if __name__ == "__main__":
    main()
