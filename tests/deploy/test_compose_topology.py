"""The Done-when of docs/deploy.md, as close as this machine allows: compose.yaml's topology run natively and the
page's "After `up`" block run as written.

compose.yaml is read with PyYAML and its services run as processes on a fresh PostgreSQL database: the `migrate`
one-shot, `server-a` and `server-b` behind Debian's nginx with the compose file's own proxy configuration, and the
`worker`, each with the environment compose would give it (its `${VAR:-default}` interpolation done here). What is
rewritten, and only that: the database URL (the `postgres` service is this machine's PostgreSQL) and the
servers' and the proxy's host:port (no container network here: loopback and free ports; see
tests/deploy/test_container_image.py for the image itself). The block between the `first-alert` markers of
docs/deploy.md then runs in bash, with a `docker` shim that turns `docker compose exec -T <service> takeoff ...` into
that service's command on this machine: a token, the SSO group mapping, an e-mail channel (aiosmtpd with AUTH) and
a Slack incoming webhook (a local receiver checking Slack's documented body), and a budget alert through the proxy.
Both deliveries must arrive; then a person signs in through the proxy at a real OpenID provider (npm
`oidc-provider`) and gets the role the mapping gives their group.

nginx missing skips this test outside CI; in CI (`CI` or `TAKEOFF_TEST_NGINX=1`, which .ci/run sets after
installing nginx) it fails.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import create_pg_database
from tests.monitoring.receivers import SMTP_PASSWORD, VendorReceiver, smtp_server  # noqa: F401
from tests.monitoring.vendor_schemas import SLACK
from tests.sso.provider import free_port as _free_port
from tests.sso.provider import oidc_provider

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.path.exists(p)), None)
OIDC_SECRET = "compose-client-secret-0123456789"
IDP_USERS = {"scully": {"password": "the-truth-1", "claims": {"preferred_username": "dscully",
                                                              "email": "scully@corp.example", "groups": ["ai-platform"]}}}

if NGINX is None:
    if os.environ.get("CI") or os.environ.get("TAKEOFF_TEST_NGINX") == "1":
        raise RuntimeError("nginx is not installed: .ci/run installs Debian's nginx-light for the compose topology test")
    pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; CI requires it)", allow_module_level=True)

DOCKER_SHIM = '''#!{python}
"""`docker compose exec [-T] SERVICE takeoff ARGS...` run as SERVICE's takeoff on this machine (the test's topology)."""
import json, os, sys
args = sys.argv[1:]
if args[:2] != ["compose", "exec"]:
    sys.exit(f"docker shim: only `docker compose exec` is run here, not {args!r}")
args = [a for a in args[2:] if a != "-T"]
service, command = args[0], args[1:]
if not command or command[0] != "takeoff":
    sys.exit(f"docker shim: only takeoff commands, not {command!r}")
envs = json.load(open(os.environ["COMPOSE_SHIM_ENVS"]))
env = {**os.environ, **envs[service]}
os.execve(sys.executable, [sys.executable, "-m", "takeoff.cli", *command[1:]], env)
'''


def interpolate(value: str, values: dict[str, str]) -> str:
    """compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ (a literal $)."""
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        got = values.get(name, "")
        if op == ":?" and not got:
            raise AssertionError(f"compose.yaml requires {name}: {arg}")
        return got if got or op != ":-" else arg
    return re.sub(r"\$\$|\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", one, value)


def service_env(compose: dict[str, Any], service: str, values: dict[str, str]) -> dict[str, str]:
    """The environment compose gives a service (its YAML anchors merged by PyYAML), interpolated."""
    env = compose["services"][service].get("environment") or {}
    return {k: interpolate(str(v), values) for k, v in env.items()}


def nginx_conf(compose: dict[str, Any], upstreams: dict[str, int], listen: int, prefix: Path) -> str:
    """compose's nginx config (its `$$` unescaped) with the servers' and the proxy's host:port moved to loopback,
    inside the main-context lines a container's stock nginx.conf would give it."""
    site = compose["configs"]["nginx"]["content"].replace("$$", "$")
    for service, port in upstreams.items():
        site, n = re.subn(rf"\bserver {re.escape(service)}:8080\b", f"server 127.0.0.1:{port}", site)
        assert n == 1, f"compose's nginx config has no upstream {service}:8080"
    site, n = re.subn(r"\blisten 8080;", f"listen 127.0.0.1:{listen};", site)
    assert n == 1, "compose's nginx config does not listen on 8080"
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
        (prefix / d).chmod(0o777)  # nginx's workers drop to nobody when started as root
    temps = "\n".join(f"  {d}_temp_path {prefix / d};" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
                      ).replace("client_body_temp_path " + str(prefix / "client_body"),
                                "client_body_temp_path " + str(prefix / "body"))
    return (f"worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n  access_log {prefix / 'access.log'};\n{temps}\n"
            f"{site}\n}}\n")


def doc_block() -> str:
    """The shell block between docs/deploy.md's first-alert markers."""
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    m = re.search(r"<!-- first-alert:begin -->\s*```sh\n(.*?)```\s*<!-- first-alert:end -->", text, re.S)
    assert m, "docs/deploy.md has no first-alert block"
    return m.group(1)


def _wait_for(predicate: Any, timeout: float, what: str, logs: dict[str, Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {n}\n{p.read_text(errors='replace')[-1500:]}" for n, p in logs.items() if p.exists())
    raise AssertionError(f"{what} within {timeout:.0f} s\n{tails}")


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def database() -> Iterator[str]:
    url, drop = create_pg_database("takeoff_compose")
    yield url
    drop()


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """npm oidc-provider on loopback; its redirect URI is set once the proxy's port is known (config re-read)."""
    proxy_port = _free_port()
    with oidc_provider(tmp_path / "idp.json", OIDC_SECRET, f"http://127.0.0.1:{proxy_port}/auth/oidc/callback",
                       IDP_USERS) as issuer:
        yield {"issuer": issuer, "proxy_port": proxy_port}


def _sign_in(proxy: str, login: str, password: str) -> httpx.Client:
    """A browser's way through the proxy's SSO start, the provider's login form and the callback."""
    browser = httpx.Client(follow_redirects=True, timeout=10)
    form = browser.get(f"{proxy}/auth/oidc/login")
    assert form.status_code == 200 and "Provider sign-in" in form.text, form.text[:500]
    action = re.search(r'action="([^"]+)"', form.text)
    assert action
    done = browser.post(httpx.URL(str(form.url)).join(action.group(1)), data={"login": login, "password": password})
    assert done.status_code == 200 and str(done.url).startswith(proxy), (done.status_code, done.url, done.text[:500])
    return browser


def test_compose_topology_follows_the_deploy_doc_to_a_first_alert_and_an_sso_sign_in(
        database: str, idp: dict[str, Any], smtp_server: Any, tmp_path: Path) -> None:  # noqa: F811
    started = time.monotonic()
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    box, smtp_port = smtp_server
    slack = VendorReceiver(SLACK)
    proxy_port = idp["proxy_port"]
    proxy = f"http://127.0.0.1:{proxy_port}"
    values = {"TAKEOFF_SECRET_KEY": "compose-secret-" + "k" * 40, "TAKEOFF_ADMIN_PASSWORD": "compose-admin-pw-1",
              "POSTGRES_PASSWORD": "not-used-here", "TAKEOFF_PUBLIC_URL": proxy,
              "TAKEOFF_OUTBOUND_ALLOW_HOSTS": "127.0.0.1", "TAKEOFF_OIDC_ISSUER": idp["issuer"],
              "TAKEOFF_OIDC_CLIENT_ID": "takeoff", "TAKEOFF_OIDC_CLIENT_SECRET": OIDC_SECRET,
              "TAKEOFF_OIDC_SCOPES": "openid profile email groups"}  # this provider's groups come with that scope
    roles = ("migrate", "server-a", "server-b", "worker")
    envs: dict[str, dict[str, str]] = {}
    for service in roles:
        env = service_env(compose, service, values)
        assert re.fullmatch(r"postgresql\+psycopg://takeoff:[^@]+@postgres:5432/takeoff", env["TAKEOFF_DATABASE_URL"])
        envs[service] = {**env, "TAKEOFF_DATABASE_URL": database, "TAKEOFF_DATA_DIR": str(tmp_path / service),
                         "TAKEOFF_LOG_FORMAT": "text"}
    assert envs["server-a"]["TAKEOFF_EMBEDDED_WORKER"] == "false"  # the worker service does the jobs
    base_env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    for k in list(base_env):
        if k.startswith("TAKEOFF_"):
            del base_env[k]  # only what compose gives
    ports = {"server-a": _free_port(), "server-b": _free_port()}
    logs = {name: tmp_path / f"{name}.log" for name in (*roles, "nginx")}
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def command(service: str) -> list[str]:
        argv = [str(a) for a in compose["services"][service]["command"]]
        if service in ports:
            assert argv[argv.index("--host") + 1] == "0.0.0.0" and argv[argv.index("--port") + 1] == "8080"
            argv[argv.index("--host") + 1] = "127.0.0.1"
            argv[argv.index("--port") + 1] = str(ports[service])
        return [sys.executable, "-m", "takeoff.cli", *argv]  # the image's ENTRYPOINT is `takeoff`

    try:
        migrate = subprocess.run(command("migrate"), env={**base_env, **envs["migrate"]}, cwd=ROOT,
                                 capture_output=True, text=True, timeout=120)
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        for service in ("server-a", "server-b", "worker"):
            procs[service] = subprocess.Popen(command(service), env={**base_env, **envs[service]}, cwd=ROOT,
                                              stdout=logs[service].open("wb"), stderr=subprocess.STDOUT)
        conf = tmp_path / "nginx" / "nginx.conf"
        conf.parent.mkdir()
        conf.write_text(nginx_conf(compose, ports, proxy_port, conf.parent))
        procs["nginx"] = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"],
                                          stdout=logs["nginx"].open("wb"), stderr=subprocess.STDOUT)
        for service, port in ports.items():
            _wait_for(lambda p=port: _ok(f"http://127.0.0.1:{p}/readyz"), 180, f"{service} ready", logs)
        _wait_for(lambda: _ok(f"{proxy}/readyz"), 15, "the proxy answering", logs)

        shim = tmp_path / "bin" / "docker"
        shim.parent.mkdir()
        shim.write_text(DOCKER_SHIM.replace("{python}", sys.executable, 1))
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        (tmp_path / "envs.json").write_text(json.dumps(envs))
        reader = {**base_env, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
                  "COMPOSE_SHIM_ENVS": str(tmp_path / "envs.json"), "TAKEOFF_PUBLIC_URL": proxy,
                  "SMTP_URL": f"smtp://takeoff@127.0.0.1:{smtp_port}?from=takeoff@corp.example&to=ops@corp.example"
                              "&starttls=false",
                  "SMTP_PASSWORD": SMTP_PASSWORD, "SLACK_WEBHOOK_URL": slack.url}
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", doc_block()], env=reader, cwd=ROOT,
                             capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

        _wait_for(lambda: box.messages and slack.docs, 60, "the e-mail and the Slack message", logs)
        mail = box.messages[0]
        assert mail.rcpt_tos == ["ops@corp.example"]
        content = mail.content.decode(errors="replace")
        assert "cost budget exceeded" in content and "hello-ai" in content, content[:1000]
        assert slack.errors == [], slack.errors  # Slack's documented incoming-webhook body
        assert "cost budget exceeded" in slack.docs[0]["text"] and "hello-ai" in slack.docs[0]["text"]
        assert all(SMTP_PASSWORD not in p.read_text(errors="replace") for p in logs.values() if p.exists())
        assert all("XXXXXXXXXXXXXXXXXXXXXXXX" not in p.read_text(errors="replace")  # the hook's token
                   for p in logs.values() if p.exists())

        browser = _sign_in(proxy, "scully", "the-truth-1")
        me = browser.get(f"{proxy}/monitoring")
        assert me.status_code == 200 and "dscully" in me.text, me.text[:500]
        admin_page = browser.get(f"{proxy}/admin/users")  # the mapping made the ai-platform group admins
        assert admin_page.status_code == 200, admin_page.status_code
        access = (conf.parent / "access.log").read_text()  # it all went through the proxy
        assert "/auth/oidc/callback" in access and "/api/v1/monitoring/budgets" in access, access[-2000:]
        print(f"compose topology: doc block to SSO sign-in in {time.monotonic() - started:.1f} s")
    finally:
        slack.close()
        for name, proc in procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
