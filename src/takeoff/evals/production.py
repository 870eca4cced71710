"""Eval cases from production: a new version of an eval set made of the latest version's cases plus cases built from
production requests (each with its provenance), and the reads that say which cases of a version came from production.

The only writer here is `add_cases`; like `service.import_version` it makes a new immutable version (never edits one),
copies the earlier cases with one INSERT … SELECT (no case is held in memory), and is audited in the caller's
transaction, so a refusal leaves nothing behind.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, insert, literal, select
from sqlalchemy.orm import Session, aliased

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.errors import Invalid
from takeoff.evals import evalset_io
from takeoff.evals.models import EvalCase, EvalSet, EvalSetVersion
from takeoff.evals.sets import get_set, latest_version, version_label

MAX_CASES = 1000  # one call adds at most this many cases (the requests edge has its own, smaller batch limit)


@dataclass(frozen=True)
class NewCase:
    """A case to add, in the import format's fields, with where it came from."""

    case: dict[str, Any]
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Added:
    """What `add_cases` did: the version (new, or the latest when nothing changed) and the case ids by outcome."""

    version: EvalSetVersion
    created: bool
    added: list[str]
    changed: list[str]
    unchanged: list[str]


def add_cases(session: Session, actor: Actor, name: str, new: list[NewCase], note: str = "") -> Added:
    """A new version of the set: every case of its latest version plus `new` (a case whose id is already there is
    replaced: a corrected expected output). Identical to the latest → no new version. 404 unknown set; 422 naming
    the case when one is malformed or `new` is empty or over MAX_CASES."""
    es = get_set(session, name)
    if not new:
        raise Invalid("no case to add", details=[{"field": "cases", "message": "empty"}])
    if len(new) > MAX_CASES:
        raise Invalid(f"{len(new)} cases: at most {MAX_CASES} a call",
                      details=[{"field": "cases", "message": f"at most {MAX_CASES}"}])
    cases: dict[str, tuple[evalset_io.Case, str, dict[str, Any]]] = {}
    for i, n in enumerate(new):
        try:
            case = evalset_io.check_case(n.case)
        except evalset_io.EvalSetError as exc:
            e = exc.errors[0]
            raise Invalid(f"cases[{i}].{e.field}: {e.message}",
                          details=[{"field": f"cases[{i}].{e.field}", "message": e.message}]) from None
        if case.case_id in cases:
            raise Invalid(f"cases[{i}].id: duplicate case id {case.case_id!r}",
                          details=[{"field": f"cases[{i}].id", "message": "duplicate"}])
        cases[case.case_id] = (case, evalset_io.case_hash(case), dict(n.provenance))
    # Two additions to one set at once: the second waits here and builds on the first's version (PostgreSQL; a
    # SQLite transaction holds the one write lock already).
    session.execute(select(EvalSet.id).where(EvalSet.id == es.id).with_for_update())
    prev = latest_version(session, es)
    old: dict[str, str] = {}
    if prev is not None:
        old = dict(session.execute(select(EvalCase.case_id, EvalCase.case_hash)
                                   .where(EvalCase.version_id == prev.id)).all())
    added = sorted(k for k in cases if k not in old)
    changed = sorted(k for k, (_, h, _) in cases.items() if k in old and old[k] != h)
    unchanged = sorted(k for k, (_, h, _) in cases.items() if old.get(k) == h)
    if prev is not None and not added and not changed:
        return Added(prev, False, [], [], unchanged)
    hasher = evalset_io.ContentHasher()
    for k, h in old.items():
        if k not in cases:
            hasher.add(h)
    for _, h, _ in cases.values():
        hasher.add(h)
    diff = {"against": prev.version if prev else None, "added": added, "removed": [], "changed": changed}
    v = EvalSetVersion(eval_set_id=es.id, version=(prev.version + 1) if prev else 1, content_hash=hasher.hexdigest(),
                       n_cases=hasher.count, diff=diff, note=note, created_by=actor.username)
    session.add(v)
    session.flush()
    start = 0
    if prev is not None:  # the earlier cases, copied in the database (a 100k-case set never passes through Python)
        cols = (EvalCase.position, EvalCase.case_id, EvalCase.case_hash, EvalCase.input, EvalCase.expected,
                EvalCase.tags, EvalCase.meta, EvalCase.provenance)
        src = select(literal(v.id), *cols).where(EvalCase.version_id == prev.id,
                                                  EvalCase.case_id.not_in(list(cases)))
        session.execute(insert(EvalCase).from_select([EvalCase.version_id, *cols], src))
        start = (session.scalar(select(func.max(EvalCase.position)).where(EvalCase.version_id == prev.id)) or 0) + 1
    session.execute(insert(EvalCase), [
        {"version_id": v.id, "position": start + i, "case_id": k, "case_hash": h, "input": c.input,
         "expected": c.expected, "tags": list(c.tags), "meta": c.metadata, "provenance": p}
        for i, (k, (c, h, p)) in enumerate(cases.items())])
    audit.record(session, actor, "evalset.version", "eval_set", f"{name}@{v.version}", None,
                 {"content_hash": v.content_hash, "n_cases": v.n_cases, "added": len(added), "removed": 0,
                  "changed": len(changed), "from_production": len(cases)})
    return Added(v, True, added, changed, unchanged)


def production_cases(session: Session, version_id: int, limit: int = 100) -> tuple[int, int, list[dict[str, Any]]]:
    """How many cases of a version came from production, how many of those from incidents, and the first `limit`
    (file order) with their provenance (request, release, incident) and tags."""
    where = (EvalCase.version_id == version_id, EvalCase.provenance.is_not(None))
    origins = list(session.scalars(select(EvalCase.provenance).where(*where)))
    n, from_incidents = len(origins), sum(1 for p in origins if (p or {}).get("incident"))
    rows = session.scalars(select(EvalCase).where(*where).order_by(EvalCase.position).limit(limit)) if n else []
    return n, from_incidents, [{"case_id": c.case_id, "tags": c.tags, "expected": c.expected,
                                "provenance": c.provenance} for c in rows]


def newer_from_production(session: Session, version: EvalSetVersion) -> dict[str, Any] | None:
    """When the set has a newer version than `version`: its label and how many of its cases came from production and
    are not in `version` (what a next release naming it would be judged on too); None when `version` is the latest."""
    es = session.get(EvalSet, version.eval_set_id)
    latest = latest_version(session, es) if es is not None else None
    if latest is None or latest.version <= version.version:
        return None
    mine = aliased(EvalCase)
    n = session.scalar(select(func.count()).select_from(EvalCase).where(
        EvalCase.version_id == latest.id, EvalCase.provenance.is_not(None),
        ~exists(select(mine.id).where(mine.version_id == version.id, mine.case_id == EvalCase.case_id)))) or 0
    return {"eval_set": version_label(session, latest), "version": latest.version, "from_production": int(n),
            "content_hash": latest.content_hash}
