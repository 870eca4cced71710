"""The `takeoff` command: server-side commands here, client commands (over HTTP) from takeoff.commands.

Over ~400 lines on purpose: one thin typer function per server-side command (serve, worker, demo, migrate, backup,
users, tokens, audit) and the demo's start-up checks beside its command.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from takeoff import __version__

app = typer.Typer(help="takeoff: take AI use cases from pilot to production and keep them healthy there.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
user_app = typer.Typer(help="Manage users (server side, on TAKEOFF_DATABASE_URL).", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens (server side, on TAKEOFF_DATABASE_URL).", no_args_is_help=True)
audit_app = typer.Typer(help="Audit log checks (server side).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line to stderr and exit (2 = usage or input error, 1 = a gate or check failed)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings():
    from pydantic import ValidationError

    from takeoff.core.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:  # a bad TAKEOFF_* value is the operator's input error: one line, exit 2
        err = exc.errors()[0]
        if err["loc"]:
            fail(f"bad setting TAKEOFF_{str(err['loc'][0]).upper()}: {err['msg']}")
        # A rule across settings names its variable at the start of its message.
        fail(f"bad setting {str(err['msg']).removeprefix('Value error, ')}")


def _shown_db_url(url: str) -> str:
    """A database URL as it may be printed: its password masked; a URL that does not parse is not echoed at all."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(a value that is not a SQLAlchemy URL)"


def _open_db(migrate_first: bool = True, rekey: bool = False):
    """Engine and session factory for TAKEOFF_DATABASE_URL, migrated to the latest schema; with `rekey` (the
    starting commands: migrate, serve, worker, demo) a legacy unkeyed audit chain is keyed too."""
    from takeoff import migrate
    from takeoff.core.db import make_engine, make_sessionmaker

    settings = _settings()
    try:
        engine = make_engine(settings.resolved_database_url)
        if migrate_first:
            migrate.upgrade(engine)
    except Exception as exc:  # a bad URL or unreachable database is an input problem for the operator
        url = settings.resolved_database_url
        detail = (str(exc).splitlines() or [""])[0].replace(url, "(the URL)")
        fail(f"bad setting TAKEOFF_DATABASE_URL: cannot open the database at {_shown_db_url(url)}: "
             f"{exc.__class__.__name__}: {detail}")
    from takeoff.audit import key as audit_key

    audit_key.remember(engine, settings.resolved_secret_key)
    factory = make_sessionmaker(engine)
    from takeoff.flows_registry import register_flows

    register_flows()  # cross-domain reactions (takeoff.core.events): jobs run in this process
    if migrate_first and rekey:
        _rekey_audit(factory)
    return settings, engine, factory


def _rekey_audit(factory) -> None:
    """Key a legacy (unkeyed) audit chain once the schema is current; a broken one is left alone, with a warning."""
    from takeoff.audit import service as audit
    from takeoff.core.db import transaction

    try:
        with transaction(factory) as s:
            done = audit.rekey(s)
    except audit.RekeyRefused as exc:
        typer.echo(f"warning: the unkeyed audit chain does not verify ({exc}); not rekeyed. Inspect it with "
                   "`takeoff audit verify`; `takeoff audit rekey --accept-broken` keys it as it is", err=True)
        return
    if done is not None:
        typer.echo(f"audit chain keyed: {done.entries} legacy entries rehashed with the server's key", err=True)


def _configure_logs(level: str | None = None) -> None:
    """Structured logs for the long-running commands (TAKEOFF_LOG_FORMAT, TAKEOFF_LOG_LEVEL)."""
    from takeoff.core.logs import configure

    settings = _settings()
    configure(settings.log_format, level or settings.log_level)


def _cli_actor():
    from takeoff.core.actor import Actor

    return Actor(username="cli", roles=("admin",), via="cli")


@app.callback(invoke_without_command=True)
def main_callback(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    """takeoff control plane."""
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)


@app.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""
    _, engine, factory = _open_db(rekey=True)
    typer.echo(f"database at the latest schema ({engine.dialect.name})")
    from takeoff.audit import service as audit
    from takeoff.core.db import transaction

    with transaction(factory) as s:
        if audit.has_legacy_entries(s):
            fail("the audit chain is still unkeyed (see the warning above)", 1)


def _serve(host: str, port: int, settings, engine, factory, workers: int = 1) -> None:
    import uvicorn

    from takeoff.app import create_app, ready_to_serve

    if workers == 1:
        from takeoff.core.shutdown import DrainingServer

        config = uvicorn.Config(ready_to_serve(create_app(settings, engine=engine)), host=host, port=port,
                                log_level="info", access_log=False,
                                proxy_headers=False,  # forwarded headers: TAKEOFF_TRUSTED_PROXIES
                                timeout_graceful_shutdown=settings.shutdown_grace_seconds)
        DrainingServer(config, drain_s=settings.shutdown_drain_seconds).run()
        return
    # Several processes on one socket (the GIL caps one process near one core): each builds the app from the
    # environment; migrations and the first admin are done above, once. Prometheus samples are shared on disk.
    prom = Path(settings.data_dir) / "prometheus"
    shutil.rmtree(prom, ignore_errors=True)
    prom.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
    engine.dispose()
    uvicorn.run("takeoff.app:serve_app", factory=True, workers=workers, host=host, port=port, log_level="info",
                access_log=False, proxy_headers=False,  # forwarded headers: TAKEOFF_TRUSTED_PROXIES
                timeout_graceful_shutdown=settings.shutdown_grace_seconds)  # no drain period with --workers > 1


def _first_admin(settings, factory) -> str | None:
    """The first admin, once: servers started together on one database (compose's server-a and server-b) may both
    see no user yet; the one whose insert loses that race finds the other's admin there and goes on."""
    from sqlalchemy.exc import IntegrityError

    from takeoff.auth import service as auth
    from takeoff.core.db import transaction
    from takeoff.core.errors import Conflict

    try:
        with transaction(factory) as s:
            return auth.ensure_admin(s, settings.admin_password)
    except (IntegrityError, Conflict):  # the insert, or create_user's own check, met the other server's admin
        return None


@app.command()
def serve(host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8080,
          workers: Annotated[int, typer.Option(help="Server processes (each with its embedded job worker); "
                                                    "about one per core for heavy ingestion.", min=1, max=64)] = 1,
          otlp_grpc_port: Annotated[int, typer.Option(help="Also serve OTLP over gRPC on this port (4317 is the "
                                                           "standard; same tokens as HTTP); 0: off.",
                                                      min=0, max=65535)] = 0,
          ) -> None:
    """Run the server (API, OTLP, web UI) with an embedded job worker; migrations applied at start."""
    _configure_logs()
    if otlp_grpc_port:  # through the environment: each `--workers` process builds its app from it
        os.environ["TAKEOFF_OTLP_GRPC_PORT"] = str(otlp_grpc_port)
        os.environ["TAKEOFF_OTLP_GRPC_HOST"] = host
    settings, engine, factory = _open_db(rekey=True)
    generated = _first_admin(settings, factory)
    if generated:
        typer.echo(f"created user 'admin' with password: {generated}  (shown once; change it or set TAKEOFF_ADMIN_PASSWORD)")
    _serve(host, port, settings, engine, factory, workers)


@app.command()
def worker(concurrency: Annotated[int, typer.Option(help="Worker threads in this process.", min=1, max=64)] = 1) -> None:
    """Run job workers against TAKEOFF_DATABASE_URL (any number of machines may run them)."""
    _configure_logs()
    settings, _, factory = _open_db(rekey=True)
    import takeoff.app  # noqa: F401 - registers every domain's job handlers
    from takeoff.jobs.worker import Worker

    from takeoff.jobs.worker import stop_gracefully

    _load_job_modules()
    stop, hurry = threading.Event(), threading.Event()

    def on_signal(sig: int, frame: object) -> None:  # first SIGTERM/SIGINT: graceful stop; a second: release now
        (hurry if stop.is_set() else stop).set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workers: list[Worker] = []
    threads = []
    for _ in range(concurrency):
        w = Worker(factory, lease_s=settings.job_lease_seconds)
        t = threading.Thread(target=w.run_forever, args=(stop,), daemon=True, name=f"takeoff-worker-{len(workers)}")
        t.start()
        workers.append(w)
        threads.append(t)
    from takeoff.background_defaults import register_background_services
    from takeoff.core import background

    register_background_services()
    services = background.start_all(settings, factory, stop)  # e.g. the rollup compactor (ingestion's deltas)
    typer.echo(f"{concurrency} worker(s) running; Ctrl-C or SIGTERM to stop")
    while not stop.wait(0.5) and any(t.is_alive() for t in threads):
        pass
    typer.echo(f"stopping: running jobs get {settings.shutdown_grace_seconds} s to finish", err=True)
    released = stop_gracefully(workers, threads, stop, settings.shutdown_grace_seconds, hurry)
    background.join_all(services)
    typer.echo(f"stopped; {len(released)} unfinished job(s) released for another worker" if released else "stopped",
               err=True)


def _load_job_modules() -> None:
    from takeoff import wiring

    wiring.load_job_handlers()


@app.command()
def demo(host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
         port: Annotated[int, typer.Option(help="TCP port (or TAKEOFF_PORT; `make run PORT=8101`).", min=1,
                                           max=65535, envvar="TAKEOFF_PORT")] = 8080,
         keep: Annotated[bool, typer.Option(help="Keep an existing demo workspace instead of starting fresh.")] = False) -> None:
    """Start a fresh demo workspace on SQLite under ./.takeoff/demo and serve it."""
    import os

    _configure_logs("WARNING")
    root = Path(os.environ.get("TAKEOFF_DATA_DIR", ".takeoff"))
    data = root / "demo"
    _check_port_free(host, port)  # before anything is wiped or seeded
    _hold_demo_lock(root, f"http://{host}:{port}/")  # a second demo in this folder refuses: it would wipe this one
    if data.exists() and not keep:
        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)
    os.environ["TAKEOFF_DATA_DIR"] = str(data)
    os.environ["TAKEOFF_DATABASE_URL"] = f"sqlite:///{(data / 'takeoff.db').resolve()}"
    from takeoff.demo.seed import with_demo_code, with_demo_sources  # the demo lists its own targets and sources

    os.environ["TAKEOFF_EVAL_PYTHON_MODULES"] = with_demo_code(os.environ.get("TAKEOFF_EVAL_PYTHON_MODULES", ""))
    # the demo's source database lives beside its data folder, which no source may read
    os.environ["TAKEOFF_DATA_FILE_ROOTS"] = with_demo_sources(os.environ.get("TAKEOFF_DATA_FILE_ROOTS", ""), data)
    import secrets

    password = os.environ.get("TAKEOFF_ADMIN_PASSWORD") or secrets.token_urlsafe(9)
    os.environ["TAKEOFF_ADMIN_PASSWORD"] = password
    settings, engine, factory = _open_db(rekey=True)
    _first_admin(settings, factory)
    from takeoff.background_defaults import register_background_services
    from takeoff.core import background
    from takeoff.demo.seed import seed

    typer.echo("seeding the demo workspace…")
    seed(factory, settings)
    register_background_services()
    background.drain_all(factory)  # the pages' first reads find merged rollups, not the seeding's deltas
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    _start_demo_app(url, factory)
    typer.echo(demo_banner(url, password, data))
    _serve(host, port, settings, engine, factory)


def demo_banner(url: str, password: str, data: Path) -> str:
    """The end of the demo's output: where it runs and the admin login, set apart so the password is seen."""
    rule = "=" * 72
    return "\n".join([
        "", rule, f"  takeoff demo is running: {url}/", "",
        "  sign in as   admin", f"  password     {password}", "",
        "  an API token for the CLI and the SDK (this demo's database):",
        f"    TAKEOFF_DATA_DIR={data} takeoff token create --user admin --name cli",
        f"  then: export TAKEOFF_URL={url} TAKEOFF_TOKEN=<the token>", "",
        "  Ctrl-C to stop", rule, ""])


def _check_port_free(host: str, port: int) -> None:
    """Exit 2 with a clear message when the port is taken (checked before the demo wipes or seeds anything)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            sock.bind((host, port))
        except OSError as exc:
            fail(f"port {port} on {host} is already in use ({exc.strerror}); is another takeoff running? "
                  f"Choose another port: make run PORT={port + 1} (or takeoff demo --port {port + 1}, TAKEOFF_PORT)")


_DEMO_LOCK: object = None  # the open lock file, held for the life of the demo process


def _hold_demo_lock(root: Path, url: str) -> None:
    """Take the data folder's demo lock (an OS file lock, released when the process ends, even killed); exit 2 when
    another demo of this folder holds it, rather than wiping the workspace it is serving."""
    global _DEMO_LOCK
    import fcntl

    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / "demo.lock", "a+", encoding="utf-8")  # held open: the lock lasts as long as the process
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        running = handle.read().strip() or "another process"
        handle.close()
        fail(f"a demo is already running from {root.resolve()} ({running}); stop it first, or start this one "
              f"in another folder: TAKEOFF_DATA_DIR=/tmp/takeoff-demo2 takeoff demo --port 8101")
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, {url}\n")
    handle.flush()
    _DEMO_LOCK = handle


def _start_demo_app(url: str, factory) -> None:
    """Run the demo's stand-in AI application (SDK traffic) in a daemon thread once the server is up."""
    from takeoff.demo import app as demo_app
    from takeoff.core.actor import Actor
    from takeoff.auth import service as auth
    from takeoff.core.db import transaction

    with transaction(factory) as s:
        token = auth.create_token(s, Actor("system", ("admin",)), "admin", "demo-app (SDK traffic)", 1).token
    threading.Thread(target=demo_app.run, args=(url, token, threading.Event()), daemon=True,
                     name="takeoff-demo-app").start()


@app.command()
def backup(output: Annotated[Path, typer.Argument(help="The backup file to write.")],
           overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False) -> None:
    """Copy the SQLite database while the server runs (online backup API); PostgreSQL: use pg_dump."""
    from takeoff.core.backup import BackupRefused, backup_sqlite

    settings = _settings()
    try:
        done = backup_sqlite(settings.resolved_database_url, output, overwrite=overwrite)
    except BackupRefused as exc:
        fail(str(exc))
    typer.echo(f"backed up {done.tables} tables ({done.bytes} bytes) to {done.path}")


@user_app.command("create")
def user_create(username: Annotated[str, typer.Argument(help="Login name.")],
                role: Annotated[list[str], typer.Option("--role", help="A role; repeat for several.")],
                password: Annotated[str | None, typer.Option(help="Password (omit for token-only users).")] = None,
                display_name: Annotated[str, typer.Option(help="Full name.")] = "") -> None:
    """Create a user with one or more roles."""
    from takeoff.auth import service as auth
    from takeoff.core.db import transaction
    from takeoff.core.errors import AppError

    _, _, factory = _open_db()
    try:
        with transaction(factory) as s:
            user = auth.create_user(s, _cli_actor(), username, role, password, display_name)
            typer.echo(f"created user '{user.username}' with roles {', '.join(user.roles)}")
    except AppError as exc:
        fail(exc.message)


@user_app.command("list")
def user_list() -> None:
    """List users and their roles."""
    from takeoff.auth import service as auth
    from takeoff.core.db import transaction

    _, _, factory = _open_db()
    with transaction(factory) as s:
        for u in auth.list_users(s):
            typer.echo(f"{u.username}\t{','.join(u.roles)}\t{'active' if u.active else 'inactive'}")


@token_app.command("create")
def token_create(user: Annotated[str, typer.Option("--user", help="The token's user.")],
                 name: Annotated[str, typer.Option("--name", help="A label, e.g. ci-pipeline.")],
                 expires_days: Annotated[int | None, typer.Option(help="Expire after N days.")] = None,
                 role: Annotated[list[str] | None, typer.Option("--role", help="Scope to these of the user's roles.")] = None) -> None:
    """Create an API token; the token alone is printed on the last line of stdout."""
    from takeoff.auth import service as auth
    from takeoff.core.db import transaction
    from takeoff.core.errors import AppError

    _, _, factory = _open_db()
    try:
        with transaction(factory) as s:
            new = auth.create_token(s, _cli_actor(), user, name, expires_days, role or None)
            token_id = new.record.id
    except AppError as exc:
        fail(exc.message)
    typer.echo(f"created token {token_id} '{name}' for {user}; it is shown once:")
    typer.echo(new.token)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token id (see `takeoff token list`).")]) -> None:
    """Revoke an API token."""
    from takeoff.auth import service as auth
    from takeoff.core.db import transaction
    from takeoff.core.errors import AppError

    _, _, factory = _open_db()
    try:
        with transaction(factory) as s:
            auth.revoke_token(s, _cli_actor(), token_id)
    except AppError as exc:
        fail(exc.message)
    typer.echo(f"revoked token {token_id}")


@token_app.command("list")
def token_list(user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None) -> None:
    """List API tokens (never their secrets)."""
    from takeoff.auth import service as auth
    from takeoff.core.db import transaction

    _, _, factory = _open_db()
    with transaction(factory) as s:
        for t, u in auth.list_tokens(s, user):
            v = auth.token_view(t, u)
            typer.echo(f"{v['id']}\t{v['name']}\t{u}\t{v['state']}\texpires={v['expires_at'] or 'never'}")


@audit_app.command("verify")
def audit_verify(checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="A file written by `takeoff audit checkpoint`: the chain must still reach it unchanged.")
        ] = None) -> None:
    """Recompute the keyed audit chain; exit 1 naming the first broken entry, 2 for an unusable checkpoint."""
    from takeoff.audit import service as audit
    from takeoff.core.db import transaction

    _, _, factory = _open_db()
    with transaction(factory) as s:
        mark = _read_checkpoint(s, checkpoint) if checkpoint is not None else None
        count, problem = audit.verify_chain(s, checkpoint=mark)
    if problem:
        typer.echo(f"audit chain BROKEN at entry {problem.entry_id}: {problem.reason}", err=True)
        raise typer.Exit(1)
    against = f"; it reaches the checkpoint of {mark.at} ({mark.entries} entries up to entry {mark.last_id})" if mark else ""
    typer.echo(f"audit chain verifies: {count} entries{against}")


def _read_checkpoint(session, path: Path):
    """The checkpoint in `path`, its signature checked with this server's key; exit 2 when it cannot be used."""
    import json

    from takeoff.audit.chain import CheckpointError, read_checkpoint
    from takeoff.audit.key import key_for

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError) as exc:
        fail(f"cannot read the checkpoint {path}: {exc.__class__.__name__}: {exc}")
    except ValueError as exc:
        fail(f"the checkpoint {path} is not JSON: {exc}")
    try:
        return read_checkpoint(key_for(session), doc)
    except CheckpointError as exc:
        fail(f"{path}: {exc}")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Print the signed head of a chain that verifies (JSON) to store outside the database; exit 1 if it is broken."""
    import json

    from takeoff.audit import service as audit
    from takeoff.core.db import transaction

    _, _, factory = _open_db()
    with transaction(factory) as s:
        doc, problem = audit.checkpoint(s)
    if problem is not None or doc is None:
        typer.echo(f"audit chain BROKEN at entry {problem.entry_id if problem else '?'}: "
                   f"{problem.reason if problem else ''}; no checkpoint signed", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(doc, indent=2))


@audit_app.command("rekey")
def audit_rekey(accept_broken: Annotated[bool, typer.Option(
        "--accept-broken", help="Key a legacy chain even though it does not verify (the problem is recorded).")
        ] = False) -> None:
    """Key a legacy (unkeyed) chain with the server's key; `takeoff migrate` does this when the chain verifies."""
    from takeoff.audit import service as audit
    from takeoff.core.db import transaction

    _, _, factory = _open_db(migrate_first=False)
    from takeoff import migrate as migrations

    if migrations.pending(factory.kw["bind"]):
        fail("the database schema is not current: run `takeoff migrate` first")
    try:
        with transaction(factory) as s:
            done = audit.rekey(s, accept_broken=accept_broken)
    except audit.RekeyRefused as exc:
        typer.echo(f"audit chain not rekeyed: the unkeyed chain is BROKEN at entry {exc.problem.entry_id}: "
                   f"{exc.problem.reason}", err=True)
        raise typer.Exit(1) from None
    if done is None:
        typer.echo("audit chain already keyed: nothing to do")
    elif done.legacy_problem is not None:
        typer.echo(f"audit chain keyed: {done.entries} entries, accepting the legacy chain's break at entry "
                   f"{done.legacy_problem.entry_id} (recorded in the audit.rekey entry)")
    else:
        typer.echo(f"audit chain keyed: {done.entries} entries")


def _register_client_commands() -> None:
    """Attach the client commands: each module of takeoff.commands adds its group with `register(app)`."""
    from takeoff.commands import (apply, budget, catalog, datasource, evalset, evaluator, finding, incident, release,
                                  report, requests, review, usecase)
    from takeoff.commands import eval as eval_cmd

    for mod in (apply, budget, catalog, datasource, eval_cmd, evalset, evaluator, finding, incident, release, report,
                requests, review, usecase):
        mod.register(app)


_register_client_commands()


# Dependencies' notices about their own future (Starlette's test client and Authlib's httpx integration suggest
# httpx2), printed on every start; they ask nothing of an operator, so the command line does not show them.
QUIET_DEPENDENCY_WARNINGS = (r"Using `httpx` with `starlette\.testclient` is deprecated",
                             r"The httpx module is deprecated")


def quiet_dependency_warnings() -> None:
    """Hide the dependency notices above (only those: takeoff's own warnings still show). Authlib puts an "always"
    filter of its own first when imported, so it is imported before ours go in front of it."""
    import authlib.deprecate  # noqa: F401

    for message in QUIET_DEPENDENCY_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def main() -> None:
    """Entry point of the `takeoff` script."""
    quiet_dependency_warnings()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
