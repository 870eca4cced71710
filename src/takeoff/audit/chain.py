"""Pure hash-chain rules: how an entry's hash is computed, how a chain is verified, how checkpoints are signed.

Chain versions: 0 is the legacy unkeyed chain (SHA-256, recomputable by anyone who can write the database), 1 is
keyed (HMAC-SHA256 with a key derived from the server secret, see takeoff.audit.key). Verification accepts version 0
entries only while a legacy chain is being rekeyed; anywhere else an unkeyed entry is a problem.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
CHAIN_VERSION = 1
CHECKPOINT_FORMAT = "takeoff-audit-checkpoint/1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")


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


def _content(prev_hash: str, at: datetime, actor: str, action: str, object_type: str, object_id: str,
             changes: Mapping[str, Any]) -> list[Any]:
    return [prev_hash, at.isoformat(timespec="microseconds"), actor, action, object_type, object_id, changes]


def legacy_hash(prev_hash: str, at: datetime, actor: str, action: str, object_type: str, object_id: str,
                changes: Mapping[str, Any]) -> str:
    """Version 0: SHA-256 over the previous hash and the entry's canonical content (no key; kept to rekey old chains)."""
    payload = _canon(_content(prev_hash, at, actor, action, object_type, object_id, changes))
    return hashlib.sha256(payload.encode()).hexdigest()


def entry_hash(key: bytes, prev_hash: str, at: datetime, actor: str, action: str, object_type: str, object_id: str,
               changes: Mapping[str, Any]) -> str:
    """Version 1: HMAC-SHA256 under the chain key over the version, the previous hash and the canonical content."""
    payload = _canon([CHAIN_VERSION, *_content(prev_hash, at, actor, action, object_type, object_id, changes)])
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    """The first place where the chain does not verify."""

    entry_id: int | None
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed head of the chain, kept outside the database: the chain must still reach it unchanged."""

    entries: int
    last_id: int
    hash: str
    at: str


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, malformed, signed by another key, or altered."""


def key_id(key: bytes) -> str:
    """A short public fingerprint of the chain key, so a checkpoint of another server is told apart from a forgery."""
    return hmac.new(key, b"takeoff-audit-key-id", hashlib.sha256).hexdigest()[:16]


def _signature(key: bytes, fields: Mapping[str, Any]) -> str:
    signing_key = hmac.new(key, b"takeoff-audit-checkpoint", hashlib.sha256).digest()
    payload = _canon([fields["format"], fields["entries"], fields["last_id"], fields["hash"], fields["at"],
                      fields["key_id"]])
    return hmac.new(signing_key, payload.encode(), hashlib.sha256).hexdigest()


def sign_checkpoint(key: bytes, entries: int, last_id: int, last_hash: str, at: datetime) -> dict[str, Any]:
    """The checkpoint document (JSON-ready) for a chain of `entries` ending at `last_id` with `last_hash`."""
    fields: dict[str, Any] = {"format": CHECKPOINT_FORMAT, "entries": entries, "last_id": last_id, "hash": last_hash,
                              "at": at.isoformat(timespec="seconds"), "key_id": key_id(key)}
    return {**fields, "signature": _signature(key, fields)}


def read_checkpoint(key: bytes, doc: Any) -> Checkpoint:
    """Check a checkpoint document's shape and signature; CheckpointError says what is wrong with it."""
    if not isinstance(doc, dict):
        raise CheckpointError("the checkpoint is not a JSON object")
    if doc.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"the checkpoint's format is not {CHECKPOINT_FORMAT!r}")
    for name in ("entries", "last_id"):
        value = doc.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CheckpointError(f"the checkpoint's {name!r} is not a whole number >= 0")
    if not isinstance(doc.get("hash"), str) or not _HEX64.match(doc["hash"]):
        raise CheckpointError("the checkpoint's 'hash' is not 64 lowercase hex digits")
    if not isinstance(doc.get("at"), str):
        raise CheckpointError("the checkpoint's 'at' is not a time")
    if not isinstance(doc.get("key_id"), str) or not _HEX16.match(doc["key_id"]):
        raise CheckpointError("the checkpoint's 'key_id' is not 16 lowercase hex digits")
    if not isinstance(doc.get("signature"), str) or not _HEX64.match(doc["signature"]):
        raise CheckpointError("the checkpoint's 'signature' is not 64 lowercase hex digits")
    if not hmac.compare_digest(doc["key_id"], key_id(key)):
        raise CheckpointError("the checkpoint was signed by another key (another server's TAKEOFF_SECRET_KEY), "
                              "not by this server's")
    if not hmac.compare_digest(doc["signature"], _signature(key, doc)):
        raise CheckpointError("the checkpoint's signature does not match its content (the file was altered)")
    return Checkpoint(entries=doc["entries"], last_id=doc["last_id"], hash=doc["hash"], at=doc["at"])


def verify(entries: Iterable[Any], head_id: int | None, head_hash: str | None, key: bytes, *,
           checkpoint: Checkpoint | None = None, legacy_ok: bool = False,
           after: tuple[int, int, str] | None = None) -> tuple[int, ChainProblem | None]:
    """Recompute the chain over entries in id order; return (entries checked, first problem or None).

    Each entry is checked by its chain_version (keyed unless 0); unkeyed entries are a problem unless `legacy_ok`
    (the rekey's own check), and always after a keyed one. With a checkpoint, the chain must still hold the
    checkpoint's entry as its `entries`-th one with the same hash. `after` = (count, last id, last hash) of a keyed
    prefix already verified (and known unchanged): `entries` are then the entries after it, and the count returned
    includes the prefix's."""
    prev = GENESIS if after is None else after[2]
    count = 0 if after is None else after[0]
    last_id = 0 if after is None else after[1]
    keyed_seen = after is not None and after[0] > 0
    first_legacy: int | None = None
    at_checkpoint: tuple[int, str] | None = None
    for e in entries:
        count += 1
        if e.prev_hash != prev:
            return count, ChainProblem(e.id, "its prev_hash does not match the entry before it "
                                             "(an entry was deleted or inserted before it)")
        version = getattr(e, "chain_version", CHAIN_VERSION)
        content = (e.prev_hash, e.at, e.actor, e.action, e.object_type, e.object_id, e.diff)
        if version == 0:
            if keyed_seen:
                return count, ChainProblem(e.id, "it is an unkeyed entry after keyed ones (written without the key)")
            first_legacy = e.id if first_legacy is None else first_legacy
            if legacy_hash(*content) != e.hash:
                return count, ChainProblem(e.id, "its content does not match its hash (the row was altered)")
        elif version == CHAIN_VERSION:
            keyed_seen = True
            if not hmac.compare_digest(entry_hash(key, *content), e.hash):
                return count, ChainProblem(e.id, "its content does not match its keyed hash (the row was altered, "
                                                 "or the chain was written under another secret key)")
        else:
            return count, ChainProblem(e.id, f"its chain version {version} is unknown")
        if checkpoint is not None and e.id == checkpoint.last_id:
            at_checkpoint = (count, e.hash)
        prev, last_id = e.hash, e.id
    if head_hash is not None and (head_id != last_id or head_hash != prev):
        return count, ChainProblem(head_id, f"the chain head names entry {head_id} but the last entry is {last_id} "
                                            "(entries at the end were deleted or appended out of band)")
    if first_legacy is not None and not legacy_ok:
        return count, ChainProblem(first_legacy, "the chain is not keyed yet (entries written before keyed chains); "
                                                 "`takeoff migrate` or `takeoff audit rekey` keys it")
    if checkpoint is not None:
        return count, _against_checkpoint(checkpoint, at_checkpoint, count, last_id)
    return count, None


def _against_checkpoint(cp: Checkpoint, seen: tuple[int, str] | None, count: int, last_id: int) -> ChainProblem | None:
    """Compare a verified chain with a checkpoint: it must still hold the checkpoint's entry, at the same place."""
    if cp.entries == 0:
        return None
    if seen is None:
        return ChainProblem(cp.last_id, f"the chain is shorter than the checkpoint of {cp.at}: the checkpoint covers "
                                        f"{cp.entries} entries up to entry {cp.last_id}, the chain holds {count} "
                                        f"up to entry {last_id} (entries were deleted)")
    position, found_hash = seen
    if not hmac.compare_digest(found_hash, cp.hash):
        return ChainProblem(cp.last_id, f"it differs from the checkpoint of {cp.at} (the chain was rewritten since)")
    if position != cp.entries:
        return ChainProblem(cp.last_id, f"it is entry number {position} of the chain, the checkpoint of {cp.at} says "
                                        f"{cp.entries} (entries before it were deleted or inserted)")
    return None
