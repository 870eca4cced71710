"""`takeoff datasource list|show|check NAME`: data sources and their SLA checks, over the HTTP API."""
from __future__ import annotations

import json
from urllib.parse import quote

import typer

from takeoff.commands._http import call, fail

MARK = {"pass": "ok    ", "breach": "BREACH", "error": "ERROR "}


def register(app: typer.Typer) -> None:
    """Add the `datasource` sub-commands."""
    ds = typer.Typer(help="Data sources of truth and their SLA checks.", no_args_is_help=True)

    @ds.command("list")
    def list_cmd(use_case: str = typer.Option("", "--use-case", help="only sources this use case depends on"),
                 as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """List data sources with owner and latest check status."""
        data = call("GET", "/api/v1/datasources", params={"use_case": use_case} if use_case else None)
        if as_json:
            typer.echo(json.dumps(data, indent=2))
            return
        for s in data["items"]:
            typer.echo(f"{s['name']:<24} {s['status']:<10} {s['interface']:<10} owner={s['owner']} "
                       f"use_cases={','.join(s['use_cases']) or '-'}")

    @ds.command("show")
    def show_cmd(name: str, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """Show one source (its connection only in redacted form) and its latest run."""
        _valid(name)
        data = call("GET", f"/api/v1/datasources/{quote(name, safe='')}")
        if as_json:
            typer.echo(json.dumps(data, indent=2))
            return
        typer.echo(f"{data['name']}: system of record for {data['entity']}, owner {data['owner']}, "
                   f"{data['interface']} {data['connection']} table {data['table']}")
        typer.echo(f"use cases: {', '.join(data['use_cases']) or '-'}; status: {data['status']}")
        if data.get("latest_run"):
            _print_results(data["latest_run"])

    @ds.command("check")
    def check_cmd(name: str, timeout: float = typer.Option(30.0, "--timeout", help="seconds per query"),
                  as_json: bool = typer.Option(False, "--json", help="print the run as JSON")) -> None:
        """Run the source's SLA checks now: exit 0 all green, 1 a breach or a check that could not run, 2 bad input."""
        _valid(name)
        if not (0 < timeout <= 300):
            fail("--timeout must be between 0 and 300 seconds")
        run = call("POST", f"/api/v1/datasources/{quote(name, safe='')}/check", params={"timeout_s": timeout},
                   timeout=timeout * 4 + 30)
        if as_json:
            typer.echo(json.dumps(run, indent=2))
        else:
            _print_results(run)
        if run["status"] != "pass":
            raise typer.Exit(1)

    app.add_typer(ds, name="datasource")


def _valid(name: str) -> None:
    if not name.strip() or "/" in name:
        fail(f"invalid data source name {name!r}")


def _print_results(run: dict) -> None:
    for r in run.get("results", []):
        typer.echo(f"{MARK.get(r['status'], r['status'])} {r['kind']:<14} {r['name']:<20} {r['reason']}")
    ctx = run.get("context")
    if ctx:
        typer.echo(f"{MARK.get(ctx.get('status'), ctx.get('status'))} {'context':<14} {'documents':<20} {ctx.get('reason', '')}")
    typer.echo(f"run {run.get('id')}: {run.get('status')}")
