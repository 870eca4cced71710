"""`takeoff release`: create, list, show, export, diff, approve, reject, attest, promote, rollback."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from takeoff.commands._http import call, fail
from takeoff.commands.catalog import load_doc

release_app = typer.Typer(help="Release bundles: lifecycle, approvals, canary, rollback.", no_args_is_help=True)


def _kv(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            fail(f"--param takes KEY=VALUE, got {p!r}")
        try:
            out[k] = yaml.safe_load(v)
        except yaml.YAMLError:
            out[k] = v
    return out


def eval_set_ref(text: str) -> dict[str, Any]:
    """NAME, NAME@VERSION or NAME@SHA256 (64 hex digits, the version's content hash) as the API's eval_set."""
    name, _, at = text.partition("@")
    if not name:
        fail("--eval-set takes NAME, NAME@VERSION or NAME@SHA256")
    if not at:
        return {"name": name}
    if at.isdigit():
        return {"name": name, "version": int(at)}
    if len(at) == 64 and all(c in "0123456789abcdef" for c in at.lower()):
        return {"name": name, "content_hash": at.lower()}
    fail("--eval-set takes NAME, NAME@VERSION or NAME@SHA256 (the 64-digit content hash)")


def _proposed_eval_set(use_case: str) -> dict[str, Any]:
    """No --eval-set: the eval set of the use case's latest release, at its latest version (production cases added
    since are in it), said on stderr; exit 2 when the use case has no release to take it from."""
    items = call("GET", "/api/v1/releases", params={"use_case": use_case})["items"]
    named = next((r["eval_set"] for r in items if (r.get("eval_set") or {}).get("name")), None)
    if named is None:
        fail(f"--eval-set is required: {use_case} has no earlier release to take its eval set from")
    latest = call("GET", f"/api/v1/evalsets/{named['name']}")["versions"]
    newest = latest[0] if latest else {}
    extra = newest.get("from_production") or 0
    typer.echo(f"eval set: {named['name']} at its latest version v{newest.get('version')} (the previous release used "
               f"v{named.get('version')}; {extra} case(s) from production in v{newest.get('version')})", err=True)
    return {"name": named["name"]}


@release_app.command("create")
def create(file: Annotated[Path | None, typer.Option("-f", "--file", help="YAML/JSON bundle.")] = None,
           use_case: Annotated[str | None, typer.Option("--use-case")] = None,
           model: Annotated[str | None, typer.Option("--model", help="catalog provider/model")] = None,
           eval_set: Annotated[str | None, typer.Option("--eval-set", help="NAME, NAME@VERSION (this server's label) "
                                                                     "or NAME@SHA256 (the content hash)")] = None,
           prompt: Annotated[Path | None, typer.Option("--prompt", help="File with the system prompt.")] = None,
           param: Annotated[list[str] | None, typer.Option("--param", help="KEY=VALUE model parameter.")] = None,
           code_ref: Annotated[str | None, typer.Option("--code-ref", help="git sha")] = None,
           spec: Annotated[Path | None, typer.Option("--eval-spec", help="YAML/JSON {target, scorers, ...}")] = None,
           ) -> None:
    """Create the next release of a use case; prints its id (UC:VERSION) on the last line. Without --eval-set, the
    eval set of the use case's latest release at its newest version (cases added from production included)."""
    body: dict[str, Any] = load_doc(file) if file else {}
    if use_case:
        body["use_case"] = use_case
    if model:
        body["model"] = model
    if eval_set:
        body["eval_set"] = eval_set_ref(eval_set)
    if prompt:
        try:
            body.setdefault("prompts", {})["system"] = prompt.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read {prompt}: {exc.strerror}")
    if param:
        body["parameters"] = {**body.get("parameters", {}), **_kv(param)}
    if code_ref:
        body["code_ref"] = code_ref
    if spec:
        body["eval"] = load_doc(spec)
    if "eval_set" not in body and body.get("use_case"):
        body["eval_set"] = _proposed_eval_set(str(body["use_case"]))
    rel = call("POST", "/api/v1/releases", json=body)
    es = rel.get("eval_set") or {}
    typer.echo(f"created {rel['id']} ({rel['status']}), sha256 {rel['content_hash'][:12]}, eval set "
               f"{es.get('name')}@{es.get('version')}")
    typer.echo(rel["id"])


@release_app.command("list")
def list_releases(use_case: Annotated[str | None, typer.Option("--use-case")] = None) -> None:
    """Releases newest first."""
    params = {"use_case": use_case} if use_case else {}
    for r in call("GET", "/api/v1/releases", params=params)["items"]:
        typer.echo(f"{r['id']:30} {r['status']:18} {r['model'] or '-':30} {r['content_hash'][:12]}")


@release_app.command("show")
def show(release_id: str) -> None:
    """A release with gate, checklist, approvals and transitions as JSON."""
    typer.echo(json.dumps(call("GET", f"/api/v1/releases/{release_id}"), indent=2, default=str))


@release_app.command("export")
def export(release_id: str,
           format: Annotated[str, typer.Option("--format", help="yaml or json")] = "yaml",
           cases_out: Annotated[Path | None, typer.Option("--cases-out", help="Also write the eval set version's "
                                                                         "cases to this JSONL file.")] = None) -> None:
    """Print the whole bundle, enough to rebuild the release (`release create -f` takes create_request);
    with --cases-out, the eval cases it was judged on too (import them with `takeoff evalset import`)."""
    if format not in ("yaml", "json"):
        fail("--format must be yaml or json")
    doc = call("GET", f"/api/v1/releases/{release_id}/export")
    if cases_out is not None:
        es = doc.get("eval_set") or {}
        if not es.get("name") or not es.get("version"):
            fail(f"release {release_id}'s eval set content (sha256 {str(es.get('content_hash'))[:12]}) is not on "
                 "this server")
        from takeoff.commands.evalset import download

        digest = download(es["name"], int(es["version"]), cases_out)
        if digest != es.get("content_hash"):
            cases_out.unlink(missing_ok=True)
            fail(f"the cases downloaded hash to {digest[:12]}, not the bundle's {str(es.get('content_hash'))[:12]}")
        typer.echo(f"# eval set {es['name']}@{es['version']} cases -> {cases_out} (sha256 {digest[:12]}); "
                   f"import them with: takeoff evalset import {es['name']} {cases_out}", err=True)
    typer.echo(json.dumps(doc, indent=2) if format == "json" else yaml.safe_dump(doc, sort_keys=False))


@release_app.command("diff")
def diff(a: str, b: str) -> None:
    """Readable diff from release A to release B."""
    d = call("GET", f"/api/v1/releases/{a}/diff/{b}")
    if not d["changes"]:
        typer.echo("no differences")
    for c in d["changes"]:
        typer.echo(f"{c['change']:8} {c['path']}: {json.dumps(c['old'])} -> {json.dumps(c['new'])}")


@release_app.command("approve")
def approve(release_id: str, comment: Annotated[str, typer.Option("--comment")] = "",
            role: Annotated[str | None, typer.Option("--role")] = None) -> None:
    """Approve as one of the tier's approver roles."""
    r = call("POST", f"/api/v1/releases/{release_id}/approve", json={"comment": comment, "role": role})
    typer.echo(f"{release_id} is {r['status']}")


@release_app.command("reject")
def reject(release_id: str, comment: Annotated[str, typer.Option("--comment", help="Why (required).")],
           role: Annotated[str | None, typer.Option("--role")] = None) -> None:
    """Reject with a comment."""
    r = call("POST", f"/api/v1/releases/{release_id}/reject", json={"comment": comment, "role": role})
    typer.echo(f"{release_id} is {r['status']}")


@release_app.command("attest")
def attest(release_id: str, item: Annotated[str, typer.Argument(help="Checklist item id, e.g. CL-MONITOR")],
           statement: Annotated[str, typer.Option("--statement")]) -> None:
    """Attest a checklist item the system has no evidence for, under your name."""
    cl = call("POST", f"/api/v1/releases/{release_id}/attest", json={"item_id": item, "statement": statement})
    typer.echo(f"attested {item}; still missing: {', '.join(cl['missing']) or 'nothing'}")


@release_app.command("promote")
def promote(release_id: str,
            canary: Annotated[int | None, typer.Option("--canary", min=1, max=99, help="Canary share in %.")] = None,
            production: Annotated[bool, typer.Option("--production")] = False) -> None:
    """Promote to canary (--canary N) or production (--production)."""
    if (canary is None) == (not production):
        fail("give exactly one of --canary N or --production")
    body = {"to": "canary", "weight": canary} if canary is not None else {"to": "production"}
    r = call("POST", f"/api/v1/releases/{release_id}/promote", json=body)
    shares = ", ".join(f"{x['release_id']} {x['weight']}%" for x in r["active"]["releases"])
    typer.echo(f"{release_id} is {r['status']}; serving: {shares}")


@release_app.command("rollback")
def rollback(use_case: str, reason: Annotated[str, typer.Option("--reason")] = "manual rollback") -> None:
    """Return the use case to its previous production release (or end its canary) in one command."""
    r = call("POST", f"/api/v1/usecases/{use_case}/rollback", json={"reason": reason})
    typer.echo(f"{use_case} now serves {r['serving']['id']}")


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
