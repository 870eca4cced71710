"""`takeoff report NAME [--format md|html] [-o FILE]`: render a report on the server."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from takeoff.commands._http import call, fail


def register(app: typer.Typer) -> None:
    """Add `report` to the CLI."""

    @app.command("report")
    def report(name: Annotated[str, typer.Argument(help="inventory, readiness, scorecard, quarterly ...")],
               format: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
               output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here (default stdout).")] = None,
               use_case: Annotated[str | None, typer.Option("--use-case", help="For per-use-case reports.")] = None) -> None:
        """Render a report (Markdown or printable HTML)."""
        if format not in ("md", "html"):
            fail("--format must be md or html")
        params = {"format": format}
        if use_case:
            params["use_case"] = use_case
        text = call("GET", f"/api/v1/reports/{name}", params=params)
        if not isinstance(text, str):
            text = str(text)
        if output is None:
            typer.echo(text)
        else:
            output.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {output}")
