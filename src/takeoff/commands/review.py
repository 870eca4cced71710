"""`takeoff review ...`: annotation queues (create, show, list), sampling rules, items (add, list), and a
reviewer's claim, skip and review, over the HTTP API. Exit 0 done, 1 nothing left to claim, 2 bad input or refused."""
from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer

from takeoff.commands._http import call, fail

review_app = typer.Typer(help="Human review: annotation queues, sampling rules, items, reviews.", no_args_is_help=True)
queue_app = typer.Typer(help="Annotation queues: create, show, list.", no_args_is_help=True)
rule_app = typer.Typer(help="Sampling rules of a queue: add, remove.", no_args_is_help=True)
review_app.add_typer(queue_app, name="queue")
review_app.add_typer(rule_app, name="rule")
Opt = typer.Option
SCORE = re.compile(r"^([a-z][a-z0-9_]*):(\d+)-(\d+)$")


def _rule(spec: str) -> dict[str, Any]:
    """KIND[:SHARE[:MAX_RATING]] as a rule body."""
    parts = spec.split(":")
    body: dict[str, Any] = {"kind": parts[0]}
    try:
        if len(parts) > 1 and parts[1]:
            body["share"] = float(parts[1])
        if len(parts) > 2 and parts[2]:
            body["max_rating"] = int(parts[2])
    except ValueError:
        fail(f"--rule: KIND[:SHARE[:MAX_RATING]], got {spec!r}")
    if len(parts) > 3:
        fail(f"--rule: KIND[:SHARE[:MAX_RATING]], got {spec!r}")
    return body


def _queue_line(q: dict[str, Any]) -> str:
    p = q["progress"]
    return (f"{q['id']:>4}  {q['use_case']:<20} {q['name']:<20} {p['done']}/{p['items']} done, {p['open']} open, "
            f"{p['reviews']} review(s), {p['skips']} skip(s)")


@queue_app.command("create")
def queue_create(use_case: Annotated[str, Opt("--use-case", "-u")], name: Annotated[str, Opt()],
                 score: Annotated[list[str] | None, Opt(help="NAME:MIN-MAX, e.g. helpful:1-5 (repeatable).")] = None,
                 label: Annotated[list[str] | None, Opt(help="A label reviewers may pick (repeatable).")] = None,
                 free_text: Annotated[bool, Opt("--free-text/--no-free-text")] = True,
                 reviews_per_item: Annotated[int, Opt(help="Reviews each item wants.")] = 1,
                 rule: Annotated[list[str] | None, Opt(help="KIND[:SHARE[:MAX_RATING]]: traffic, fallbacks, errors, "
                                                            "low_rated, canary, violations (repeatable).")] = None,
                 description: Annotated[str, Opt()] = "") -> None:
    """Create a queue with its rubric and sampling rules."""
    scores = []
    for s in score or []:
        m = SCORE.match(s)
        if not m:
            fail(f"--score: NAME:MIN-MAX such as helpful:1-5, got {s!r}")
        scores.append({"name": m[1], "min": int(m[2]), "max": int(m[3])})
    body = {"use_case": use_case, "name": name, "description": description, "reviews_per_item": reviews_per_item,
            "rubric": {"scores": scores, "labels": list(label or []), "free_text": free_text},
            "rules": [_rule(r) for r in rule or []]}
    typer.echo(_queue_line(call("POST", "/api/v1/review/queues", json=body)))


@queue_app.command("list")
def queue_list(use_case: Annotated[str | None, Opt("--use-case", "-u")] = None) -> None:
    """Queues with their progress."""
    out = call("GET", "/api/v1/review/queues", params={"use_case": use_case} if use_case else {})
    for q in out["queues"]:
        typer.echo(_queue_line(q))
    typer.echo(f"{len(out['queues'])} queue(s)")


@queue_app.command("show")
def queue_show(queue_id: int) -> None:
    """A queue as JSON: rubric, rules, progress, agreement per score."""
    typer.echo(json.dumps(call("GET", f"/api/v1/review/queues/{queue_id}"), indent=2))


@rule_app.command("add")
def rule_add(queue_id: int, kind: Annotated[str, Opt()], share: Annotated[float, Opt()] = 1.0,
             max_rating: Annotated[int, Opt()] = 2) -> None:
    """Add a sampling rule to a queue."""
    r = call("POST", f"/api/v1/review/queues/{queue_id}/rules",
             json={"kind": kind, "share": share, "max_rating": max_rating})
    typer.echo(f"rule {r['id']}: {r['kind']} ({r['share']:.0%})")


@rule_app.command("remove")
def rule_remove(queue_id: int, rule_id: int) -> None:
    """Remove a sampling rule."""
    call("DELETE", f"/api/v1/review/queues/{queue_id}/rules/{rule_id}")
    typer.echo(f"rule {rule_id} removed")


@review_app.command("sample")
def sample(queue_id: int, since: Annotated[str | None, Opt(help="ISO time: read requests from then.")] = None) -> None:
    """Run a queue's rules now (the server runs them every 5 minutes)."""
    out = call("POST", f"/api/v1/review/queues/{queue_id}/sample", json={"since": since} if since else {})
    rules = ", ".join(f"{k} {n}" for k, n in out["by_rule"].items()) or "none"
    typer.echo(f"read {out['read']} request(s), added {out['added']} ({rules})"
               f"{'; the queue is full (max open items)' if out['capped'] else ''}")


@review_app.command("add")
def add(queue_id: int, request: Annotated[list[str] | None, Opt("--request", "-r", help="A request id (repeatable).")] = None,
        status: Annotated[str | None, Opt(help="Filter: ok, error, fallback.")] = None,
        release: Annotated[str | None, Opt()] = None, rating_max: Annotated[int | None, Opt()] = None,
        start: Annotated[str | None, Opt()] = None, end: Annotated[str | None, Opt()] = None,
        limit: Annotated[int, Opt(min=1, max=200)] = 50) -> None:
    """Add requests by id, or the newest `limit` matching a filter."""
    filt = {k: v for k, v in {"status": status, "release": release, "rating_max": rating_max, "start": start,
                              "end": end}.items() if v is not None}
    if request and filt:
        fail("give --request ids or filters, not both")
    body: dict[str, Any] = {"request_ids": list(request)} if request else {"filter": filt, "limit": limit}
    out = call("POST", f"/api/v1/review/queues/{queue_id}/items", json=body)
    typer.echo(f"added {out['added']}, already queued {out['already']}"
               + (f", not found: {', '.join(out['not_found'])}" if out["not_found"] else ""))


@review_app.command("items")
def items(queue_id: int, status: Annotated[str | None, Opt(help="open or done")] = None) -> None:
    """Items of a queue."""
    out = call("GET", f"/api/v1/review/queues/{queue_id}/items", params={"status": status} if status else {})
    for i in out["items"]:
        means = ", ".join(f"{k} {v:.2g}" for k, v in i["mean_scores"].items()) or "-"
        typer.echo(f"{i['id']:>6}  {i['request_id']:<36} {i['status']:<5} {i['reviews']}/{i['reviews_wanted']}  {means}")
    typer.echo(f"{len(out['items'])} item(s)")


@review_app.command("claim")
def claim(queue_id: int) -> None:
    """Take the next item of a queue (exit 1 when none is left for you)."""
    item = call("POST", f"/api/v1/review/queues/{queue_id}/claim")["item"]
    if item is None:
        typer.echo("nothing left for you to review in this queue")
        raise typer.Exit(1)
    typer.echo(f"item {item['id']}: request {item['request_id']}, yours until {item['lease_until'][11:16]} UTC")


@review_app.command("skip")
def skip(item_id: int) -> None:
    """Pass on an item."""
    call("POST", f"/api/v1/review/items/{item_id}/skip")
    typer.echo(f"skipped item {item_id}")


@review_app.command("submit")
def submit(item_id: int, score: Annotated[list[str] | None, Opt(help="NAME=VALUE (repeatable).")] = None,
           label: Annotated[list[str] | None, Opt(help="A label (repeatable).")] = None,
           comment: Annotated[str, Opt()] = "", handled: Annotated[bool, Opt(help="The violation is handled.")] = False,
           incident: Annotated[int | None, Opt(help="The incident it was escalated to.")] = None) -> None:
    """Review an item on its queue's rubric."""
    scores: dict[str, float] = {}
    for s in score or []:
        name, sep, value = s.partition("=")
        try:
            scores[name] = float(value)
        except ValueError:
            fail(f"--score: NAME=VALUE, got {s!r}")
        if not sep:
            fail(f"--score: NAME=VALUE, got {s!r}")
    out = call("POST", f"/api/v1/review/items/{item_id}/reviews",
               json={"scores": scores, "labels": list(label or []), "comment": comment, "violation_handled": handled,
                     "incident_id": incident})
    it = out["item"]
    typer.echo(f"review {out['id']} on item {item_id}: {it['reviews']}/{it['reviews_wanted']} review(s), {it['status']}"
               + (f"; {out['violations_resolved']} violation(s) resolved" if out["violations_resolved"] else ""))


def register(app: typer.Typer) -> None:
    """Add `review` to the CLI."""
    app.add_typer(review_app, name="review")
