"""Readiness evidence for "Data quality: you have defined critical data sources, quality rules, and owners".

The rule on top is pure: decided from facts (owners, defined check kinds, latest results); below it, the I/O that
gathers those facts and the evidence kinds the data foundation provides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

CHECK_KINDS = frozenset({"freshness", "completeness", "rule", "reconciliation", "schema", "context"})
DEFAULT_REQUIRED_KINDS = frozenset({"freshness", "completeness", "rule"})


@dataclass(frozen=True)
class LatestCheck:
    """The most recent result of one check on a source."""

    kind: str
    name: str
    status: Literal["pass", "breach", "error"]
    checked_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class SourceFacts:
    """What is known about one source a use case depends on."""

    name: str
    owner: str | None
    defined_kinds: Sequence[str] = ()
    required_kinds: frozenset[str] = DEFAULT_REQUIRED_KINDS
    latest: Sequence[LatestCheck] = field(default_factory=tuple)


@dataclass(frozen=True)
class Evidence:
    """Readiness verdict with the reasons behind it, one line each."""

    status: Literal["pass", "fail", "no_evidence"]
    reasons: list[str]


def _validate(sources: Iterable[SourceFacts]) -> list[SourceFacts]:
    if isinstance(sources, (str, bytes)) or sources is None:
        raise ValueError("sources must be a list of SourceFacts")
    out = list(sources)
    for s in out:
        if not isinstance(s, SourceFacts):
            raise ValueError(f"each source must be a SourceFacts, got {type(s).__name__}")
        if not isinstance(s.name, str) or not s.name.strip():
            raise ValueError("every source needs a name")
        if s.owner is not None and not isinstance(s.owner, str):
            raise ValueError(f"source {s.name}: owner must be text or None")
        if any(not isinstance(c, LatestCheck) for c in s.latest):
            raise ValueError(f"source {s.name}: latest checks must be LatestCheck items")
        unknown = (set(s.defined_kinds) | set(s.required_kinds)) - CHECK_KINDS
        if unknown:
            raise ValueError(f"source {s.name}: unknown check kind(s) {', '.join(sorted(unknown))}")
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError("source names must be unique")
    return out


def data_quality_evidence(
    sources: Iterable[SourceFacts], *, now: datetime | None = None, max_check_age_s: float | None = None
) -> Evidence:
    """Pass when every dependent source has an owner, each required kind of rule, and green latest checks.

    With `now` and `max_check_age_s`, a latest check older than that is stale evidence and fails too:
    a check that stopped running proves nothing about today's data.
    """
    items = _validate(sources)
    if max_check_age_s is not None and (now is None or max_check_age_s <= 0):
        raise ValueError("max_check_age_s needs a positive value and `now`")
    if not items:
        return Evidence("no_evidence", ["no critical data source is registered for this use case"])
    reasons: list[str] = []
    failed = False
    for s in items:
        problems: list[str] = []
        if not (s.owner and s.owner.strip()):
            problems.append("has no owner")
        missing = sorted(set(s.required_kinds) - set(s.defined_kinds))
        if missing:
            problems.append("has no " + ", ".join(missing) + " check defined")
        if not s.latest:
            problems.append("has never been checked")
        for c in s.latest:
            if c.status != "pass":
                problems.append(f"latest {c.kind} check {c.name} is {c.status}" + (f" ({c.reason})" if c.reason else ""))
            elif max_check_age_s is not None and now is not None:
                if c.checked_at is None or (now - c.checked_at).total_seconds() > max_check_age_s:
                    problems.append(f"latest {c.kind} check {c.name} is older than {max_check_age_s:g}s")
        if problems:
            failed = True
            reasons.extend(f"source {s.name} {p}" for p in problems)
        else:
            reasons.append(f"source {s.name}: owner {s.owner}, {len(s.latest)} checks green")
    return Evidence("fail" if failed else "pass", reasons)


# -- the data foundation's facts and evidence kinds (registered by takeoff.evidence.defaults) ---------------------
from sqlalchemy.orm import Session  # noqa: E402 - the providers below are I/O; the rule above stays pure

from takeoff.core.db import utcnow  # noqa: E402
from sqlalchemy import select  # noqa: E402

from takeoff.data.models import DataAccessRule, DataCheckRun, DataSource  # noqa: E402
from takeoff.data.queries import MAX_EVIDENCE_AGE_S, latest_run, latest_runs, list_sources  # noqa: E402
from takeoff.evidence.registry import Evidence as KindEvidence  # noqa: E402
from takeoff.evidence.registry import Registry, Subject  # noqa: E402


class Lookups:
    """The sources, their latest runs and which have access rules, read once for every use case of a request
    (three queries), for the three kinds below; without a request cache each call reads afresh."""

    def __init__(self, session: Session) -> None:
        self.sources = list(session.scalars(select(DataSource).order_by(DataSource.name)))
        self.latest: dict[int, DataCheckRun] = latest_runs(session)
        self.ruled = set(session.scalars(select(DataAccessRule.source_id).distinct()))
        self._by_use_case: dict[str, list[DataSource]] = {}  # use case -> its sources by name, built once
        for src in self.sources:
            for key in dict.fromkeys(k for k in src.use_cases or [] if isinstance(k, str)):
                self._by_use_case.setdefault(key, []).append(src)

    def for_use_case(self, key: str) -> list[DataSource]:
        """The sources the use case depends on, by name (a dict lookup: each of three kinds asks for 50 use cases)."""
        return list(self._by_use_case.get(key, ()))

    @staticmethod
    def of(session: Session, s: Subject | None) -> Lookups:
        """The request's lookups (memoised in the subject's cache), or fresh ones without a subject."""
        if s is None:
            return Lookups(session)
        if "data.lookups" not in s.cache:
            s.cache["data.lookups"] = Lookups(session)
        found: Lookups = s.cache["data.lookups"]
        return found


def sources_for_use_case(session: Session, use_case_key: str, lookups: Lookups | None = None) -> list[SourceFacts]:
    """Facts about every source the use case depends on (owner, defined check kinds, latest results)."""
    if not isinstance(use_case_key, str) or not use_case_key:
        raise ValueError("use_case_key must be a non-empty string")
    out: list[SourceFacts] = []
    srcs = lookups.for_use_case(use_case_key) if lookups else list_sources(session, use_case_key)
    for src in srcs:
        kinds = {str(c.get("kind")) for c in src.checks or []}
        if src.kind == "collection" and src.context:
            kinds.add("context")
        required = frozenset({"context"}) if src.kind == "collection" else DEFAULT_REQUIRED_KINDS
        latest: list[LatestCheck] = []
        run = lookups.latest.get(src.id) if lookups else latest_run(session, src.id)
        if run is not None:
            for r in run.results or []:
                status = r.get("status") if r.get("status") in ("pass", "breach", "error") else "error"
                kind = r.get("kind") if r.get("kind") in CHECK_KINDS else "rule"
                latest.append(LatestCheck(kind=kind, name=str(r.get("name")), status=status,
                                          checked_at=run.started_at, reason=str(r.get("reason", ""))))
            if run.context:
                status = run.context.get("status") if run.context.get("status") in ("pass", "breach", "error") else "error"
                latest.append(LatestCheck(kind="context", name="context", status=status, checked_at=run.started_at,
                                          reason=str(run.context.get("reason", ""))))
        out.append(SourceFacts(name=src.name, owner=src.owner, defined_kinds=tuple(sorted(kinds & CHECK_KINDS)),
                               required_kinds=required, latest=tuple(latest)))
    return out


def readiness_evidence(session: Session, use_case_key: str, now: datetime | None = None,
                       lookups: Lookups | None = None) -> Evidence:
    """The readiness item "Data quality" for a use case; a latest check over a day old is stale evidence."""
    return data_quality_evidence(sources_for_use_case(session, use_case_key, lookups), now=now or utcnow(),
                                 max_check_age_s=float(MAX_EVIDENCE_AGE_S))


def data_sla_green(session: Session, s: Subject) -> KindEvidence:
    """Every source the use case depends on has an owner, its required checks, and green checks under a day old."""
    key = s.use_case.key
    ev = readiness_evidence(session, key, now=s.now, lookups=Lookups.of(session, s))
    return KindEvidence("data_sla_green", ev.status, "; ".join(ev.reasons) or "no reasons given",
                        f"/usecases/{key}#data-sources")


def data_sla_met(session: Session, s: Subject) -> KindEvidence:
    """No source the use case depends on has a breached latest SLA check; a failure names each source."""
    key = s.use_case.key
    breached = []
    lookups = Lookups.of(session, s)
    for src in lookups.for_use_case(key):
        run = lookups.latest.get(src.id)
        if run is not None and run.status == "breach":
            failed = [str(r.get("name")) for r in run.results or [] if r.get("status") == "breach"]
            breached.append((src.name, failed, run.started_at))
    if not breached:
        return KindEvidence("data_sla_met", "pass", "no dependent data source breaches its SLA",
                            f"/usecases/{key}#data-sources")
    items = tuple((f"data source {n} breaches its SLA ({', '.join(f) or 'latest check'})", f"/datasources/{n}")
                  for n, f, _ in breached)
    return KindEvidence("data_sla_met", "fail", "; ".join(t for t, _ in items), items[0][1], breached[0][2],
                        items=items)


def access_least_privilege(session: Session, s: Subject) -> KindEvidence:
    """Every source the use case depends on has field-level access rules (reads are logged by takeoff)."""
    key = s.use_case.key
    lookups = Lookups.of(session, s)
    sources = lookups.for_use_case(key)
    link = f"/usecases/{key}#data-sources"
    if not sources:
        return KindEvidence("access_least_privilege", "no_evidence", "no data source is registered for this use case",
                            link)
    open_ = [src.name for src in sources if src.id not in lookups.ruled]
    if open_:
        return KindEvidence("access_least_privilege", "fail", "no field access rules on source(s) "
                            + ", ".join(open_), f"/datasources/{open_[0]}")
    return KindEvidence("access_least_privilege", "pass", f"field access rules on all {len(sources)} source(s); "
                        "reads are logged", link)


def register(registry: Registry) -> None:
    registry.provide("data_sla_green", data_sla_green, title="Data sources meet their SLAs", domain="data")
    registry.provide("data_sla_met", data_sla_met, title="No dependent data source breaches its SLA", domain="data")
    registry.provide("access_least_privilege", access_least_privilege,
                     title="Data access is least-privilege and logged", domain="data")
