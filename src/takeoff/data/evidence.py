"""Readiness evidence for "Data quality: you have defined critical data sources, quality rules, and owners".

Pure: decided from facts the data service gathers (owners, defined check kinds, latest results).
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
