"""`takeoff requests list|show|export|to-evalset|policy|delete`: the request explorer, production requests into eval
sets, capture policies and a data subject's deletion, over the HTTP API."""
from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from takeoff.commands._http import call, client, fail

requests_app = typer.Typer(help="Request records: list, show, export; capture policies; delete a unit's data.",
                           no_args_is_help=True)
policy_app = typer.Typer(help="Content capture policy of a use case: show, set.", no_args_is_help=True)
requests_app.add_typer(policy_app, name="policy")

Opt = typer.Option


# The explorer's filters (GET /api/v1/requests), the same options on list, export and to-evalset.
UseCase = Annotated[str | None, Opt("--use-case", "-u")]
Release = Annotated[str | None, Opt(help="A release id (the use case's number, or use_case:N).")]
Status = Annotated[str | None, Opt(help="ok, error, fallback")]
Text = Annotated[str | None, Opt()]
Time = Annotated[str | None, Opt(help="ISO 8601 time or Unix seconds")]
Score = Annotated[str | None, Opt(help="A score's name (with --score-min / --score-max: its range).")]
Bound = Annotated[float | None, Opt()]
Rating = Annotated[int | None, Opt(help="A feedback rating, 1-5.")]
HasContent = Annotated[bool | None, Opt("--has-content/--no-content", help="Only requests with (without) content.")]
Search = Annotated[str | None, Opt("--search", help="Text in stored content.")]


FILTERS = ("use_case", "release", "status", "error_category", "model", "provider", "start", "end", "unit", "score",
           "score_min", "score_max", "rating_min", "rating_max", "has_content", "q")


def _filters(options: dict[str, Any], **extra: Any) -> dict[str, str]:
    """Query parameters of the explorer's filters among a command's `options` (its locals()) and `extra` ones, for
    the options given (a flag as true/false)."""
    given = {**{k: options[k] for k in FILTERS}, **extra}
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in given.items() if v is not None and v != ""}


@requests_app.command("list")
def list_(use_case: UseCase = None, release: Release = None, status: Status = None, error_category: Text = None,
          model: Text = None, provider: Text = None, start: Time = None, end: Time = None, unit: Text = None,
          score: Score = None, score_min: Bound = None, score_max: Bound = None, rating_min: Rating = None,
          rating_max: Rating = None, has_content: HasContent = None, q: Search = None,
          limit: Annotated[int, Opt(min=1, max=200)] = 20,
          cursor: Annotated[str | None, Opt(help="Go on from a page's cursor (printed under it).")] = None,
          as_json: Annotated[bool, Opt("--json", help="The page as JSON (items, next_cursor, searched_to).")] = False
          ) -> None:
    """The newest requests matching the filters (id, time, use case, status, latency, model, cost)."""
    params = _filters(locals(), limit=limit, cursor=cursor)
    out = call("GET", "/api/v1/requests", params=params)
    if as_json:
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for r in out["items"]:
        lat = f"{r['latency_ms']:.0f} ms" if r["latency_ms"] is not None else "-"
        cost = f"${r['cost_usd']:.5f}" if r["cost_usd"] is not None else "-"
        typer.echo(f"{r['ts'][:19]}  {r['id']:<36} {r['use_case']:<20} {r['status']:<8} {lat:>9} "
                   f"{r['model'] or '-':<20} {cost}{'  [content]' if r['has_content'] else ''}")
    searched = out.get("searched_to")
    more = (f" (searched back to {searched[:19]}; older ones not searched yet)" if searched
            else " (more)" if out["next_cursor"] else "")
    typer.echo(f"{len(out['items'])} request(s){more}")
    if out["next_cursor"]:
        typer.echo(f"next page: --cursor {out['next_cursor']}")


@requests_app.command("show")
def show(request_id: str) -> None:
    """One request as JSON (span tree, tokens, cost, scores, feedback, content when you may read it)."""
    typer.echo(json.dumps(call("GET", f"/api/v1/requests/{request_id}"), indent=2, ensure_ascii=False))


@requests_app.command("export")
def export(use_case: UseCase = None, release: Release = None, status: Status = None, error_category: Text = None,
           model: Text = None, provider: Text = None, start: Time = None, end: Time = None, unit: Text = None,
           score: Score = None, score_min: Bound = None, score_max: Bound = None, rating_min: Rating = None,
           rating_max: Rating = None, has_content: HasContent = None, q: Search = None,
           fmt: Annotated[str, Opt("--format", help="jsonl or csv")] = "jsonl",
           max_rows: Annotated[int, Opt("--max", min=1, max=100_000)] = 10_000,
           with_content: Annotated[bool, Opt("--with-content", help="Each request's redacted content too (JSONL; "
                                                                    "needs content.read).")] = False) -> None:
    """Export the filtered requests to stdout as JSONL or CSV: metadata, and with --with-content their content."""
    if fmt not in ("jsonl", "csv"):
        fail("--format: jsonl or csv")
    if with_content and fmt != "jsonl":
        fail("--with-content: the content is exported in JSONL only")
    params = _filters(locals(), format=fmt, max=max_rows, **({"content": "true"} if with_content else {}))
    with client() as c, c.stream("GET", "/api/v1/requests/export", params=params) as resp:
        if resp.status_code >= 400:
            resp.read()
            try:
                fail(resp.json()["error"]["message"])
            except (ValueError, KeyError):
                fail(f"HTTP {resp.status_code}")
        for chunk in resp.iter_bytes():
            sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


@requests_app.command("to-evalset")
def to_evalset(eval_set: str,
               request: Annotated[list[str] | None, Opt("--request", "-r", help="A request id (repeatable).")] = None,
               incident: Annotated[int | None, Opt(help="The requests of this incident.")] = None,
               use_case: UseCase = None, release: Release = None, status: Status = None, error_category: Text = None,
               model: Text = None, provider: Text = None, start: Time = None, end: Time = None, unit: Text = None,
               score: Score = None, score_min: Bound = None, score_max: Bound = None, rating_min: Rating = None,
               rating_max: Rating = None, has_content: HasContent = None, q: Search = None,
               reference: Annotated[str, Opt(help="output (the request's output is expected) or none")] = "output",
               correct: Annotated[list[str] | None, Opt(help="REQUEST_ID=EXPECTED, a corrected expected output "
                                                              "(repeatable).")] = None,
               tag: Annotated[list[str] | None, Opt(help="A tag for every case (repeatable).")] = None,
               category: Annotated[str | None, Opt(help="The failure category (a tag, and in the provenance).")] = None,
               note: Annotated[str, Opt(help="The new version's note.")] = "",
               strict: Annotated[bool, Opt(help="Exit 1 when a selected request was skipped.")] = False) -> None:
    """Add production requests (--request ids, an --incident's, or the filters') to a new version of EVAL_SET.
    Exit 0 done, 1 with --strict when requests were skipped, 2 refused (nothing written)."""
    filters = _filters(locals())
    if reference not in ("output", "none"):
        fail("--reference: output or none")
    corrections: dict[str, str] = {}
    for c in correct or []:
        rid, sep, value = c.partition("=")
        if not sep or not rid or not value.strip():
            fail(f"--correct takes REQUEST_ID=EXPECTED, got {c!r}")
        corrections[rid] = value
    chosen = [n for n, v in (("--request", request), ("--incident", incident), ("filters", filters)) if v]
    if len(chosen) != 1:
        fail("select the requests one way: --request ID (repeatable), --incident N, or filters such as --use-case")
    body: dict[str, Any] = {"eval_set": eval_set, "reference": reference, "corrections": corrections,
                            "tags": tag or [], "failure_category": category, "note": note}
    if request:
        body["request_ids"] = request
    elif incident is not None:
        body["incident"] = incident
    else:
        body["filters"] = filters
    out = call("POST", "/api/v1/requests/to-evalset", json=body)
    label = f"{out['eval_set']}@{out['version']}"
    if out["created"]:
        typer.echo(f"{label}: {len(out['added'])} case(s) added, {len(out['changed'])} changed, from "
                   f"{out['selected']} request(s){' of incident #' + str(out['incident']) if out['incident'] else ''}")
    else:
        typer.echo(f"nothing new: every case was already in {label}")
    skipped = sum(out["skipped"].values())
    if skipped:
        typer.echo("skipped: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(out["skipped"].items())))
    if skipped and strict:
        raise typer.Exit(1)


@policy_app.command("show")
def policy_show(use_case: str) -> None:
    """A use case's capture policy as JSON."""
    typer.echo(json.dumps(call("GET", f"/api/v1/capture-policies/{use_case}"), indent=2))


@policy_app.command("set")
def policy_set(use_case: str,
               capture: Annotated[bool | None, Opt("--capture/--no-capture", help="Store content (redacted).")] = None,
               kinds: Annotated[str | None, Opt(help="Detectors, comma-separated: email,iban,card,phone (none: '').")]
               = None,
               pattern: Annotated[list[str] | None, Opt(help="Operator pattern NAME=REGEX (repeatable; replaces the "
                                                            "stored patterns).")] = None,
               no_patterns: Annotated[bool, Opt("--no-patterns", help="Remove every operator pattern.")] = False,
               max_chars: Annotated[int | None, Opt(help="Cap per content field.")] = None,
               retention_days: Annotated[int | None, Opt(help="Keep content this many days.")] = None,
               no_retention: Annotated[bool, Opt("--no-retention", help="Keep content as long as the events.")]
               = False,
               unit_ids: Annotated[str | None, Opt(help="hashed or raw")] = None) -> None:
    """Change a use case's capture policy (audited): only the options given change, the rest stay as stored."""
    if pattern and no_patterns:
        fail("--pattern and --no-patterns: give one of them")
    if retention_days is not None and no_retention:
        fail("--retention-days and --no-retention: give one of them")
    body: dict[str, Any] = {}
    if capture is not None:
        body["capture"] = capture
    if kinds is not None:
        body["kinds"] = [k.strip() for k in kinds.split(",") if k.strip()]
    if pattern or no_patterns:
        body["patterns"] = []
        for p in pattern or []:
            name, sep, regex = p.partition("=")
            if not sep:
                fail(f"--pattern: NAME=REGEX, got {p!r}")
            body["patterns"].append({"name": name, "pattern": regex})
    if max_chars is not None:
        body["max_chars"] = max_chars
    if retention_days is not None or no_retention:
        body["retention_days"] = retention_days
    if unit_ids is not None:
        body["unit_ids"] = unit_ids
    if not body:
        fail("nothing to change: give --capture/--no-capture, --kinds, --pattern/--no-patterns, --max-chars, "
             "--retention-days/--no-retention or --unit-ids")
    out = call("PATCH", f"/api/v1/capture-policies/{use_case}", json=body)
    patterns = ", ".join(p["name"] for p in out["patterns"]) or "none"
    kept = f"{out['retention_days']} days" if out["retention_days"] else "as long as the events"
    typer.echo(f"{out['use_case']}: content capture {'on' if out['capture'] else 'off'}, unit ids {out['unit_ids']}, "
               f"detectors {','.join(out['kinds']) or 'none'}, {len(out['patterns'])} pattern(s) ({patterns}), "
               f"at most {out['max_chars']} characters a field, content kept {kept}")


@requests_app.command("delete")
def delete(unit: Annotated[str, Opt("--unit", help="The data subject's unit id.")]) -> None:
    """Remove a unit's content and references from requests and feedback; says what was removed."""
    out = call("POST", "/api/v1/requests/unit-deletions", json={"unit": unit})
    if not out["found"]:
        typer.echo(f"unit {unit!r} has no stored requests or feedback: nothing to remove")
        return
    typer.echo(f"unit {unit!r}: {out['requests']} request(s) unlinked, {out['content_deleted']} content record(s) "
               f"deleted, {out['spans_cleaned']} span(s) cleaned, {out['feedback']} feedback(s) unlinked; "
               f"rollups {out['rollups']}")


def register(app: typer.Typer) -> None:
    """Add `requests` to the CLI."""
    app.add_typer(requests_app, name="requests")
