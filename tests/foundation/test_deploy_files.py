"""The deployment files name only settings that exist: a typo in compose.yaml, the Dockerfile or docs/deploy.md
would otherwise be ignored silently (settings ignore unknown variables)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from takeoff.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CLIENT_SIDE = {"TAKEOFF_URL", "TAKEOFF_TOKEN", "TAKEOFF_TEST_POSTGRES_URL"}
SERVER_SIDE = {f"TAKEOFF_{name.upper()}" for name in Settings.model_fields}


def _named(text: str) -> set[str]:
    return set(re.findall(r"\bTAKEOFF_[A-Z0-9_]+\b", text))


def test_every_variable_in_the_deployment_files_is_a_setting() -> None:
    for name in ("compose.yaml", "Dockerfile", "docs/deploy.md", "docs/sso.md"):
        unknown = _named((ROOT / name).read_text()) - SERVER_SIDE - CLIENT_SIDE
        assert unknown == set(), f"{name} names unknown settings: {sorted(unknown)}"


def test_compose_runs_migrate_once_then_servers_and_a_worker_on_postgres() -> None:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = doc["services"]
    commands = {name: s.get("command", [None])[0] for name, s in services.items()}
    assert sorted(n for n, c in commands.items() if c == "serve") == ["server-a", "server-b"]
    assert commands["worker"] == "worker" and commands["migrate"] == "migrate"
    for name in ("server-a", "server-b", "worker"):
        env = services[name]["environment"]
        assert env["TAKEOFF_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "server-a:8080" in doc["configs"]["nginx"]["content"] and "server-b:8080" in doc["configs"]["nginx"]["content"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER takeoff" in dockerfile and "/readyz" in dockerfile and 'ENTRYPOINT ["takeoff"]' in dockerfile
