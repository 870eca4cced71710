"""The demo workspace seeded once per backend per test session (per xdist worker): a template database that each
test asking for `demo_seeded` gets a private copy of (SQLite: the backup API; PostgreSQL: CREATE DATABASE ...
TEMPLATE), so a test that writes into the demo never changes what another one reads. Seeding costs ~10-30 s a run."""
from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from takeoff import migrate
from takeoff.core.config import Settings
from takeoff.core.db import make_engine, make_sessionmaker


@dataclass
class DemoTemplate:
    """One seeded template: where it lives, what the seeding printed and every event the SDK got acknowledged."""

    backend: str
    url: str
    lines: list[str] = field(default_factory=list)
    sdk_sent: dict[str, float] = field(default_factory=dict)  # event id -> ts, all batches the SDK delivered


def _spy_on_sdk_batches(mp: pytest.MonkeyPatch, sent: dict[str, float]) -> None:
    """Record the id and ts of every event batch the SDK's sender got acknowledged (the SDK is the demo's only way
    in)."""
    from takeoff.sdk.transport import Transport

    real_post = Transport._post

    def spy(self: Transport, http: Any, kind: Any, body: dict[str, Any]) -> Any:
        verdict = real_post(self, http, kind, body)
        if kind in ("event", "record") and verdict[0] == "ok":
            sent.update({e["id"]: e["ts"] for e in body["events"]})
        return verdict

    mp.setattr(Transport, "_post", spy)


class DemoTemplates:
    """Seeds a backend's template the first time a test asks for it; copies it per test; drops everything at the
    end of the session."""

    def __init__(self, base: Path, make_settings: Callable[[Path, str], Settings],
                 create_pg: Callable[[str], tuple[str, Any]]) -> None:
        self.base, self.make_settings, self.create_pg = base, make_settings, create_pg
        self.templates: dict[str, DemoTemplate] = {}
        self.drops: list[Any] = []

    def template(self, backend: str) -> DemoTemplate:
        if backend not in self.templates:
            self.templates[backend] = self._seed(backend)
        return self.templates[backend]

    def _seed(self, backend: str) -> DemoTemplate:
        from takeoff.demo.seed import seed

        folder = self.base / f"demo-{backend}"
        folder.mkdir(parents=True, exist_ok=True)
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'demo.db'}"
        else:
            url, drop = self.create_pg("takeoff_demo")
            self.drops.append(drop)
        tpl = DemoTemplate(backend, url)
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            with pytest.MonkeyPatch.context() as mp:
                mp.delenv("TAKEOFF_ADMIN_PASSWORD", raising=False)
                _spy_on_sdk_batches(mp, tpl.sdk_sent)
                # eval runs start their own event loop: keep them off pytest's (and Playwright's) thread
                with ThreadPoolExecutor(1) as pool:
                    notes = pool.submit(seed, make_sessionmaker(engine), self.make_settings(folder / "server", url),
                                        strict=True, out=tpl.lines.append).result()
            assert notes == [], notes
        finally:
            engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it
        return tpl

    def copy(self, backend: str) -> Iterator[Engine]:
        """A private copy of the backend's seeded template, dropped afterwards."""
        tpl = self.template(backend)
        if backend == "sqlite":
            path = self.base / f"demo-copy-{uuid.uuid4().hex[:8]}.db"
            src, dst = sqlite3.connect(make_url(tpl.url).database), sqlite3.connect(path)
            try:
                src.backup(dst)
            finally:
                src.close()
                dst.close()
            engine = make_engine(f"sqlite:///{path}")
            yield engine
            engine.dispose()
            path.unlink(missing_ok=True)
            return
        url = make_url(tpl.url)
        name = f"takeoff_democ_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
                conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
            engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
            yield engine
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()

    def close(self) -> None:
        for drop in self.drops:
            drop()
