"""`takeoff evaluator list|show|create|set|pause|resume|run|delete`: online evaluators of production traffic, over
the HTTP API. Exit codes: 0 done, 1 `show --fail-if-stopped` on a stopped evaluator, 2 bad input or refused."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from takeoff.commands._http import call, fail

evaluator_app = typer.Typer(help="Online evaluators: score a sampled share of production requests (judges, scorers, "
                            "safety detectors).", no_args_is_help=True)
Opt = typer.Option


def _line(e: dict[str, Any]) -> str:
    t = e["today"]
    budget = "no budget" if e["daily_budget_usd"] is None else \
        f"${t['cost_usd']:.4f} of ${e['daily_budget_usd']:.2f} (left ${t['budget_left_usd']:.4f})"
    return (f"#{e['id']:<4} {e['use_case']:<20} {e['name']:<16} {e['spec'].get('type', e['kind']):<14} "
            f"{e['state']:<13} sample {e['sample_rate']:.0%}  today: {t['evaluated']} evaluated, {t['skipped']} "
            f"skipped, {t['failed']} failed; {budget}")


@evaluator_app.command("list")
def list_(use_case: Annotated[str, Opt("--use-case", "-u", help="The use case key.")]) -> None:
    """A use case's evaluators with today's counters and budget."""
    rows = call("GET", f"/api/v1/usecases/{use_case}/evaluators")
    for e in rows:
        typer.echo(_line(e))
    typer.echo(f"{len(rows)} evaluator(s)")


@evaluator_app.command("show")
def show(evaluator_id: int, fail_if_stopped: Annotated[bool, Opt(help="Exit 1 when the evaluator stopped for the "
                                                                      "day (budget spent) or is paused.")] = False
         ) -> None:
    """One evaluator as JSON (settings, today's counters, recent results)."""
    out = call("GET", f"/api/v1/evaluators/{evaluator_id}")
    typer.echo(json.dumps(out, indent=2))
    if fail_if_stopped and out["state"] != "running":
        typer.echo(f"evaluator #{evaluator_id} is {out['state'].replace('_', ' ')}"
                   f"{': ' + out['state_detail'] if out['state_detail'] else ''}", err=True)
        raise typer.Exit(1)


def _spec_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        fail(f"--spec: cannot read {path}: {exc.strerror}")
    except ValueError as exc:
        fail(f"--spec: {path} is not JSON: {exc}")


@evaluator_app.command("create")
def create(use_case: str, name: str,
           spec: Annotated[Path | None, Opt("--spec", help="JSON file: a scorer spec (kind scorer) or a safety "
                                            "policy (kind detectors).")] = None,
           kind: Annotated[str, Opt(help="scorer or detectors")] = "scorer",
           judge_url: Annotated[str | None, Opt(help="LLM judge: an OpenAI-compatible base URL (…/v1).")] = None,
           judge_model: Annotated[str | None, Opt(help="LLM judge: the model name.")] = None,
           rubric: Annotated[str | None, Opt(help="LLM judge: what a good answer is.")] = None,
           sample_rate: Annotated[float, Opt(help="Share of new requests with content, in (0, 1].")] = 1.0,
           budget: Annotated[float | None, Opt("--budget", help="Judge: USD per UTC day; it stops when spent.")] = None,
           price_in: Annotated[float | None, Opt(help="Judge: USD per 1M input tokens.")] = None,
           price_out: Annotated[float | None, Opt(help="Judge: USD per 1M output tokens.")] = None,
           release: Annotated[str | None, Opt(help="Only requests of this release.")] = None,
           status: Annotated[str | None, Opt(help="Only requests with this status (ok, error, fallback).")] = None,
           model: Annotated[str | None, Opt(help="Only requests of this model.")] = None,
           since: Annotated[str | None, Opt(help="Evaluate requests from this ISO time on (default: now).")] = None
           ) -> None:
    """Add an online evaluator to a use case: --spec FILE, or a judge with --judge-url/--judge-model/--rubric."""
    if kind not in ("scorer", "detectors"):
        fail("--kind: scorer or detectors")
    judge = [judge_url, judge_model, rubric]
    if spec is not None and any(judge):
        fail("give either --spec or the judge options, not both")
    if spec is None and not all(judge):
        fail("give --spec FILE, or all of --judge-url, --judge-model and --rubric")
    doc = _spec_file(spec) if spec is not None else \
        {"type": "llm_judge", "base_url": judge_url, "model": judge_model, "rubric": rubric}
    if (price_in is None) != (price_out is None):
        fail("give both --price-in and --price-out")
    body: dict[str, Any] = {"name": name, "kind": kind, "scorer" if kind == "scorer" else "safety": doc,
                            "sample_rate": sample_rate,
                            "filters": {k: v for k, v in (("release", release), ("status", status), ("model", model))
                                        if v}}
    if budget is not None:
        body["daily_budget_usd"] = budget
    if price_in is not None:
        body["prices"] = {"input": price_in, "output": price_out}
    if since:
        body["since"] = since
    out = call("POST", f"/api/v1/usecases/{use_case}/evaluators", json=body)
    typer.echo(f"evaluator #{out['id']} {out['name']} on {out['use_case']}: writes score {out['score']} "
               f"(metric {out['metric']})")


@evaluator_app.command("set")
def set_(evaluator_id: int, sample_rate: Annotated[float | None, Opt(help="In (0, 1].")] = None,
         budget: Annotated[float | None, Opt("--budget", help="USD per UTC day.")] = None,
         no_budget: Annotated[bool, Opt("--no-budget", help="Remove the daily budget.")] = False) -> None:
    """Change an evaluator's sampling rate or daily budget."""
    body: dict[str, Any] = {}
    if sample_rate is not None:
        body["sample_rate"] = sample_rate
    if budget is not None:
        body["daily_budget_usd"] = budget
    if no_budget:
        body["clear_budget"] = True
    if not body:
        fail("nothing to change: give --sample-rate, --budget or --no-budget")
    typer.echo(_line(call("PATCH", f"/api/v1/evaluators/{evaluator_id}", json=body)))


@evaluator_app.command("pause")
def pause(evaluator_id: int) -> None:
    """Stop an evaluator (its cursor stays; resume goes on from there)."""
    typer.echo(_line(call("PATCH", f"/api/v1/evaluators/{evaluator_id}", json={"enabled": False})))


@evaluator_app.command("resume")
def resume(evaluator_id: int) -> None:
    """Start a paused evaluator again."""
    typer.echo(_line(call("PATCH", f"/api/v1/evaluators/{evaluator_id}", json={"enabled": True})))


@evaluator_app.command("run")
def run(evaluator_id: int) -> None:
    """Queue a run of the evaluator's next batch now (a worker runs it)."""
    out = call("POST", f"/api/v1/evaluators/{evaluator_id}/run")
    typer.echo(f"queued job {out['job_id']} for evaluator #{out['evaluator']}")


@evaluator_app.command("delete")
def delete(evaluator_id: int) -> None:
    """Delete an evaluator (the scores it wrote stay)."""
    call("DELETE", f"/api/v1/evaluators/{evaluator_id}")
    typer.echo(f"deleted evaluator #{evaluator_id}")


def register(app: typer.Typer) -> None:
    """Add `evaluator` to the CLI."""
    app.add_typer(evaluator_app, name="evaluator")
