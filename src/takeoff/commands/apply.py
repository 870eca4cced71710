"""`takeoff apply -f FILE|DIR [--dry-run]` and `takeoff export [-o FILE]`: GitOps for the portfolio and governance."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from takeoff.commands._http import call, fail


def _lines(node: yaml.Node, prefix: str = "", out: dict[str, int] | None = None) -> dict[str, int]:
    """Field path → 1-based line for every key of a document (lists by index), so errors can point at a line."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            path = f"{prefix}.{k.value}" if prefix else str(k.value)
            out[path] = k.start_mark.line + 1
            _lines(v, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            path = f"{prefix}.{i}"
            out[path] = v.start_mark.line + 1
            _lines(v, path, out)
    return out


def read_documents(paths: list[Path]) -> list[dict[str, Any]]:
    """Every YAML document of the files (a directory: its *.yaml / *.yml, sorted), with file and line."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml") and x.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            fail(f"{p}: no such file or directory")
    if not files:
        fail("no YAML files found")
    docs: list[dict[str, Any]] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
            nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
            datas = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            fail(f"{f}{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{f}: cannot read ({exc.__class__.__name__})")
        for node, data in zip(nodes, datas):
            if data is None:
                continue
            docs.append({"file": str(f), "line": node.start_mark.line + 1, "lines": _lines(node),
                         "doc": json.loads(json.dumps(data, default=str))})
    if not docs:
        fail("the files hold no documents")
    return docs


def _fmt(v: Any) -> str:
    return json.dumps(v, default=str, ensure_ascii=False) if not isinstance(v, str) else v


def print_changes(result: dict[str, Any]) -> None:
    """A diff per changed document, then the summary."""
    for c in result["changes"]:
        if c["action"] == "unchanged":
            continue
        sign = "+" if c["action"] == "created" else "~"
        typer.echo(f"{sign} {c['kind']} {c['name']} ({c['action']})")
        for field, (before, after) in c.get("diff", {}).items():
            if before is not None:
                typer.echo(f"    - {field}: {_fmt(before)}")
            typer.echo(f"    + {field}: {_fmt(after)}")
    typer.echo(result["summary"] + (" (dry run, nothing applied)" if result["dry_run"] and result["summary"] != "no changes" else ""))


def register(app: typer.Typer) -> None:
    """Add `apply` and `export` to the CLI."""

    @app.command("apply")
    def apply(files: Annotated[list[Path], typer.Option("-f", "--file", help="YAML file or directory (repeatable).")],
              dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff, apply nothing.")] = False) -> None:
        """Create or update use cases, RACI, tier policies, scores and organization settings from YAML."""
        docs = read_documents(files)
        result = call("POST", "/api/v1/apply", params={"dry_run": str(dry_run).lower()}, json={"documents": docs})
        print_changes(result)

    @app.command("export")
    def export(output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here (default stdout).")] = None) -> None:
        """Write every use case, RACI, tier policy, score and organization setting as YAML documents."""
        docs = call("GET", "/api/v1/export")["documents"]
        text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {len(docs)} documents to {output}")
