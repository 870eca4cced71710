"""`takeoff evalset`: import JSONL/CSV as a new immutable version (streamed), list, show, diff."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from takeoff.commands._http import call, fail

evalset_app = typer.Typer(help="Eval sets: versioned, immutable, content-hashed cases.", no_args_is_help=True)


@evalset_app.command("import")
def import_(name: Annotated[str, typer.Argument(help="Eval set name (created on first import).")],
            file: Annotated[Path, typer.Argument(help="JSONL or CSV file.")],
            format: Annotated[str | None, typer.Option("--format", help="jsonl or csv (default: from suffix).")] = None,
            use_case: Annotated[str | None, typer.Option("--use-case")] = None,
            note: Annotated[str, typer.Option("--note")] = "",
            expect_sha256: Annotated[str | None, typer.Option(
                "--expect-sha256", help="Refuse (exit 2, nothing uploaded) unless the file's content hash is this "
                                        "one, e.g. a release export's eval_set.content_hash.")] = None) -> None:
    """Upload a file as the set's next version; identical content returns the existing version."""
    fmt = format or ("csv" if file.suffix.lower() == ".csv" else "jsonl")
    if not file.is_file():
        fail(f"{file} does not exist")
    if expect_sha256:
        from takeoff.evals import evalset_io

        try:
            report = evalset_io.validate_file(file, fmt, keep_case_hashes=False)  # type: ignore[arg-type]
        except ValueError as exc:
            fail(str(exc))
        if report.ok and report.content_hash != expect_sha256.lower():
            fail(f"{file} has content sha256 {str(report.content_hash)[:12]}, not the expected "
                 f"{expect_sha256.lower()[:12]}; nothing imported")
    params = {"format": fmt, "create": "true", "note": note}
    if use_case:
        params["use_case"] = use_case
    with file.open("rb") as fh:  # streamed: httpx sends the file in chunks
        v = call("POST", f"/api/v1/evalsets/{name}/versions", params=params, content=fh,
                 headers={"Content-Type": "application/x-ndjson" if fmt == "jsonl" else "text/csv"})
    d = v.get("diff") or {}
    state = "new version" if v.get("created") else "unchanged, existing version"
    typer.echo(f"{name}@{v['version']} {state}: {v['n_cases']} cases, sha256 {v['content_hash']}, "
               f"+{d.get('added', {}).get('count', 0)} -{d.get('removed', {}).get('count', 0)} "
               f"~{d.get('changed', {}).get('count', 0)}")


@evalset_app.command("list")
def list_sets() -> None:
    """Eval sets with their latest version."""
    for s in call("GET", "/api/v1/evalsets")["items"]:
        latest = s.get("latest") or {}
        typer.echo(f"{s['name']:30} v{latest.get('version', '-')} {latest.get('n_cases', 0)} cases "
                   f"use_case={s.get('use_case') or '-'}")


@evalset_app.command("show")
def show(name: str) -> None:
    """An eval set's versions as JSON."""
    typer.echo(json.dumps(call("GET", f"/api/v1/evalsets/{name}"), indent=2))


@evalset_app.command("diff")
def diff(name: str, a: int, b: int) -> None:
    """Cases added, removed and changed from version A to version B."""
    d = call("GET", f"/api/v1/evalsets/{name}/diff", params={"from": a, "to": b})
    for kind, sign in (("added", "+"), ("removed", "-"), ("changed", "~")):
        for case_id in d[kind]:
            typer.echo(f"{sign} {case_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(evalset_app, name="evalset")


def download(name: str, version: int, out: Path) -> str:
    """Stream a version's cases to a JSONL file; returns the version's content hash."""
    from takeoff.commands._http import client

    with client(timeout=600) as c, c.stream("GET", f"/api/v1/evalsets/{name}/versions/{version}/cases.jsonl") as r:
        if r.status_code >= 400:
            r.read()
            try:
                fail(r.json()["error"]["message"])
            except (ValueError, KeyError):
                fail(f"HTTP {r.status_code}")
        tmp = out.with_name(out.name + ".part")
        with tmp.open("wb") as fh:
            for chunk in r.iter_bytes():
                fh.write(chunk)
        tmp.replace(out)  # a cut download never leaves a truncated file under the real name
        return r.headers.get("x-content-hash", "")


@evalset_app.command("export")
def export(name: str, version: int,
           out: Annotated[Path, typer.Option("-o", "--out", help="JSONL file to write.")]) -> None:
    """Write a version's cases as JSONL (re-importing the file reproduces its content hash)."""
    digest = download(name, version, out)
    typer.echo(f"{name}@{version} -> {out} (sha256 {digest[:12]})")
