"""`takeoff usecase list|show|create|transition`: use cases over the HTTP API."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from takeoff.commands._http import call, fail

usecase_app = typer.Typer(help="Use cases: list, show, register, move through the lifecycle.", no_args_is_help=True)


@usecase_app.command("list")
def list_(status: Annotated[str | None, typer.Option(help="Only this status.")] = None) -> None:
    """List use cases: key, status, risk tier, name."""
    out = call("GET", "/api/v1/usecases", params={"status": status} if status else None)
    for uc in out["use_cases"]:
        typer.echo(f"{uc['key']:<32} {uc['status']:<11} {uc['risk_tier'] or '-':<7} {uc['name']}")


@usecase_app.command("show")
def show(key: str) -> None:
    """Show one use case as JSON."""
    typer.echo(json.dumps(call("GET", f"/api/v1/usecases/{key}"), indent=2))


@usecase_app.command("create")
def create(file: Annotated[Path, typer.Option("-f", "--file", help="YAML or JSON intake document.")]) -> None:
    """Register a use case from an intake file."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        fail(f"{file}: cannot read intake: {exc.__class__.__name__}")
    if not isinstance(data, dict):
        fail(f"{file}: the intake must be a mapping")
    data.pop("kind", None)
    out = call("POST", "/api/v1/usecases", json=data)
    typer.echo(f"registered {out['key']} ({out['status']}, risk tier {out['risk_tier']})")


@usecase_app.command("transition")
def transition(key: str, to: str,
               reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded).")]) -> None:
    """Move a use case to another status (e.g. pilot, production, paused, retired)."""
    out = call("POST", f"/api/v1/usecases/{key}/transitions", json={"to": to, "reason": reason})
    typer.echo(f"{key}: {out['from']} → {out['to']}")


def register(app: typer.Typer) -> None:
    """Add `usecase` to the CLI."""
    app.add_typer(usecase_app, name="usecase")
