"""The control library and compliance frameworks (built in and loaded by an admin as YAML): which controls apply to
a use case and how much of each framework they cover. The only writer of framework_records."""
from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.errors import Conflict, Invalid
from takeoff.governance import frameworks
from takeoff.governance.models import FrameworkRecord
from takeoff.governance.risk import has_transparency_duties
from takeoff.portfolio.models import UseCase


def _load_text(text: str, check_controls: bool = True) -> frameworks.Framework:
    """Validate framework YAML text with frameworks.load_framework; errors name the line and field.

    With check_controls, every `takeoff_controls` id must name a control of takeoff's library."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid("framework YAML is empty")
    ids = [c.id for c in controls()] if check_controls else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "framework.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            fw = frameworks.load_framework(path, control_ids=ids)
        except ValueError as exc:
            raise Invalid(str(exc).replace(str(path), "framework.yaml")) from None
    return fw


def all_frameworks(session: Session) -> dict[str, frameworks.Framework]:
    """Built-in frameworks plus those an admin loaded, by framework id."""
    out = dict(_builtin())
    for row in session.scalars(select(FrameworkRecord).order_by(FrameworkRecord.framework_id)):
        try:
            # A control the library later dropped must not hide the framework: coverage ignores unknown ids.
            out[row.framework_id] = _load_text(row.yaml_text, check_controls=False)
        except Invalid:
            continue  # validated on load; a later schema change must not break the page
    return out


_BUILTIN: dict[str, frameworks.Framework] = {}


def _builtin() -> dict[str, frameworks.Framework]:
    if not _BUILTIN:
        _BUILTIN.update(frameworks.load_builtin_frameworks())
    return _BUILTIN


_CONTROLS: list[tuple[frameworks.Control, ...]] = []


def controls() -> tuple[frameworks.Control, ...]:
    """takeoff's own control library."""
    if not _CONTROLS:
        _CONTROLS.append(frameworks.load_controls())
    return _CONTROLS[0]


def load_framework(session: Session, actor: Actor, text: str) -> tuple[frameworks.Framework, bool]:
    """Load (or replace) a framework from YAML text; built-in ids cannot be replaced. Returns (framework, created)."""
    actor.require("policy.write")
    fw = _load_text(text)
    if fw.id in frameworks.BUILTIN_FRAMEWORK_IDS:
        raise Conflict(f"framework '{fw.id}' is built in; give your framework another id")
    row = session.scalar(select(FrameworkRecord).where(FrameworkRecord.framework_id == fw.id))
    created = row is None
    before = None if row is None else {"version": row.version, "name": row.name}
    if row is None:
        row = FrameworkRecord(framework_id=fw.id, name=fw.name, version=fw.version, yaml_text=text,
                              loaded_by=actor.username)
        session.add(row)
    else:
        row.name, row.version, row.yaml_text, row.loaded_by = fw.name, fw.version, text, actor.username
    session.flush()
    audit.record(session, actor, "framework.load", "framework", fw.id, before, {"version": fw.version, "name": fw.name})
    return fw, created


def framework_summary(fw: frameworks.Framework) -> dict[str, Any]:
    """Identity and item counts of a framework."""
    return {"id": fw.id, "name": fw.name, "version": fw.version, "publisher": fw.publisher,
            "builtin": fw.id in frameworks.BUILTIN_FRAMEWORK_IDS, "counts": frameworks.count_by_kind(fw),
            "assessable": len(fw.assessable_items())}


def _coverage_view(cov: Mapping[str, frameworks.FrameworkCoverage]) -> dict[str, Any]:
    return {fid: {"total": c.total, "covered": len(c.covered), "covered_share": round(c.covered_share, 4),
                  "uncovered": list(c.uncovered)} for fid, c in cov.items()}


def _mapped(fws: Mapping[str, frameworks.Framework]) -> tuple[frameworks.Control, ...]:
    """The control library with the loaded frameworks' `takeoff_controls` folded into each control's mapping."""
    return frameworks.with_framework_mappings(controls(), fws)


def framework_coverage(session: Session, fws: Mapping[str, frameworks.Framework] | None = None) -> dict[str, Any]:
    """Per framework (built-in and loaded): how many assessable items takeoff's whole control library covers."""
    fws = all_frameworks(session) if fws is None else fws
    return _coverage_view(frameworks.coverage(_mapped(fws), fws))


def use_case_controls(session: Session, uc: UseCase,
                      fws: Mapping[str, frameworks.Framework] | None = None) -> dict[str, Any]:
    """Controls applying to a use case (by tier and EU category) and their coverage of every framework, built-in
    or loaded."""
    fws = all_frameworks(session) if fws is None else fws
    tier = uc.risk_tier or "low"
    gpai = bool((uc.eu_result or {}).get("gpai"))
    eu = uc.eu_category if uc.eu_category in frameworks.EU_CATEGORIES else None
    applicable = frameworks.controls_for(tier, eu, gpai=gpai, transparency=has_transparency_duties(uc.eu_result),
                                         controls=_mapped(fws))
    cov = frameworks.coverage(applicable, fws)
    return {"tier": tier, "eu_category": uc.eu_category,
            "controls": [{"id": c.id, "title": c.title, "evidence": c.evidence, "evidence_kind": c.evidence_kind}
                         for c in applicable],
            "coverage": _coverage_view(cov)}
