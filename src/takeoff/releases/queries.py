"""Release lookups: by id, per use case, what serves traffic now (production, canary, active config), the eval
set version a bundle names, and the latest gate of a release. Reads only."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.core.db import one_of
from takeoff.core.errors import Invalid, NotFound
from takeoff.core.events import BUDGET_FALLBACK, provided
from takeoff.evals import runs as eval_runs
from takeoff.evals import sets as eval_sets
from takeoff.evals.models import EvalSetVersion
from takeoff.portfolio import service as portfolio
from takeoff.releases.models import Release
from takeoff.releases.schemas import EvalSetRef

# --- lookups ------------------------------------------------------------------------------------------------


def parse_release_id(release_id: str) -> tuple[str, int]:
    """'use-case:3' → ('use-case', 3); 422 for anything else."""
    if not isinstance(release_id, str):
        raise Invalid("a release id is 'USE_CASE:VERSION', e.g. support-reply:3")
    key, sep, ver = release_id.rpartition(":")
    if not sep or not key or not ver.isdigit() or int(ver) < 1:
        raise Invalid(f"'{release_id}' is not a release id; use 'USE_CASE:VERSION', e.g. support-reply:3")
    return key, int(ver)


def get(session: Session, release_id: str) -> Release:
    """The release 'UC:VERSION', or 404."""
    key, version = parse_release_id(release_id)
    rel = session.scalar(select(Release).where(Release.use_case_key == key, Release.version == version))
    if rel is None:
        raise NotFound(f"release '{release_id}' not found")
    return rel


def list_releases(session: Session, use_case_key: str | None = None, status: str | None = None,
                  limit: int = 200) -> list[Release]:
    """Releases newest first, filtered by use case and status."""
    q = select(Release).order_by(Release.created_at.desc(), Release.id.desc()).limit(limit)
    if use_case_key:
        q = q.where(Release.use_case_key == use_case_key)
    if status:
        q = q.where(Release.status == status)
    return list(session.scalars(q))


def current_release(session: Session, use_case_key: str) -> Release | None:
    """The release serving production for the use case, or None."""
    return session.scalars(select(Release).where(Release.use_case_key == use_case_key,
                                                 Release.status == "production")
                           .order_by(Release.production_at.desc(), Release.id.desc()).limit(1)).first()


def current_releases(session: Session, keys: Sequence[str]) -> dict[str, Release]:
    """`current_release` of each use case in `keys`, in one query (a use case with none is left out)."""
    out: dict[str, Release] = {}
    if keys:
        for rel in session.scalars(select(Release).where(one_of(session, Release.use_case_key, sorted(set(keys))),
                                                         Release.status == "production")
                                   .order_by(Release.production_at.desc(), Release.id.desc())):
            out.setdefault(rel.use_case_key, rel)
    return out


def releases_in(session: Session, keys: Sequence[str], status: str) -> dict[str, list[Release]]:
    """The releases of each use case in `keys` in one status, newest first (as `list_releases`), in one query."""
    out: dict[str, list[Release]] = {k: [] for k in keys}
    if keys:
        for rel in session.scalars(select(Release).where(one_of(session, Release.use_case_key, sorted(set(keys))),
                                                         Release.status == status)
                                   .order_by(Release.created_at.desc(), Release.id.desc())):
            out[rel.use_case_key].append(rel)
    return out


def canary_release(session: Session, use_case_key: str) -> Release | None:
    return session.scalars(select(Release).where(Release.use_case_key == use_case_key, Release.status == "canary")
                           .order_by(Release.id.desc()).limit(1)).first()


def releases_in_canary(session: Session) -> list[tuple[str, str, str | None]]:
    """(use_case_key, canary release id, production release id or None) for every running canary."""
    out = []
    for rel in session.scalars(select(Release).where(Release.status == "canary").order_by(Release.id)):
        prod = current_release(session, rel.use_case_key)
        out.append((rel.use_case_key, rel.release_id, prod.release_id if prod else None))
    return out


def previous(session: Session, rel: Release) -> Release | None:
    """The release of the same use case just before this one."""
    return session.scalars(select(Release).where(Release.use_case_key == rel.use_case_key,
                                                 Release.version < rel.version)
                           .order_by(Release.version.desc()).limit(1)).first()


def _entry(rel: Release, weight: int) -> dict[str, Any]:
    b = rel.bundle
    prompts = b.get("prompts") or {}
    prompt = prompts.get("system") if "system" in prompts else next(iter(prompts.values()), None)
    provider, _, model = str(b.get("model", "")).partition("/")
    return {"release_id": rel.release_id, "version": rel.version, "weight": weight, "model": model,
            "provider": provider, "prompt": prompt, "prompts": prompts, "parameters": b.get("parameters") or {},
            "fallback_model": b.get("fallback_model"), "status": rel.status, "safety": b.get("safety")}


def active_config(session: Session, use_case_key: str) -> dict[str, Any]:
    """Which release serves which share of traffic (weights in percent), with model, prompt and parameters."""
    portfolio.get(session, use_case_key)
    prod = current_release(session, use_case_key)
    canary = canary_release(session, use_case_key)
    items: list[dict[str, Any]] = []
    if prod is not None and canary is not None:
        w = canary.canary_weight or 0
        items = [_entry(prod, 100 - w), _entry(canary, w)]
    elif prod is not None:
        items = [_entry(prod, 100)]
    elif canary is not None:  # a first release in canary has nothing to share traffic with
        items = [_entry(canary, 100)]
    spent = provided(BUDGET_FALLBACK)  # monitoring's enforced budgets; without monitoring, none
    fallback = spent(session, use_case_key) if spent is not None else {}
    for item in items:  # an enforced budget that is spent: SDKs serve the fallback until its window resets
        until = fallback.get(item["release_id"]) or fallback.get(None)
        item["use_fallback"] = until is not None
        item["fallback_until"] = until
    return {"use_case": use_case_key, "releases": items}


def resolve_eval_set(session: Session, ref: EvalSetRef) -> EvalSetVersion:
    """The version a create request names: by content hash, by this server's label, or the latest; else 422."""
    def bad(msg: str) -> Invalid:
        return Invalid(msg, details=[{"field": "eval_set", "message": msg}])

    try:
        if ref.content_hash is None:
            return eval_sets.get_version(session, ref.name, ref.version)
        eval_sets.get_set(session, ref.name)
    except NotFound as exc:
        raise bad(exc.message) from None
    v = eval_sets.version_by_content(session, ref.name, ref.content_hash)
    if v is None:
        raise bad(f"eval set '{ref.name}' has no version with content sha256 {ref.content_hash[:12]}; import its "
                  f"cases first (takeoff evalset import {ref.name} FILE)")
    if ref.version is not None and ref.version != v.version:
        try:
            labelled = eval_sets.get_version(session, ref.name, ref.version)
        except NotFound:
            labelled = None
        if labelled is None or labelled.content_hash != ref.content_hash:
            raise bad(f"eval set '{ref.name}' version {ref.version} does not have content sha256 "
                      f"{ref.content_hash[:12]} (that content is version {v.version} here); give one of them")
        v = labelled
    return v


def bundle_eval_version(session: Session, bundle: dict[str, Any]) -> EvalSetVersion | None:
    """The version of this server that holds the content a bundle is judged on (None when it was never imported)."""
    es = bundle.get("eval_set") or {}
    name, digest = es.get("name"), es.get("content_hash")
    if not name or not digest:
        return None
    return eval_sets.version_by_content(session, str(name), str(digest))


def gate_on_bundle_set(session: Session, rel: Release, version_id: int | None) -> bool:
    """Whether a run's eval set version has the content the bundle names (same set, same content hash)."""
    es = rel.bundle.get("eval_set") or {}
    return eval_sets.version_holds(session, version_id, es.get("name"), es.get("content_hash"))


def gate(session: Session, rel: Release) -> dict[str, Any] | None:
    """The latest gate of the release with whether it was judged on the eval set version the bundle names."""
    return gates(session, [rel]).get(rel.release_id)


def gates(session: Session, rels: Sequence[Release]) -> dict[str, dict[str, Any]]:
    """`gate` of each release, by release id, in two queries whatever their number (no finished run: left out)."""
    found = eval_runs.latest_gates(session, [r.release_id for r in rels])
    held = eval_sets.versions_named(session, [g["version_id"] for g in found.values()
                                              if g.get("version_id") is not None])
    for rel in rels:
        g = found.get(rel.release_id)
        if g is not None:
            es = rel.bundle.get("eval_set") or {}
            g["on_bundle_eval_set"] = held.get(g.get("version_id")) == (es.get("name"), es.get("content_hash"))
    return found
