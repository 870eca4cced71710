"""`takeoff incident list|open|resolve`: incidents over the HTTP API."""
from __future__ import annotations

from typing import Annotated

import typer

from takeoff.commands._http import call

incident_app = typer.Typer(help="Incidents: list, open by hand, resolve.", no_args_is_help=True)


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m = int(seconds // 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m"


@incident_app.command("list")
def list_(use_case: Annotated[str | None, typer.Option("--use-case", "-u", help="Only this use case.")] = None,
          status: Annotated[str | None, typer.Option(help="open or resolved.")] = None) -> None:
    """List incidents (id, severity, status, use case, time to detect / recover, title) and MTTD / MTTR."""
    params = {k: v for k, v in {"use_case": use_case, "status": status}.items() if v}
    for i in call("GET", "/api/v1/incidents", params=params or None):
        typer.echo(f"#{i['id']:<5} SEV{i['severity']} {i['status']:<9} {i['use_case']:<24} "
                   f"ttd {_dur(i['ttd_s']):>7} ttr {_dur(i['ttr_s']):>7}  {i['title']}")
    stats = call("GET", "/api/v1/incidents/stats", params={"use_case": use_case} if use_case else None)["overall"]
    typer.echo(f"{stats['count']} incidents, {stats['open']} open, MTTD {_dur(stats['mttd_s'])}, "
               f"MTTR {_dur(stats['mttr_s'])}")


@incident_app.command("open")
def open_(use_case: str, title: str,
          severity: Annotated[int, typer.Option("--severity", "-s", min=1, max=4, help="1 (worst) to 4.")] = 3,
          started_at: Annotated[str | None, typer.Option(help="ISO time the problem began (may predate now).")] = None,
          release: Annotated[str | None, typer.Option(help="Linked release id, e.g. support-reply:3.")] = None,
          detail: Annotated[str, typer.Option(help="What is happening.")] = "") -> None:
    """Open an incident by hand; prints its id."""
    body = {"use_case": use_case, "title": title, "severity": severity, "detail": detail}
    if started_at:
        body["started_at"] = started_at
    if release:
        body["release_id"] = release
    out = call("POST", "/api/v1/incidents", json=body)
    typer.echo(f"opened incident #{out['id']} (SEV{out['severity']}) owned by {out['owner'] or 'nobody on call'}")
    typer.echo(str(out["id"]))


@incident_app.command("resolve")
def resolve(incident_id: int,
            resolution: Annotated[str, typer.Option("--resolution", "-r", help="What fixed it.")],
            cause: Annotated[str | None, typer.Option("--cause", help="Root cause category.")] = None) -> None:
    """Resolve an incident."""
    body = {"resolution": resolution, **({"root_cause_category": cause} if cause else {})}
    out = call("POST", f"/api/v1/incidents/{incident_id}/resolve", json=body)
    typer.echo(f"resolved incident #{out['id']} after {_dur(out['ttr_s'])}")


def register(app: typer.Typer) -> None:
    """Add `incident` to the CLI."""
    app.add_typer(incident_app, name="incident")
