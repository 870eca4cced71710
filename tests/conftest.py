"""Shared fixtures: every database test runs on SQLite and on PostgreSQL (TAKEOFF_TEST_POSTGRES_URL)."""
from __future__ import annotations

import contextlib
import os
import socketserver
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

import takeoff.models_all  # noqa: F401
from takeoff import migrate
from takeoff.core.actor import Actor
from takeoff.app import create_app
from takeoff.auth import service as auth
from takeoff.core.config import Settings
from takeoff.core.db import Base, make_engine, make_sessionmaker, transaction


# Test-only password hashing: argon2 at full strength costs ~180 ms per test user (and per failed login's dummy
# check); the suite creates thousands. The product's parameters are untouched; servers started as subprocesses by
# tests keep them.
auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
auth._DUMMY_HASH = auth._hasher.hash("takeoff-dummy-password")

# The tests' loopback HTTP servers (fake takeoff, webhook receivers, OpenID provider, eval targets) run
# `serve_forever()`, whose `shutdown()` waits out the 0.5 s poll interval: ~0.5 s of every such test's teardown.
socketserver.BaseServer.serve_forever.__defaults__ = (0.02,)

BACKENDS = ["sqlite", "postgres"]
TEST_SECRET_KEY = "test-secret-key-0123456789"
# The audit chain is keyed by the server secret: code that records without an app (fixtures, the server-side CLI)
# must key it like the apps of the `settings` fixture do.
os.environ.setdefault("TAKEOFF_SECRET_KEY", TEST_SECRET_KEY)


def _pg_base_url() -> str | None:
    url = os.environ.get("TAKEOFF_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TAKEOFF_TEST_POSTGRES_URL is not set: CI must run the database tests on PostgreSQL")
        return None
    return url


def web_login(app: Any, username: str, password: str = "password123") -> TestClient:
    """A browser-like client signed in as `username` through the login form (its CSRF cookie included)."""
    c = TestClient(app)
    c.get("/login")
    r = c.post("/login", data={"username": username, "password": password,
                               "csrf_token": c.cookies.get("takeoff_login_csrf"), "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    import re

    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no csrf_token field on the page"
    return m.group(1)


def create_pg_database(prefix: str = "takeoff_t") -> tuple[str, Any]:
    """Create a uniquely named PostgreSQL database; returns its URL and a drop() function."""
    base = _pg_base_url()
    if base is None:
        pytest.skip("TAKEOFF_TEST_POSTGRES_URL not set (make test sets it)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # a test database need not survive a PostgreSQL crash: commits stop waiting for the WAL flush (~4 ms
            # each on a CI disk); every connection to it, subprocess servers' included, inherits the setting
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except Exception as exc:  # PostgreSQL missing is a failure, never a skip
        pytest.fail(f"PostgreSQL at {make_url(base).render_as_string(hide_password=True)} is unreachable: {exc}")
    url = make_url(base).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@contextlib.contextmanager
def database_at(backend: str, tmp_path: Path, revision: str) -> Iterator[tuple[Engine, Any]]:
    """A fresh database of `backend` migrated only up to `revision`, with its Alembic config (upgrade tests); the
    database is dropped afterwards."""
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'up.db'}"
    else:
        url, drop = create_pg_database("takeoff_upgrade")
    engine = make_engine(url)
    try:
        cfg = migrate.alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        yield engine, cfg
    finally:
        engine.dispose()
        if drop is not None:
            drop()


@pytest.fixture(scope="session", params=BACKENDS)
def _migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated database per backend for the whole session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "takeoff.db"
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
    else:
        url, drop = create_pg_database()
        engine = make_engine(url)
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        drop()


def wipe(engine: Engine) -> None:
    """Empty every table and restart its ids (faster than re-migrating between tests).

    PostgreSQL: DELETE children first plus a sequence reset, in one round trip; a TRUNCATE of the ~60 tables costs
    ~0.5-1 s per test (it swaps every table's files), DELETE on the few rows a test leaves ~10 ms."""
    from sqlalchemy import inspect

    from takeoff.telemetry.lookups import clear_lookup_cache

    clear_lookup_cache()  # use cases never vanish in the product, so ingestion caches that they exist

    existing = set(inspect(engine).get_table_names())
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in existing]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # what TRUNCATE ... RESTART IDENTITY did: every sequence owned by a table starts again at 1
            restart = ("SELECT setval(s.oid, 1, false) FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
                       "AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
                       "JOIN pg_class t ON t.oid = d.refobjid "
                       "WHERE s.relkind = 'S' AND t.relnamespace = current_schema()::regnamespace")
            conn.exec_driver_sql("; ".join([f'DELETE FROM "{t}"' for t in tables] + [restart]))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture
def engine(_migrated: Engine, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty database (the test runs once per backend); for a test that asks for `demo_seeded`, a
    private copy of the demo workspace seeded once per session on that backend instead."""
    if "demo_seeded" not in request.fixturenames:
        wipe(_migrated)
        yield _migrated
        return
    from takeoff.telemetry.lookups import clear_lookup_cache

    templates = request.getfixturevalue("_demo_templates")
    clear_lookup_cache()
    yield from templates.copy(_migrated.dialect.name.replace("postgresql", "postgres"))
    clear_lookup_cache()


def _settings_for(data_dir: Path, database_url: str, file_roots: str) -> Settings:
    """The test settings: a fixed secret, the loopback and test-code allow-lists, no embedded worker."""
    return Settings(data_dir=data_dir, database_url=database_url, secret_key=TEST_SECRET_KEY, embedded_worker=False,
                    rollup_compaction=False, max_body_bytes=1_000_000, outbound_allow_hosts=TEST_OUTBOUND_ALLOW,
                    eval_python_modules=TEST_EVAL_CODE, data_file_roots=file_roots)


@pytest.fixture(scope="session")
def _demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demo seeded at most once per backend per session (tests/demo_template.py)."""
    from tests.demo_template import DemoTemplates

    roots = str(tmp_path_factory.getbasetemp())
    templates = DemoTemplates(tmp_path_factory.mktemp("demo"), lambda d, url: _settings_for(d, url, roots),
                              create_pg_database)
    yield templates
    templates.close()


@pytest.fixture
def demo_seeded(engine: Engine, _demo_templates: Any) -> Any:
    """The test's database (engine, factory, settings, app, live_server) is a private copy of the demo workspace,
    seeded through the real flows once per backend per session; returns the seeding's DemoTemplate (its printed
    lines, the events the SDK delivered). Tests that need a fresh seeding call takeoff.demo.seed.seed themselves."""
    return _demo_templates.template(engine.dialect.name.replace("postgresql", "postgres"))


@pytest.fixture
def factory(engine: Engine):  # type: ignore[no-untyped-def]
    """A session factory on the test database."""
    return make_sessionmaker(engine)


# The suite runs webhook receivers, eval targets, judges and PostgreSQL sources on loopback, and python eval targets
# from test modules: its settings list both explicitly (the defaults refuse them, see tests/foundation/test_netguard.py
# and tests/evals/test_evals_sandbox.py, which build settings without these).
TEST_OUTBOUND_ALLOW = "127.0.0.0/8,::1,localhost"
TEST_EVAL_CODE = "tests."


@pytest.fixture(autouse=True)
def _test_process_policies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests that call targets, webhooks or sources without an app get the test settings' allow-lists too."""
    from takeoff.core import netguard
    from takeoff.data import connect
    from takeoff.evals import sandbox

    netguard.configure(netguard.parse_allow(TEST_OUTBOUND_ALLOW))
    sandbox.configure(sandbox.parse_allow(TEST_EVAL_CODE))
    base = tmp_path_factory.getbasetemp()
    connect.configure_files(connect.file_policy(str(base), base / "no-server-data"))
    yield
    netguard.configure(None)
    sandbox.configure(None)
    connect.configure_files(None)


@pytest.fixture
def settings(engine: Engine, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at the test database, with a fixed secret; local data sources may read the test's
    temporary folders (its own data folder, `server`, excepted)."""
    return _settings_for(tmp_path / "server", engine.url.render_as_string(hide_password=False),
                         str(tmp_path_factory.getbasetemp()))


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    """The ASGI app on the test database, without its embedded worker (tests drain jobs explicitly)."""
    return create_app(settings, engine=engine, start_worker=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An HTTP client for the app (no credentials)."""
    with TestClient(app) as c:
        yield c


class Users:
    """Creates users with roles and returns bearer headers for them."""

    def __init__(self, factory) -> None:  # type: ignore[no-untyped-def]
        self.factory = factory
        self._n = 0

    def create(self, *roles: str, username: str | None = None, password: str | None = "password123") -> str:
        """Create a user; returns the username."""
        self._n += 1
        username = username or f"{'-'.join(r.replace('_', '') for r in roles)}{self._n}"
        with transaction(self.factory) as s:
            auth.create_user(s, Actor("system", ("admin",)), username, list(roles), password)
        return username

    def token(self, username: str, expires_days: int | None = None) -> str:
        """A new API token for the user."""
        with transaction(self.factory) as s:
            return auth.create_token(s, Actor("system", ("admin",)), username, "test", expires_days).token

    def headers(self, *roles: str, username: str | None = None) -> dict[str, str]:
        """Bearer headers of a fresh user holding the roles."""
        name = self.create(*roles, username=username)
        return {"Authorization": f"Bearer {self.token(name)}"}


@pytest.fixture
def users(factory) -> Users:  # type: ignore[no-untyped-def]
    """User and token maker."""
    return Users(factory)


@pytest.fixture
def admin(users: Users) -> dict[str, str]:
    """Bearer headers of an admin."""
    return users.headers("admin", username="root")


@pytest.fixture
def assert_matrix(client, users):  # type: ignore[no-untyped-def]
    """Walk roles × {permission: (method, path, body)} over HTTP: allowed → not 403, else 403 naming it."""
    from takeoff.core.permissions import MATRIX, ROLES

    def check(actions: dict[str, tuple[str, str, Any]]) -> None:
        for role in ROLES:
            headers = users.headers(role)
            for permission, (method, path, body) in actions.items():
                resp = client.request(method, path, json=body, headers=headers)
                if permission in MATRIX[role]:
                    assert resp.status_code != 403, f"{role} should be allowed {permission} on {path}: {resp.text}"
                    assert resp.status_code < 500, resp.text
                else:
                    assert resp.status_code == 403, f"{role} should be refused {permission} on {path}: {resp.status_code}"
                    assert permission in resp.json()["error"]["message"]

    return check


@pytest.fixture
def live_server(app):  # type: ignore[no-untyped-def]
    """The app served by uvicorn on a free loopback port, in a thread; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh browser page (own cookies); fails the test on any JavaScript error."""
    context = browser.new_context()
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Tests marked one_backend run on SQLite only (the backend cannot change what they check). Run browser tests
    last: sync Playwright keeps an event loop on the main thread until the session ends, which would break later
    tests that call asyncio.run()."""
    twice = [i for i in items if i.get_closest_marker("one_backend") is not None
             and getattr(getattr(i, "callspec", None), "params", {}).get("_migrated") == "postgres"]
    if twice:
        config.hook.pytest_deselected(items=twice)
        items[:] = [i for i in items if i not in set(twice)]
    browser_items = [i for i in items if "browser" in getattr(i, "fixturenames", ()) or "page" in getattr(i, "fixturenames", ())]
    chosen = set(browser_items)
    others = [i for i in items if i not in chosen]
    items[:] = others + browser_items


@pytest.fixture(scope="session", autouse=True)
def _flows() -> None:
    """Subscribe the cross-domain reactions once, as create_app() and the CLI do (services tested without an app)."""
    from takeoff.flows_registry import register_flows

    register_flows()


@pytest.fixture
def cli_as(app, users, monkeypatch):  # type: ignore[no-untyped-def]
    """The `takeoff` client CLI run in-process against the test app as one person:
    `run = cli_as("ai_engineer", "erin")`, then `run("review", "items", ...)` answers typer's Result."""
    from typer.testing import CliRunner

    from takeoff.cli import app as cli
    from takeoff.commands import _http

    def make(role: str, username: str, *also_patch: str) -> Any:
        headers = users.headers(role, username=username)

        def client(timeout: float = 60.0) -> TestClient:
            c = TestClient(app)
            c.headers.update(headers)
            return c

        monkeypatch.setattr(_http, "client", client)
        for target in also_patch:  # a command module that imported `client` by name
            monkeypatch.setattr(target, client)
        runner = CliRunner()
        return lambda *args: runner.invoke(cli, [str(a) for a in args])

    return make
