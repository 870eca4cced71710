"""Pure lifecycle rules of a release: allowed moves, approvals by tier with separation of duties, promotion."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

STATUSES = ("draft", "evaluating", "awaiting_approval", "approved", "canary", "production", "superseded",
            "rolled_back", "rejected")
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"evaluating", "rejected"}),
    "evaluating": frozenset({"draft", "awaiting_approval", "rejected"}),
    "awaiting_approval": frozenset({"evaluating", "approved", "rejected"}),
    "approved": frozenset({"canary", "production", "rejected"}),
    "canary": frozenset({"production", "rolled_back"}),
    "production": frozenset({"superseded", "rolled_back"}),
    "superseded": frozenset({"production"}),  # a rollback restores the previous production release
    "rolled_back": frozenset(),
    "rejected": frozenset(),
}
EVALUABLE = frozenset({"draft", "evaluating", "awaiting_approval"})


def can_move(current: str, target: str) -> bool:
    """True when the lifecycle allows the move."""
    if current not in TRANSITIONS or target not in TRANSITIONS:
        raise ValueError(f"unknown release status: {current if current not in TRANSITIONS else target}")
    return target in TRANSITIONS[current]


def status_after_gate(gate_status: str, blocks: bool) -> str:
    """Where a finished eval leaves the release: on to approvals unless the gate blocks (back to draft)."""
    if gate_status not in ("pass", "fail", "inconclusive"):
        raise ValueError(f"unknown gate status {gate_status!r}")
    return "draft" if blocks else "awaiting_approval"


def choose_role(required: Sequence[str], filled: Mapping[str, str], actor_roles: Iterable[str],
                wanted: str | None = None) -> str:
    """The required role this person fills; ValueError saying why they cannot fill one.

    An admin may fill any one open role; nobody fills two (separation of duties is checked by the caller,
    which refuses a second approval by the same person).
    """
    roles = set(actor_roles)
    open_roles = [r for r in required if r not in filled]
    if not open_roles:
        raise ValueError("every required approver role is already filled")
    candidates = [r for r in open_roles if r in roles or "admin" in roles]
    if wanted is not None:
        if wanted not in required:
            raise ValueError(f"role '{wanted}' is not an approver role of this tier ({', '.join(required)})")
        if wanted in filled:
            raise ValueError(f"role '{wanted}' was already filled by {filled[wanted]}")
        if wanted not in candidates:
            raise ValueError(f"you do not hold the role '{wanted}'")
        return wanted
    if not candidates:
        raise ValueError(f"this tier needs approval by {', '.join(open_roles)}; you hold none of these roles")
    return candidates[0]


def missing_roles(required: Sequence[str], filled: Mapping[str, str]) -> list[str]:
    """Approver roles of the tier that nobody has filled yet."""
    return [r for r in required if r not in filled]


def promotion_blockers(status: str, target: str, gate: Mapping[str, Any] | None, gate_on_bundle_set: bool,
                       missing_approvals: Sequence[str], missing_checklist: Sequence[str]) -> list[str]:
    """Everything that stops a promotion to canary or production, in words; empty means go."""
    if target not in ("canary", "production"):
        raise ValueError("promotion target must be canary or production")
    out: list[str] = []
    if status not in ("approved", "canary") or (target == "canary" and status == "canary"):
        out.append(f"the release is {status}; only an approved release (or a canary, to production) can be "
                   f"promoted to {target}")
    if gate is None:
        out.append("no eval gate result on the eval set version the release names")
    elif not gate_on_bundle_set:
        out.append("the latest gate was judged on another eval set version than the release names")
    elif gate.get("status") != "pass" and gate.get("blocks", True):
        out.append(f"the eval gate is {gate.get('status')}, not pass")
    if missing_approvals:
        out.append(f"missing approvals by: {', '.join(missing_approvals)}")
    if missing_checklist:
        out.append(f"checklist items without evidence or attestation: {', '.join(missing_checklist)}")
    return out
