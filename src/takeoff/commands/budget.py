"""`takeoff budget list|add|remove`: cost budgets per use case or release over the HTTP API."""
from __future__ import annotations

from typing import Annotated

import typer

from takeoff.commands._http import call

budget_app = typer.Typer(help="Cost budgets: spend per day or month, alerts near and over, optional fallback.",
                         no_args_is_help=True)


@budget_app.command("list")
def list_(use_case: Annotated[str | None, typer.Option("--use-case", "-u", help="Only this use case.")] = None) -> None:
    """Budgets with this window's spend, share of the limit and state (ok, near, over)."""
    for b in call("GET", "/api/v1/monitoring/budgets", params={"use_case": use_case} if use_case else None):
        scope = b["release"] or b["use_case"]
        typer.echo(f"#{b['id']:<4} {scope:<28} ${b['spend_usd']:.2f} of ${b['limit_usd']:.2f} per {b['window']:<5} "
                   f"{b['state']:<4} enforce={b['enforce']}{'' if b['enabled'] else ' (disabled)'}"
                   f"{'  FALLBACK until ' + b['resets_at'] if b['fallback'] else ''}")


@budget_app.command("add")
def add(use_case: Annotated[str, typer.Argument(help="The use case key.")],
        limit_usd: Annotated[float, typer.Option("--limit", help="Dollars per window.")],
        window: Annotated[str, typer.Option(help="day or month (UTC).")] = "month",
        release: Annotated[str | None, typer.Option(help="Only this release, e.g. support-reply:3.")] = None,
        warn_share: Annotated[float, typer.Option("--warn-at", help="Share of the limit that warns.")] = 0.8,
        enforce: Annotated[str, typer.Option(help="alert, or fallback: SDKs use the fallback once spent.")] = "alert",
        ) -> None:
    """Add a budget; prints its id."""
    body = {"use_case": use_case, "limit_usd": limit_usd, "window": window, "warn_share": warn_share,
            "enforce": enforce, **({"release": release} if release else {})}
    b = call("POST", "/api/v1/monitoring/budgets", json=body)
    typer.echo(f"budget #{b['id']}: ${b['limit_usd']:.2f} per {b['window']} for {b['release'] or b['use_case']}, "
               f"${b['spend_usd']:.2f} spent so far ({b['state']})")
    typer.echo(str(b["id"]))


@budget_app.command("remove")
def remove(budget_id: Annotated[int, typer.Argument(help="The budget id (see `takeoff budget list`).")]) -> None:
    """Disable a budget: its alerts resolve and its fallback ends."""
    call("DELETE", f"/api/v1/monitoring/budgets/{budget_id}")
    typer.echo(f"budget #{budget_id} disabled")


def register(app: typer.Typer) -> None:
    """Add `budget` to the CLI."""
    app.add_typer(budget_app, name="budget")
