"""Sampling rules of annotation queues (pure): which new requests a rule puts in a queue. A share is decided by a
hash of the queue and the request id, so a request looked at twice (runs overlap) gets the same answer."""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from takeoff.requests.sampling import in_sample

# traffic: any request of the use case; fallbacks: served by a fallback; errors: status error; low_rated: feedback
# at or below max_rating; canary: served by the release in canary; violations: a safety filter found something.
KINDS: tuple[str, ...] = ("traffic", "fallbacks", "errors", "low_rated", "canary", "violations")


@dataclass(frozen=True)
class Rule:
    """One sampling rule: its kind, the share of matching requests it takes (0 < share <= 1), and the highest
    rating that counts as low (low_rated only)."""

    kind: str
    share: float = 1.0
    max_rating: int = 2


@dataclass(frozen=True)
class Candidate:
    """What the rules read of one request."""

    id: str
    status: str
    release: str
    violations: int
    min_rating: int | None


def check_rule(kind: Any, share: Any, max_rating: Any) -> Rule:
    """A valid rule, or ValueError("<field>: <message>")."""
    if kind not in KINDS:
        raise ValueError(f"kind: one of {', '.join(KINDS)}")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) \
            or not 0 < share <= 1:
        raise ValueError("share: a fraction above 0 and at most 1 (0.05 is 5% of matching requests)")
    if isinstance(max_rating, bool) or not isinstance(max_rating, int) or not 1 <= max_rating <= 4:
        raise ValueError("max_rating: a whole rating from 1 to 4 (ratings are 1-5)")
    return Rule(str(kind), float(share), max_rating)


def in_share(salt: str, request_id: str, share: float) -> bool:
    """Whether the request falls in the share (stable for one salt and request id)."""
    return in_sample(salt, request_id, share)


def matches(rule: Rule, c: Candidate, canary_releases: Collection[str]) -> bool:
    """Whether the request is of the rule's kind (before the share)."""
    if rule.kind == "traffic":
        return True
    if rule.kind == "fallbacks":
        return c.status == "fallback"
    if rule.kind == "errors":
        return c.status == "error"
    if rule.kind == "low_rated":
        return c.min_rating is not None and c.min_rating <= rule.max_rating
    if rule.kind == "canary":
        return bool(c.release) and c.release in canary_releases
    return c.violations > 0


def select(rules: Mapping[int, Rule], c: Candidate, salt: str, canary_releases: Collection[str]) -> int | None:
    """The id of the first rule (in id order) that takes the request, or None."""
    for rule_id in sorted(rules):
        rule = rules[rule_id]
        if matches(rule, c, canary_releases) and in_share(f"{salt}:{rule_id}", c.id, rule.share):
            return rule_id
    return None
