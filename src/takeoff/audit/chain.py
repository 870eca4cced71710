"""Pure hash-chain rules: how an entry's hash is computed and how a chain is verified."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """Changed fields as {field: {"from": old, "to": new}}; unchanged fields are left out."""
    before, after = dict(before or {}), dict(after or {})
    out: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if _canon(old) != _canon(new):
            out[key] = {"from": old, "to": new}
    return out


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, object_type: str, object_id: str,
               changes: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's canonical content."""
    payload = _canon([prev_hash, at.isoformat(timespec="microseconds"), actor, action, object_type, object_id, changes])
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    """The first place where the chain does not verify."""

    entry_id: int | None
    reason: str


def verify(entries: Iterable[Any], head_id: int | None, head_hash: str | None) -> tuple[int, ChainProblem | None]:
    """Recompute the chain over entries in id order; return (entries checked, first problem or None)."""
    prev = GENESIS
    count = 0
    last_id = 0
    for e in entries:
        count += 1
        if e.prev_hash != prev:
            return count, ChainProblem(e.id, "its prev_hash does not match the entry before it "
                                             "(an entry was deleted or inserted before it)")
        expected = entry_hash(e.prev_hash, e.at, e.actor, e.action, e.object_type, e.object_id, e.diff)
        if expected != e.hash:
            return count, ChainProblem(e.id, "its content does not match its hash (the row was altered)")
        prev, last_id = e.hash, e.id
    if head_hash is not None and (head_id != last_id or head_hash != prev):
        return count, ChainProblem(head_id, f"the chain head names entry {head_id} but the last entry is {last_id} "
                                            "(entries at the end were deleted or appended out of band)")
    return count, None
