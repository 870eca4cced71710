"""GitOps: apply YAML documents (UseCase, TierPolicy, Raci, UseCaseRoles, Scores, Organization) idempotently, and
export them.

All documents are validated first; then every change is applied inside one savepoint of the request's
transaction (rolled back for a dry run), so a refused batch writes nothing. Errors name file, line and field.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.core.errors import AppError, Forbidden, Invalid
from takeoff.governance import policy_defaults
from takeoff.governance import organization
from takeoff.governance import people
from takeoff.governance import policies
from takeoff.portfolio import service as portfolio
from takeoff.portfolio import scores as portfolio_scores
from takeoff.portfolio.schemas import ScoreIn

KINDS: dict[str, str] = {
    "Organization": "governance.write",
    "TierPolicy": "policy.write",
    "UseCase": "usecase.write",
    "Raci": "governance.write",
    "UseCaseRoles": "governance.write",
    "Scores": "usecase.score",
}
# Applied in this order so a batch may define a use case and then its RACI and scores.
ORDER = ("Organization", "TierPolicy", "UseCase", "Raci", "UseCaseRoles", "Scores")
MAX_DOCUMENTS = 1000


class _Doc:
    def __init__(self, raw: Mapping[str, Any], index: int) -> None:
        self.file = str(raw.get("file") or "<input>")
        self.line = raw.get("line") if isinstance(raw.get("line"), int) else None
        self.lines = raw.get("lines") if isinstance(raw.get("lines"), Mapping) else {}
        self.body = raw.get("doc")
        self.index = index

    def where(self, field: str | None) -> str:
        line = self.line
        if field:
            parts = field.split(".")
            for n in range(len(parts), 0, -1):
                hit = self.lines.get(".".join(parts[:n]))
                if isinstance(hit, int):
                    line = hit
                    break
        return f"{self.file}:{line}" if line else self.file

    def error(self, message: str, field: str | None = None) -> Invalid:
        where = self.where(field)
        text = f"{where}: field {field}: {message}" if field else f"{where}: {message}"
        return Invalid(text, details=[{"file": self.file, "line": int(where.rsplit(':', 1)[-1])
                                       if where.rsplit(':', 1)[-1].isdigit() else None,
                                       "field": field or "", "message": message}])

    def name(self) -> str:
        b = self.body or {}
        k = b.get("kind")
        if k == "UseCase":
            return str(b.get("key"))
        if k == "TierPolicy":
            return str(b.get("tier"))
        if k in ("Raci", "UseCaseRoles", "Scores"):
            return str(b.get("use_case"))
        return "organization"


def _from_app_error(doc: _Doc, exc: AppError) -> Invalid:
    field = None
    if exc.details and isinstance(exc.details[0], Mapping):
        field = exc.details[0].get("field") or None
    msg = exc.message
    if field and msg.startswith(f"invalid input: {field}: "):
        msg = msg.removeprefix(f"invalid input: {field}: ")
    return doc.error(msg, field)


def _prevalidate(session: Session, actor: Actor, docs: list[_Doc]) -> None:
    """Shape, kind, permission and duplicate checks for every document before anything is applied."""
    seen: dict[tuple[str, str], _Doc] = {}
    for d in docs:
        if not isinstance(d.body, Mapping):
            raise d.error("a document must be a mapping with a kind")
        kind = d.body.get("kind")
        if kind not in KINDS:
            raise d.error(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}", "kind")
        actor.require(KINDS[kind])
        ident = (kind, d.name())
        if ident in seen:
            first = seen[ident]
            raise d.error(f"duplicate {kind} '{d.name()}' (also at {first.where(None)})",
                          "key" if kind == "UseCase" else ("tier" if kind == "TierPolicy" else "use_case"))
        seen[ident] = d
        body = {k: v for k, v in d.body.items() if k != "kind"}
        try:
            if kind == "UseCase":
                portfolio.check_required(portfolio.parse_intake(body))
            elif kind == "TierPolicy":
                body.pop("note", None)
                tier = body.get("tier")
                if tier not in policy_defaults.TIERS:
                    raise d.error(f"tier must be one of low, medium, high; got {tier!r}", "tier")
                policies.validate_policy(tier, body)
            elif kind == "Raci":
                if not isinstance(body.pop("use_case", None), str):
                    raise d.error("use_case (a use case key) is required", "use_case")
                people.validate_raci(session, body)
            elif kind == "UseCaseRoles":
                _validate_uc_roles(session, d, body)
            elif kind == "Scores":
                if not isinstance(body.get("use_case"), str):
                    raise d.error("use_case (a use case key) is required", "use_case")
                rows = body.get("scores")
                if not isinstance(rows, list) or not rows:
                    raise d.error("scores must be a non-empty list", "scores")
                extra = sorted(set(body) - {"use_case", "scores"})
                if extra:
                    raise d.error("unknown field", extra[0])
                for i, r in enumerate(rows):
                    try:
                        s = ScoreIn.model_validate(r)
                    except ValidationError as exc:
                        e = exc.errors()[0]
                        loc = ".".join(str(p) for p in e["loc"])
                        raise d.error(str(e["msg"]), f"scores.{i}.{loc}" if loc else f"scores.{i}") from None
                    if s.scored_on is None:
                        raise d.error("scored_on is required in a Scores document (scores are dated)",
                                      f"scores.{i}.scored_on")
                    try:
                        portfolio_scores.validate_score(session, actor, s)
                    except Invalid as exc:
                        field = (exc.details[0].get("field") if exc.details else "") or "score"
                        raise d.error(exc.message, f"scores.{i}.{field}") from None
            elif kind == "Organization":
                roles = body.pop("roles", None)
                organization.validate_organization(body)
                if roles is not None:
                    _validate_roles(session, roles)
        except Invalid as exc:
            if exc.message.startswith(d.file):
                raise
            raise _from_app_error(d, exc) from None


def _validate_uc_roles(session: Session, d: _Doc, body: Mapping[str, Any]) -> None:
    """A UseCaseRoles document: use_case and roles (the owners live on the UseCase document)."""
    if not isinstance(body.get("use_case"), str):
        raise d.error("use_case (a use case key) is required", "use_case")
    extra = sorted(set(body) - {"use_case", "roles"})
    if extra:
        raise d.error("unknown field; a UseCaseRoles document has use_case and roles", extra[0])
    roles = body.get("roles")
    if not isinstance(roles, Mapping) or not roles:
        raise d.error("roles must be a mapping of role → usernames", "roles")
    for role in roles:
        if role in people.OWNER_ROLES:
            raise d.error(f"set {role} on the UseCase document, not here", f"roles.{role}")
    try:
        people.validate_use_case_roles(session, roles)
    except Invalid as exc:
        field = (exc.details[0].get("field") if exc.details else "") or ""
        raise d.error(exc.message, f"roles.{field}" if field else "roles") from None


def _validate_roles(session: Session, roles: Any) -> None:
    if not isinstance(roles, Mapping):
        raise Invalid("roles must be a mapping of role → usernames", details=[{"field": "roles", "message": "mapping"}])
    for role, names in roles.items():
        if role not in people.SEED_ROLES:
            raise Invalid(f"unknown role '{role}'; roles are {', '.join(people.SEED_ROLES)}",
                          details=[{"field": f"roles.{role}", "message": "unknown role"}])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Invalid(f"roles.{role} must be a list of usernames",
                          details=[{"field": f"roles.{role}", "message": "list"}])
        try:
            people.check_users(session, names, f"roles.{role}")
        except Invalid as exc:
            raise exc from None


def _diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, list[Any]]:
    before = before or {}
    keys = list(dict.fromkeys([*before, *after]))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def _apply_one(session: Session, actor: Actor, d: _Doc) -> dict[str, Any]:
    kind = d.body["kind"]  # type: ignore[index]
    body = {k: v for k, v in d.body.items() if k != "kind"}  # type: ignore[union-attr]
    change: dict[str, Any] = {"kind": kind, "name": d.name(), "file": d.file, "line": d.line}
    if kind == "UseCase":
        existing = portfolio.find(session, body["key"])
        before = portfolio.doc_of(existing) if existing is not None else None
        uc, action = portfolio.upsert(session, actor, body)
        change.update(action=action, diff=_diff(before, portfolio.doc_of(uc)) if action != "unchanged" else {})
    elif kind == "TierPolicy":
        note = body.pop("note", "") or ""
        tier = body["tier"]
        v0, p0 = policies.tier_policy(session, tier)
        v1, p1, changed = policies.set_tier_policy(session, actor, tier, body, note=note)
        before = {"version": v0, **policy_defaults.policy_to_dict(p0)}
        after = {"version": v1, **policy_defaults.policy_to_dict(p1)}
        change.update(action="updated" if changed else "unchanged", diff=_diff(before, after) if changed else {})
    elif kind == "Raci":
        key = body.pop("use_case")
        before = people.raci(session, key)
        after, changed = people.set_raci(session, actor, key, body)
        change.update(action="updated" if changed else "unchanged", diff=_diff(before, after) if changed else {})
    elif kind == "UseCaseRoles":
        key = body["use_case"]
        before = people.use_case_roles(session, key)
        after, changed = people.set_use_case_roles(session, actor, key, body["roles"])
        change.update(action="updated" if changed else "unchanged", diff=_diff(before, after) if changed else {})
    elif kind == "Scores":
        key = body["use_case"]
        diff: dict[str, list[Any]] = {}
        for r in body["scores"]:
            s = ScoreIn.model_validate(r)
            row, action = portfolio_scores.add_score(session, actor, key, s)
            if action != "unchanged":
                diff[f"{row.scorer}@{row.scored_on.isoformat()}"] = [
                    None if action == "created" else "previous",
                    {"value": row.value, "feasibility": row.feasibility, "risk": row.risk}]
        change.update(action="updated" if diff else "unchanged", diff=diff)
    else:  # Organization
        roles = body.pop("roles", None)
        org = organization.organization(session)
        before = {**organization.organization_view(org), "roles": people.role_assignments(session)}
        organization.update_organization(session, actor, body)
        if roles is not None:
            people.set_role_assignments(session, actor, roles)
        after = {**organization.organization_view(org), "roles": people.role_assignments(session)}
        d_ = _diff(before, after)
        change.update(action="updated" if d_ else "unchanged", diff=d_)
    return change


def apply(session: Session, actor: Actor, documents: Any, *, dry_run: bool) -> dict[str, Any]:
    """Validate every document, then apply them all in one savepoint (rolled back when dry_run)."""
    if not isinstance(documents, list) or not documents:
        raise Invalid("documents must be a non-empty list of {file, line, doc}")
    if len(documents) > MAX_DOCUMENTS:
        raise Invalid(f"at most {MAX_DOCUMENTS} documents per apply")
    docs = []
    for i, raw in enumerate(documents):
        if not isinstance(raw, Mapping):
            raise Invalid(f"documents[{i}] must be an object with file, line and doc")
        docs.append(_Doc(raw, i))
    _prevalidate(session, actor, docs)
    ordered = sorted(docs, key=lambda d: (ORDER.index(d.body["kind"]), d.index))  # type: ignore[index]
    changes: list[dict[str, Any]] = []
    nested = session.begin_nested()
    try:
        for d in ordered:
            try:
                changes.append(_apply_one(session, actor, d))
            except Forbidden as exc:  # a refusal stays a refusal (403), located in the file
                raise Forbidden(f"{d.where(None)}: {exc.message}", code=exc.code, details=exc.details) from None
            except AppError as exc:
                raise _from_app_error(d, exc) if not exc.message.startswith(d.file) else exc from None
    except BaseException:
        nested.rollback()
        raise
    if dry_run:
        nested.rollback()
    else:
        nested.commit()
    changed = [c for c in changes if c["action"] != "unchanged"]
    return {"dry_run": dry_run, "applied": not dry_run and bool(changed), "changes": changes,
            "summary": "no changes" if not changed else f"{len(changed)} of {len(changes)} documents change"}


def export(session: Session) -> list[dict[str, Any]]:
    """Every applicable document, in apply order, so `export` then `apply` changes nothing."""
    out: list[dict[str, Any]] = []
    org = organization.organization(session)
    ov = organization.organization_view(org)
    org_doc: dict[str, Any] = {"kind": "Organization"}
    for k in ("name", "operating_model", "self_check", "constraints", "platforms", "decision_rights"):
        if ov[k] not in (None, {}, ""):
            org_doc[k] = ov[k]
    roles = {r: n for r, n in people.role_assignments(session).items() if n}
    if roles:
        org_doc["roles"] = roles
    out.append(org_doc)
    for tier in policy_defaults.TIERS:
        _, p = policies.tier_policy(session, tier)
        out.append({"kind": "TierPolicy", **policy_defaults.policy_to_dict(p)})
    ucs = [uc for uc in portfolio.list_use_cases(session) if not uc.discovered]
    for uc in ucs:
        out.append({"kind": "UseCase", **portfolio.doc_of(uc)})
    for uc in ucs:
        r = people.raci(session, uc.key)
        if any(r.values()):
            out.append({"kind": "Raci", "use_case": uc.key, **r})
    for uc in ucs:
        roles = {r: n for r, n in people.use_case_roles(session, uc.key).items() if n and r not in people.OWNER_ROLES}
        if roles:
            out.append({"kind": "UseCaseRoles", "use_case": uc.key, "roles": roles})
    for uc in ucs:
        rows = portfolio_scores.scores(session, uc)
        if rows:
            scores = []
            for row in rows:
                sv = portfolio_scores.score_view(row)
                item: dict[str, Any] = {"scorer": sv["scorer"], "scored_on": sv["scored_on"]}
                for lens in ("value", "feasibility", "risk"):
                    item[lens] = sv["criteria"].get(lens, sv[lens])
                if sv["note"]:
                    item["note"] = sv["note"]
                scores.append(item)
            out.append({"kind": "Scores", "use_case": uc.key, "scores": scores})
    return out
