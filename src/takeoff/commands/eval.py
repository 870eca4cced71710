"""`takeoff eval`: start an eval run (of a release or an eval set), wait with a progress bar, gate exit codes."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from takeoff.commands._http import call, fail
from takeoff.commands.catalog import load_doc

eval_app = typer.Typer(help="Eval runs: start, wait for the gate, show, compare.", no_args_is_help=True)
_sleep = time.sleep  # tests replace it to run the job queue between polls


def _gate_exit(run: dict[str, Any]) -> int:
    """0 when the gate lets the release through, 1 when it blocks or the run failed."""
    if run["status"] == "failed":
        typer.echo(f"error: eval run {run['id']} failed: {run.get('error') or 'see the server log'}", err=True)
        return 1
    gate = run.get("gate") or {}
    status = gate.get("status")
    lo, hi = gate.get("ci_low"), gate.get("ci_high")
    ci = f" [{lo:.1%}, {hi:.1%}]" if lo is not None and hi is not None else ""
    summary = run.get("summary") or {}
    typer.echo(f"gate {status}: pass rate {summary.get('pass_rate', 0):.1%} ({summary.get('passed', 0)}/"
               f"{summary.get('n', 0)}){ci}")
    for reason in gate.get("reasons", []):
        typer.echo(f"  - {reason}")
    return 0 if status == "pass" or (status == "inconclusive" and not gate.get("blocks", True)) else 1


def _wait(run_id: int, poll_s: float, timeout_s: float) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    deadline = time.monotonic() + timeout_s
    with Progress(TextColumn(f"eval run {run_id}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:
        task = bar.add_task("cases", total=None)
        while True:
            run = call("GET", f"/api/v1/evalruns/{run_id}")
            bar.update(task, completed=run["done"], total=run["total"] or None)
            if run["status"] in ("done", "failed"):
                return run
            if time.monotonic() > deadline:
                fail(f"eval run {run_id} still {run['status']} after {timeout_s:g}s", code=1)
            _sleep(poll_s)


@eval_app.command("run")
def run(release: Annotated[str | None, typer.Option("--release", help="UC:VERSION to evaluate.")] = None,
        eval_set: Annotated[str | None, typer.Option("--eval-set", help="Ad hoc run: eval set name[@version].")] = None,
        spec: Annotated[Path | None, typer.Option("--spec", help="YAML/JSON {target, scorers, repeats, "
                                                                 "concurrency}; overrides the bundle's.")] = None,
        use_case: Annotated[str | None, typer.Option("--use-case", help="Ad hoc run: judge against its targets.")] = None,
        wait: Annotated[bool, typer.Option("--wait", help="Wait for the gate; exit 1 if it fails.")] = False,
        poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between polls.")] = 1.0,
        timeout: Annotated[float, typer.Option("--timeout", min=1, help="Give up waiting after seconds.")] = 3600,
        ) -> None:
    """Start an eval run as a job; with --wait show progress and exit 0 (gate passes) or 1 (it does not)."""
    if bool(release) == bool(eval_set):
        fail("give exactly one of --release UC:VERSION or --eval-set NAME")
    body: dict[str, Any] = dict(load_doc(spec)) if spec else {}
    unknown = set(body) - {"target", "scorers", "repeats", "concurrency"}
    if unknown:
        fail(f"{spec}: unknown field {sorted(unknown)[0]!r} (allowed: target, scorers, repeats, concurrency)")
    if release:
        body["release"] = release
    else:
        name, _, ver = str(eval_set).partition("@")
        body["eval_set"] = name
        if ver:
            if not ver.isdigit():
                fail("--eval-set takes NAME or NAME@VERSION")
            body["version"] = int(ver)
        if use_case:
            body["use_case"] = use_case
    started = call("POST", "/api/v1/evalruns", json=body)
    typer.echo(f"eval run {started['id']} queued: {started['total']} cases of {started['eval_set']}")
    if not wait:
        typer.echo(started["id"])
        return
    raise typer.Exit(_gate_exit(_wait(started["id"], poll, timeout)))


@eval_app.command("show")
def show(run_id: int, failures: Annotated[bool, typer.Option("--failures")] = False) -> None:
    """A run's progress, summary and gate (and failing cases) as JSON."""
    out = call("GET", f"/api/v1/evalruns/{run_id}")
    if failures:
        out["failures"] = call("GET", f"/api/v1/evalruns/{run_id}/failures")["items"]
    typer.echo(json.dumps(out, indent=2, default=str))


@eval_app.command("compare")
def compare(baseline: int, candidate: int) -> None:
    """Regressions and fixes case by case; exit 1 when there are regressions."""
    c = call("GET", "/api/v1/evalruns/compare", params={"a": baseline, "b": candidate})
    for r in c["regressions"]:
        typer.echo(f"REGRESSION {r['case_id']} ({r.get('error_category') or '-'})")
    for r in c["fixes"]:
        typer.echo(f"fixed      {r['case_id']}")
    typer.echo(f"{len(c['regressions'])} regressions, {len(c['fixes'])} fixes, {c['unchanged_pass']} still pass, "
               f"{c['unchanged_fail']} still fail")
    raise typer.Exit(1 if c["regressions"] else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
