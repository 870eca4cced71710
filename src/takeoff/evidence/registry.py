"""A named registry of evidence kinds: each kind has exactly one provider or is declared attestation-only.

Readiness items and release checklist items name kinds; both read a kind through `gather`, so one kind means one
thing everywhere. The defaults are registered through the same `provide` / `attestation_only` calls a third party
uses (takeoff.evidence.defaults imports each domain's evidence module explicitly: no string-addressed imports); the
composition root hands them to the registry (`set_defaults`), so reading the registry imports no domain.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

Status = Literal["pass", "fail", "no_evidence"]
Scope = Literal["use_case", "organization"]
STATUSES: tuple[str, ...] = ("pass", "fail", "no_evidence")
SCOPES: tuple[str, ...] = ("use_case", "organization")


@dataclass(frozen=True)
class Evidence:
    """One kind's evidence for one subject: verdict, one-line detail, where to see it, and as of when."""

    kind: str
    status: Status
    detail: str
    link: str = ""
    at: datetime | None = None
    scope: Scope = "use_case"
    items: tuple[tuple[str, str], ...] = ()  # (text, link) of each thing found, e.g. each open incident

    def view(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind, "status": self.status, "detail": self.detail, "link": self.link,
                "at": self.at.isoformat() if self.at else None, "scope": self.scope,
                "items": [{"text": t, "link": lk} for t, lk in self.items]}


@dataclass
class Subject:
    """What evidence is gathered about: a use case, the release in question (the checklist's release, or the one
    serving production for readiness), the time, and a cache shared by one request (organization-wide kinds such
    as the audit chain are computed once per request)."""

    use_case: Any  # portfolio.models.UseCase
    release: Any | None  # releases.models.Release
    now: datetime
    cache: dict[str, Any] = field(default_factory=dict)


Provider = Callable[[Session, Subject], Evidence]

# Subject.cache key under which a portfolio-wide read (readiness for every use case) lists the use case keys it
# will ask about, so a provider can read a fact for all of them in one query instead of one query each.
PORTFOLIO_KEYS = "portfolio_keys"


_ANNOUNCED_SET = ("portfolio_keys", "set")


def portfolio_keys(subject: Subject) -> list[str]:
    """The use case keys this request gathers evidence for: the portfolio's when a portfolio read announced them
    (and the subject's is among them), else only the subject's."""
    own = getattr(subject.use_case, "key", None)
    keys = subject.cache.get(PORTFOLIO_KEYS)
    if keys and own in keys:
        return list(keys)
    return [own] if own else []


def batched_map(subject: Subject, name: str, read: Callable[[list[str]], Mapping[str, Any]]) -> dict[str, Any]:
    """A fact read for every use case of the request at once (`read(keys)` -> key -> value), memoised in the
    request cache under `name` (never across requests: evidence stays live)."""
    cache = subject.cache
    own = getattr(subject.use_case, "key", None)
    announced = cache.get(PORTFOLIO_KEYS)
    if announced and own in _announced_set(cache, announced):
        memo: tuple[Any, ...] = ("batched", name, None)  # the portfolio's keys (one set per request)
    else:
        memo = ("batched", name, (own,) if own else ())
    if memo not in cache:
        cache[memo] = dict(read(portfolio_keys(subject)))
    found: dict[str, Any] = cache[memo]
    return found


def _announced_set(cache: dict[Any, Any], announced: list[str]) -> frozenset[str]:
    """The announced portfolio keys as a set, made once per request (each of ~800 batched reads of a portfolio
    view asks whether its use case is among them)."""
    made = cache.get(_ANNOUNCED_SET)
    if made is None or made[0] is not announced:
        made = cache[_ANNOUNCED_SET] = (announced, frozenset(announced))
    found: frozenset[str] = made[1]
    return found


def batched(subject: Subject, name: str, read: Callable[[list[str]], Mapping[str, Any]]) -> Any:
    """The subject's value of a fact read for every use case of the request at once (`read(keys)` -> key ->
    value), memoised in the request cache under `name`; a key `read` leaves out gets None. The same code path
    serves one use case (keys = [its key]) and the portfolio, so both judge alike."""
    return batched_map(subject, name, read).get(getattr(subject.use_case, "key", None))


@dataclass(frozen=True)
class Kind:
    """A registered kind: its provider (None when attestation-only), scope, owning domain and title."""

    name: str
    title: str
    provider: Provider | None
    scope: Scope
    domain: str
    attestable: bool = True  # False: only the system's evidence counts (a person's attestation cannot replace it)

    @property
    def attestation_only(self) -> bool:
        return self.provider is None


class Registry:
    """A named set of evidence kinds. `provide` registers a provider; `attestation_only` declares a kind that only
    a named person can attest. Registering a kind twice is an error (one kind, one meaning)."""

    def __init__(self, name: str, load_defaults: Callable[[Registry], None] | None = None) -> None:
        self.name = name
        self._kinds: dict[str, Kind] = {}
        self._load_defaults = load_defaults
        self._loaded = load_defaults is None

    def set_defaults(self, load_defaults: Callable[[Registry], None]) -> None:
        """Name the function that registers the default kinds, run the first time the registry is read (the
        composition root does, so the registry itself imports no domain). Idempotent."""
        if self._load_defaults is not load_defaults:
            self._load_defaults, self._loaded = load_defaults, False

    def _check_new(self, name: str) -> None:
        if not isinstance(name, str) or not name or not name.replace("_", "").isalnum() or not name.islower():
            raise ValueError(f"evidence kind names are lower_snake_case, got {name!r}")
        if name in self._kinds:
            raise ValueError(f"evidence kind {name!r} is already registered by {self._kinds[name].domain}; "
                             "a kind has exactly one provider")

    def provide(self, name: str, provider: Provider, *, title: str, domain: str,
                scope: Scope = "use_case", attestable: bool = True) -> Kind:
        """Register the one provider of a kind (`attestable=False`: no attestation stands in for its evidence)."""
        self._check_new(name)
        if not callable(provider):
            raise ValueError(f"the provider of {name!r} must be callable")
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        k = self._kinds[name] = Kind(name, title, provider, scope, domain, attestable)
        return k

    def attestation_only(self, name: str, *, title: str, domain: str) -> Kind:
        """Declare a kind the system holds no evidence of: a named person attests it on a release."""
        self._check_new(name)
        k = self._kinds[name] = Kind(name, title, None, "use_case", domain)
        return k

    def remove(self, name: str) -> None:
        """Unregister a kind (a plugin being unloaded; tests)."""
        self._kinds.pop(name, None)

    def _ensure(self) -> None:
        if not self._loaded and self._load_defaults is not None:
            self._loaded = True
            self._load_defaults(self)

    def get(self, name: str) -> Kind | None:
        """The registered kind, or None."""
        self._ensure()
        return self._kinds.get(name)

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def kinds(self) -> dict[str, Kind]:
        """Every registered kind by name."""
        self._ensure()
        return dict(self._kinds)

    def unprovided(self, declared: Iterable[str]) -> list[str]:
        """Declared kinds with neither a provider nor an attestation-only declaration."""
        self._ensure()
        return sorted({k for k in declared if k not in self._kinds})

    def gather(self, session: Session, subject: Subject, name: str) -> Evidence:
        """The kind's evidence for the subject (memoised per subject; organization-wide kinds per request cache)."""
        self._ensure()
        kind = self._kinds.get(name)
        if kind is None:
            return Evidence(name, "no_evidence", f"no provider is registered for evidence kind '{name}'")
        if kind.provider is None:
            return Evidence(name, "no_evidence", "the system holds no evidence of this kind; a named person may "
                                                 "attest it", scope=kind.scope)
        memo_key = ("evidence", name) if kind.scope == "organization" else \
            ("evidence", name, getattr(subject.use_case, "key", None), getattr(subject.release, "id", None))
        if memo_key in subject.cache:
            return subject.cache[memo_key]
        ev = kind.provider(session, subject)
        if not isinstance(ev, Evidence) or ev.status not in STATUSES:
            raise ValueError(f"the provider of {name!r} must return Evidence with a status in {STATUSES}")
        if ev.kind != name or ev.scope != kind.scope:
            ev = Evidence(name, ev.status, ev.detail, ev.link, ev.at, kind.scope, ev.items)
        subject.cache[memo_key] = ev
        return ev

    def gather_many(self, session: Session, subject: Subject, names: Iterable[str]) -> dict[str, Evidence]:
        """Evidence of several kinds, by name."""
        return {n: self.gather(session, subject, n) for n in names}


# The defaults (takeoff.evidence.defaults, every domain's evidence module) are named by the composition root
# (takeoff.flows_registry.register_flows): a domain that reads this registry never imports the domains above it.
evidence_kinds = Registry("evidence kinds")


def statuses(evidence: Mapping[str, Evidence]) -> dict[str, str]:
    """kind -> status, for comparisons."""
    return {k: e.status for k, e in evidence.items()}
