"""`takeoff catalog`: list approved models, add or update an entry from a file, add an effective-dated price."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from takeoff.commands._http import call, fail

catalog_app = typer.Typer(help="The model catalog: approved models, prices, limits, vendor terms.",
                          no_args_is_help=True)


def load_doc(path: Path) -> dict[str, Any]:
    """A YAML or JSON mapping from a file; exit 2 with one line when it is not one."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        fail(f"cannot read {path}: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    if not isinstance(data, dict):
        fail(f"{path} must hold a YAML or JSON mapping")
    return data


@catalog_app.command("list")
def list_models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Approved models with their current price per 1M tokens and tiers."""
    items = call("GET", "/api/v1/catalog/models")["items"]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for m in items:
        p = m.get("price") or {}
        typer.echo(f"{m['ref']:40} tiers={','.join(m['approved_tiers']) or '-':16} "
                   f"in=${p.get('input', '?')} out=${p.get('output', '?')} fallback={m.get('fallback_model') or '-'}")


@catalog_app.command("add")
def add(file: Annotated[Path, typer.Option("-f", "--file", help="YAML/JSON catalog entry.")]) -> None:
    """Create or update a catalog entry from a file."""
    m = call("POST", "/api/v1/catalog/models", json=load_doc(file))
    typer.echo(m["ref"])


@catalog_app.command("price")
def price(ref: Annotated[str, typer.Argument(help="provider/model")],
          input: Annotated[float, typer.Option("--input", help="USD per 1M input tokens.")],
          output: Annotated[float, typer.Option("--output", help="USD per 1M output tokens.")],
          cache_read: Annotated[float | None, typer.Option("--cache-read")] = None,
          cache_write: Annotated[float | None, typer.Option("--cache-write")] = None,
          reasoning: Annotated[float | None, typer.Option("--reasoning")] = None,
          effective_from: Annotated[str | None, typer.Option("--from", help="ISO date-time with zone.")] = None) -> None:
    """Add a price effective from a date (default now); earlier costs keep earlier prices."""
    if "/" not in ref:
        fail("give the model as provider/model")
    body = {"input": input, "output": output, "cache_read": cache_read, "cache_write": cache_write,
            "reasoning": reasoning, "effective_from": effective_from}
    call("POST", f"/api/v1/catalog/prices/{ref}", json={k: v for k, v in body.items() if v is not None})
    typer.echo(f"price of {ref} recorded")


@catalog_app.command("import-defaults")
def import_defaults() -> None:
    """Import the dated price snapshot shipped with takeoff (never fetched from the network): missing models are
    added approved for no tier, unpriced models get its prices; prices already recorded are kept."""
    out = call("POST", "/api/v1/catalog/import-defaults")
    typer.echo(f"price snapshot as of {out['as_of']}: {len(out['added'])} models added, {len(out['priced'])} priced, "
               f"{len(out['kept'])} kept their own prices")
    typer.echo(f"note: {out['notice']}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
