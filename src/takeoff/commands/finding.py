"""`takeoff finding list|open|close`: audit findings over the HTTP API."""
from __future__ import annotations

from typing import Annotated

import typer

from takeoff.commands._http import call

finding_app = typer.Typer(help="Audit findings: list, record (open), close with a resolution.", no_args_is_help=True)


@finding_app.command("list")
def list_(use_case: Annotated[str | None, typer.Option("--use-case", "-u", help="Only this use case.")] = None,
          status: Annotated[str | None, typer.Option(help="open, in_progress or closed.")] = None,
          severity: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
          open_only: Annotated[bool, typer.Option("--open", help="Only open or in-progress findings.")] = False) -> None:
    """List findings (id, severity, status, use case, control, due date, title), most severe first."""
    params = {k: v for k, v in {"use_case": use_case, "status": status, "severity": severity}.items() if v}
    if open_only:
        params["open"] = "true"
    rows = call("GET", "/api/v1/findings", params=params or None)
    for f in rows:
        due = (f["due_on"] or "-") + (" OVERDUE" if f["overdue"] else "")
        typer.echo(f"#{f['id']:<5} {f['severity']:<8} {f['status']:<11} {f['use_case']:<24} "
                   f"{f['control_id'] or '-':<16} due {due:<19} {f['title']}")
    typer.echo(f"{len(rows)} finding(s), {sum(1 for f in rows if f['status'] != 'closed')} open")


@finding_app.command("open")
def open_(use_case: str, title: str,
          severity: Annotated[str, typer.Option("--severity", "-s", help="low, medium, high or critical.")] = "medium",
          source: Annotated[str, typer.Option(help="internal_audit, external_audit, readiness_review, regulator "
                                                   "or self_assessment.")] = "internal_audit",
          control: Annotated[str | None, typer.Option(help="Control id from the control library, e.g. TK-HO-01.")] = None,
          owner: Annotated[str | None, typer.Option(help="Who fixes it (default: the business owner).")] = None,
          due: Annotated[str | None, typer.Option(help="Due date, YYYY-MM-DD.")] = None,
          found: Annotated[str | None, typer.Option(help="When the audit found it, YYYY-MM-DD (default today).")] = None,
          description: Annotated[str, typer.Option(help="What the audit found.")] = "") -> None:
    """Record a finding; prints its id on the last line."""
    body: dict[str, object] = {"use_case": use_case, "title": title, "severity": severity, "source": source,
                               "description": description}
    for k, v in (("control_id", control), ("owner", owner), ("due_on", due), ("found_on", found)):
        if v:
            body[k] = v
    out = call("POST", "/api/v1/findings", json=body)
    typer.echo(f"recorded finding #{out['id']} ({out['severity']}) on {out['use_case']}, "
               f"owner {out['owner'] or 'nobody'}")
    typer.echo(str(out["id"]))


@finding_app.command("close")
def close(finding_id: int,
          resolution: Annotated[str, typer.Option("--resolution", "-r", help="What was done about it.")]) -> None:
    """Close a finding with its resolution."""
    out = call("POST", f"/api/v1/findings/{finding_id}/close", json={"resolution": resolution})
    typer.echo(f"closed finding #{out['id']} on {out['use_case']}")


def register(app: typer.Typer) -> None:
    """Add `finding` to the CLI."""
    app.add_typer(finding_app, name="finding")
