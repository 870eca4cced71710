"""Eval sets and their immutable versions: streamed, all-or-nothing imports, diffs between versions, case pages and
downloads. The only writer of eval_sets, eval_set_versions and eval_cases."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.db import read_session
from takeoff.core.errors import Conflict, Invalid, NotFound
from takeoff.evals import evalset_io
from takeoff.evals.models import EvalCase, EvalSet, EvalSetVersion
from takeoff.evals.schemas import NAME_PATTERN
from takeoff.portfolio import service as portfolio

INSERT_BATCH = 1000


def get_set(session: Session, name: str) -> EvalSet:
    """The eval set of this name, or 404."""
    found = session.scalar(select(EvalSet).where(EvalSet.name == name))
    if found is None:
        raise NotFound(f"eval set '{name}' not found")
    return found


def list_sets(session: Session) -> list[tuple[EvalSet, EvalSetVersion | None]]:
    """Every eval set with its latest version."""
    out = []
    for s in session.scalars(select(EvalSet).order_by(EvalSet.name)):
        out.append((s, latest_version(session, s)))
    return out


def create_set(session: Session, actor: Actor, name: str, use_case: str | None = None,
               description: str = "") -> EvalSet:
    """Create an eval set; 409 if the name is taken, 404 for an unknown use case."""
    if session.scalar(select(EvalSet.id).where(EvalSet.name == name)) is not None:
        raise Conflict(f"eval set '{name}' already exists")
    if use_case:
        portfolio.get(session, use_case)
    es = EvalSet(name=name, use_case_key=use_case, description=description, created_by=actor.username)
    session.add(es)
    session.flush()
    audit.record(session, actor, "evalset.create", "eval_set", name, None,
                 {"name": name, "use_case": use_case, "description": description})
    return es


def ensure_set(session: Session, actor: Actor, name: str, use_case: str | None = None) -> EvalSet:
    """The eval set of this name, created when missing (CI imports create sets on first use)."""
    found = session.scalar(select(EvalSet).where(EvalSet.name == name))
    if found is not None:
        return found
    if not re.match(NAME_PATTERN, name or ""):
        raise Invalid(f"eval set name '{name}' must be lowercase letters, digits, '-', '_' or '.'",
                      details=[{"field": "name", "message": "bad name"}])
    return create_set(session, actor, name, use_case)


def latest_version(session: Session, es: EvalSet) -> EvalSetVersion | None:
    """The newest version of a set, or None before the first import."""
    return session.scalars(select(EvalSetVersion).where(EvalSetVersion.eval_set_id == es.id)
                           .order_by(EvalSetVersion.version.desc()).limit(1)).first()


def versions(session: Session, es: EvalSet) -> list[EvalSetVersion]:
    """Every version of a set, newest first."""
    return list(session.scalars(select(EvalSetVersion).where(EvalSetVersion.eval_set_id == es.id)
                                .order_by(EvalSetVersion.version.desc())))


def get_version(session: Session, name: str, version: int | None = None) -> EvalSetVersion:
    """A version of a set (the latest when version is None), or 404."""
    es = get_set(session, name)
    if version is None:
        v = latest_version(session, es)
        if v is None:
            raise NotFound(f"eval set '{name}' has no version yet; import cases first")
        return v
    v = session.scalar(select(EvalSetVersion).where(EvalSetVersion.eval_set_id == es.id,
                                                    EvalSetVersion.version == version))
    if v is None:
        raise NotFound(f"eval set '{name}' has no version {version}")
    return v


def version_label(session: Session, v: EvalSetVersion) -> str:
    """'name@version' for messages and bundles."""
    es = session.get(EvalSet, v.eval_set_id)
    return f"{es.name if es else '?'}@{v.version}"


def _case_hashes(session: Session, version_id: int) -> dict[str, str]:
    return dict(session.execute(select(EvalCase.case_id, EvalCase.case_hash)
                                .where(EvalCase.version_id == version_id)).all())


def import_version(session: Session, actor: Actor, name: str, path: str | Path, fmt: str = "jsonl",
                   note: str = "") -> tuple[EvalSetVersion, bool]:
    """Validate the whole file, then insert it in batches as a new version; (version, created).

    All or nothing: any malformed line → 422 listing the lines, nothing written. Content identical to the
    latest version → that version is returned (created False), so re-running CI does not pile up versions.
    """
    es = get_set(session, name)
    try:
        report = evalset_io.validate_file(path, fmt)  # type: ignore[arg-type]
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if not report.ok:
        errs = report.errors
        first = str(errs[0])
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise Invalid(f"eval set file is malformed, nothing imported: {first}{more}",
                      details=[{"field": f"line {e.line}", "line": e.line, "message": f"{e.field}: {e.message}"}
                               for e in errs[:100]])
    prev = latest_version(session, es)
    if prev is not None and prev.content_hash == report.content_hash:
        return prev, False
    old = _case_hashes(session, prev.id) if prev is not None else {}
    d = evalset_io.diff_versions(old, report.case_hashes or {})
    diff = {"against": prev.version if prev else None, "added": d.added, "removed": d.removed, "changed": d.changed}
    v = EvalSetVersion(eval_set_id=es.id, version=(prev.version + 1) if prev else 1,
                       content_hash=report.content_hash or "", n_cases=report.n_cases, diff=diff, note=note,
                       created_by=actor.username)
    session.add(v)
    session.flush()
    batch: list[dict[str, Any]] = []
    hashes = report.case_hashes or {}
    # A case from production keeps its provenance through a download, edit and re-import: same id, same input.
    origin = {cid: (inp, prov) for cid, inp, prov in session.execute(
        select(EvalCase.case_id, EvalCase.input, EvalCase.provenance).where(
            EvalCase.version_id == prev.id, EvalCase.provenance.is_not(None)))} if prev is not None else {}
    for pos, case in enumerate(evalset_io.iter_cases(path, fmt)):  # type: ignore[arg-type]
        inp, prov = origin.get(case.case_id, (None, None))
        batch.append({"version_id": v.id, "position": pos, "case_id": case.case_id,
                      "case_hash": hashes.get(case.case_id) or evalset_io.case_hash(case), "input": case.input,
                      "expected": case.expected, "tags": list(case.tags), "meta": case.metadata,
                      "provenance": prov if prov is not None and inp == case.input else None})
        if len(batch) >= INSERT_BATCH:
            session.execute(insert(EvalCase), batch)
            batch = []
    if batch:
        session.execute(insert(EvalCase), batch)
    audit.record(session, actor, "evalset.version", "eval_set", f"{name}@{v.version}", None,
                 {"content_hash": v.content_hash, "n_cases": v.n_cases, "added": len(d.added),
                  "removed": len(d.removed), "changed": len(d.changed)})
    return v, True


def version_view(session: Session, v: EvalSetVersion, with_diff: bool = True) -> dict[str, Any]:
    """JSON form of a version (diff lists capped at 200 ids each, with full counts)."""
    out: dict[str, Any] = {"eval_set": version_label(session, v).split("@")[0], "version": v.version,
                           "content_hash": v.content_hash, "n_cases": v.n_cases, "note": v.note,
                           "created_by": v.created_by, "created_at": v.created_at.isoformat(),
                           "from_production": int(session.scalar(select(func.count()).select_from(EvalCase).where(
                               EvalCase.version_id == v.id, EvalCase.provenance.is_not(None))) or 0)}
    if with_diff:
        d = v.diff or {}
        out["diff"] = {"against": d.get("against"),
                       **{k: {"count": len(d.get(k, [])), "case_ids": d.get(k, [])[:200]}
                          for k in ("added", "removed", "changed")}}
    return out


def diff_between(session: Session, name: str, a: int, b: int) -> dict[str, Any]:
    """Cases added, removed and changed from version a to version b of one set."""
    va, vb = get_version(session, name, a), get_version(session, name, b)
    d = evalset_io.diff_versions(_case_hashes(session, va.id), _case_hashes(session, vb.id))
    return {"eval_set": name, "from": a, "to": b, "added": d.added, "removed": d.removed, "changed": d.changed}


def cases_page(session: Session, v: EvalSetVersion, offset: int = 0, limit: int = 50) -> list[EvalCase]:
    """A page of a version's cases in file order."""
    return list(session.scalars(select(EvalCase).where(EvalCase.version_id == v.id).order_by(EvalCase.position)
                                .offset(offset).limit(limit)))


def iter_cases_jsonl(engine: Engine, version_id: int, chunk: int = 1000) -> Iterator[bytes]:
    """A version's cases as JSONL in file order, in the import format (re-importing it gives the same content
    hash), read in keyset-paginated chunks with a short session each so a 100k-case download holds no lock."""
    last = -1
    while True:
        with read_session(engine) as s:
            rows = list(s.scalars(select(EvalCase).where(EvalCase.version_id == version_id, EvalCase.position > last)
                                  .order_by(EvalCase.position).limit(chunk)))
        if not rows:
            return
        last = rows[-1].position
        yield "".join(json.dumps({"id": c.case_id, "input": c.input, "expected": c.expected, "tags": c.tags,
                                  "metadata": c.meta}, ensure_ascii=False) + "\n" for c in rows).encode()


def version_by_content(session: Session, name: str, content_hash: str) -> EvalSetVersion | None:
    """The latest version of the named set with this content (a set may return to earlier content), or None."""
    return session.scalars(select(EvalSetVersion).join(EvalSet, EvalSet.id == EvalSetVersion.eval_set_id)
                           .where(EvalSet.name == name, EvalSetVersion.content_hash == content_hash)
                           .order_by(EvalSetVersion.version.desc()).limit(1)).first()


def version_holds(session: Session, version_id: int | None, name: str | None, content_hash: str | None) -> bool:
    """Whether the version of this id belongs to the named set and has this content."""
    if version_id is None:
        return False
    return versions_named(session, [version_id]).get(version_id) == (name, content_hash)


def versions_named(session: Session, version_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(set name, content hash) of each eval set version, by id, in one query (an unknown id is left out)."""
    if not version_ids:
        return {}
    rows = session.execute(select(EvalSetVersion.id, EvalSet.name, EvalSetVersion.content_hash)
                           .join(EvalSet, EvalSet.id == EvalSetVersion.eval_set_id)
                           .where(EvalSetVersion.id.in_(sorted(set(version_ids)))))
    return {vid: (name, content_hash) for vid, name, content_hash in rows}
