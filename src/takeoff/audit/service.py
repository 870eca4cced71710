"""Audit operations: append within the caller's transaction, list, verify (whole, or incrementally for dashboards),
checkpoint, rekey a legacy chain."""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, select, text, update
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit.chain import (CHAIN_VERSION, GENESIS, ChainProblem, Checkpoint, diff, entry_hash, key_id,
                                 sign_checkpoint, verify)
from takeoff.audit.key import key_for
from takeoff.audit.models import AuditEntry, AuditHead
from takeoff.core.db import paginate, utcnow

_PG_LOCK_KEY = 7_340_101  # advisory lock serialising appends on PostgreSQL


def _lock_chain(session: Session) -> AuditHead | None:
    """Serialise with every other append (PostgreSQL advisory lock; SQLite's write transaction already is)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    return session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())


def record(session: Session, actor: Actor | str, action: str, object_type: str, object_id: Any,
           before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None) -> AuditEntry:
    """Append one keyed entry in the caller's transaction, so the change and its record commit together."""
    return _append(session, key_for(session), actor, action, object_type, object_id, before, after)


def _append(session: Session, key: bytes, actor: Actor | str, action: str, object_type: str, object_id: Any,
            before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> AuditEntry:
    head = _lock_chain(session)
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    name = actor.username if isinstance(actor, Actor) else str(actor)
    changes = diff(before, after)
    at = utcnow()
    entry = AuditEntry(at=at, actor=name, action=action, object_type=object_type, object_id=str(object_id),
                       diff=changes, prev_hash=head.last_hash, chain_version=CHAIN_VERSION,
                       hash=entry_hash(key, head.last_hash, at, name, action, object_type, str(object_id), changes))
    session.add(entry)
    session.flush()
    head.last_id, head.last_hash = entry.id, entry.hash
    return entry


def list_entries(session: Session, *, actor: str | None = None, action: str | None = None,
                 object_type: str | None = None, object_id: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[list[AuditEntry], int]:
    """Entries newest first, filtered, with the total count for pagination."""
    q = select(AuditEntry)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action == action)
    if object_type:
        q = q.where(AuditEntry.object_type == object_type)
    if object_id:
        q = q.where(AuditEntry.object_id == object_id)
    if since:
        q = q.where(AuditEntry.at >= since)
    if until:
        q = q.where(AuditEntry.at < until)
    return paginate(session, q, AuditEntry.id.desc(), limit, offset)


def _iter_entries(session: Session, batch: int = 1000, after_id: int = 0) -> Iterator[Any]:
    """The chain's rows in id order, read as plain rows in batches: no ORM object enters the caller's session, so
    verifying never detaches, expires or flushes what the caller is changing (it once did, with expunge_all, and
    a promotion whose checklist verified the chain was audited but never written)."""
    cols = (AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.object_type,
            AuditEntry.object_id, AuditEntry.diff, AuditEntry.prev_hash, AuditEntry.hash, AuditEntry.chain_version)
    last = after_id
    while True:
        rows = session.execute(select(*cols).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def _head(session: Session) -> tuple[int, str]:
    head = session.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)).first()
    return (head.last_id, head.last_hash) if head else (0, GENESIS)


def verify_chain(session: Session, checkpoint: Checkpoint | None = None,
                 key: bytes | None = None) -> tuple[int, ChainProblem | None]:
    """Recompute the whole keyed chain in batches (and compare it with a checkpoint when given);
    (entries checked, first problem or None)."""
    head_id, head_hash = _head(session)
    return verify(_iter_entries(session), head_id, head_hash, key or key_for(session), checkpoint=checkpoint)


@dataclass(frozen=True)
class _Verified:
    """A prefix of the chain that verified: its length, last entry and a digest of its rows exactly as stored."""

    count: int
    last_id: int
    last_hash: str
    digest: Any  # a hashlib object, extended with the rows appended since (copied, never updated in place)
    reread_at: float  # time.monotonic() when the prefix's rows were last read and found unchanged


# How long a verified prefix is trusted without reading its rows again. Reading them is linear in the log's length
# (~100 ms for 20,000 entries), so a dashboard cannot pay it on every request; appended entries are still verified
# on every call, and `takeoff audit verify` / the API always walk the whole chain.
PREFIX_REREAD_S = 30.0


_VERIFIED: dict[tuple[Any, str], _Verified] = {}  # (database URL, key id) -> the chain verified last
_VERIFIED_LOCK = threading.Lock()
# Every column as the database holds it, as text where it is not (a textual statement: no result processing).
_RAW = text("SELECT id, CAST(at AS TEXT), actor, action, object_type, object_id, CAST(diff AS TEXT), prev_hash, hash, "
            "chain_version FROM audit_entries WHERE id > :after AND id <= :upto ORDER BY id LIMIT :batch")


def _digest(session: Session, after_id: int, upto: int, base: Any = None, batch: int = 5000) -> Any:
    """SHA-256 over the rows with after_id < id <= upto, every column as the database holds it (text, no JSON or
    time parsing, no HMAC): equal digests mean the very same rows, so their verification would be the same."""
    h = base.copy() if base is not None else hashlib.sha256()
    last = after_id
    while last < upto:
        rows = session.execute(_RAW, {"after": last, "upto": upto, "batch": batch}).all()
        if not rows:
            break
        for row in rows:
            h.update(repr(tuple(row)).encode())
        last = rows[-1][0]
    return h


def _remember(memo: tuple[Any, str], session: Session, count: int, head_id: int, head_hash: str,
              before: Any, base: _Verified | None, reread_at: float) -> None:
    """Remember a verified chain when its rows did not change while it was verified (digest before == after)."""
    after = _digest(session, base.last_id if base else 0, head_id, base.digest if base else None)
    if after.digest() == before.digest():
        with _VERIFIED_LOCK:
            _VERIFIED[memo] = _Verified(count, head_id, head_hash, after, reread_at)


def verify_chain_incremental(session: Session, key: bytes | None = None) -> tuple[int, ChainProblem | None]:
    """verify_chain's answer, recomputing only the entries appended since this process last verified the chain.

    The verified prefix is reused while a digest of its rows, read as stored (every column, text), equals the
    digest taken when it verified: any change to an old entry (content, hash, deletion, insertion) changes the
    digest and the whole chain is verified again. The prefix's rows are read again at most every
    PREFIX_REREAD_S seconds (a change to an old entry shows within that time; a deleted tail, a moved head or an
    entry past the head at once), and any problem found on the short path is confirmed by the whole walk."""
    key = key or key_for(session)
    head_id, head_hash = _head(session)
    bind = session.get_bind()
    memo = (getattr(bind, "engine", bind).url, key_id(key))  # a Connection's engine's URL (tests bind sessions so)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(memo)
    now = time.monotonic()
    if known is not None and known.last_id <= head_id:
        fresh = now - known.reread_at < PREFIX_REREAD_S
        if fresh or _digest(session, 0, known.last_id).digest() == known.digest.digest():
            reread_at = known.reread_at if fresh else now
            if (head_id, head_hash) == (known.last_id, known.last_hash) and \
                    session.scalar(text("SELECT max(id) FROM audit_entries")) == known.last_id:
                if not fresh:
                    with _VERIFIED_LOCK:
                        _VERIFIED[memo] = _Verified(known.count, known.last_id, known.last_hash, known.digest, now)
                return known.count, None  # nothing appended since (nor out of band after the head)
            before = _digest(session, known.last_id, head_id, known.digest)
            count, problem = verify(_iter_entries(session, after_id=known.last_id), head_id, head_hash, key,
                                    after=(known.count, known.last_id, known.last_hash))
            if problem is None:
                _remember(memo, session, count, head_id, head_hash, before, known, reread_at)
                return count, problem
            if not fresh:
                return count, problem
            # a problem after a prefix not re-read: the whole walk below says what it is
    before = _digest(session, 0, head_id)
    count, problem = verify(_iter_entries(session), head_id, head_hash, key)
    if problem is None:
        _remember(memo, session, count, head_id, head_hash, before, None, now)
    return count, problem


def checkpoint(session: Session, key: bytes | None = None) -> tuple[dict[str, Any] | None, ChainProblem | None]:
    """The signed head of a chain that verifies, to be stored outside the database; (None, problem) when it does
    not verify (a broken chain is never signed)."""
    key = key or key_for(session)
    _lock_chain(session)  # no append between the verification and the head it signs
    count, problem = verify_chain(session, key=key)
    if problem is not None:
        return None, problem
    head_id, head_hash = _head(session)
    return sign_checkpoint(key, count, head_id, head_hash, utcnow()), None


@dataclass(frozen=True)
class Rekeyed:
    """What a rekey did: how many entries it rewrote, and the legacy chain's problem when one was accepted."""

    entries: int
    legacy_problem: ChainProblem | None


class RekeyRefused(Exception):
    """The legacy chain does not verify, so signing it with the key would launder whatever broke it."""

    def __init__(self, problem: ChainProblem) -> None:
        super().__init__(f"entry {problem.entry_id}: {problem.reason}")
        self.problem = problem


def has_legacy_entries(session: Session) -> bool:
    """True while unkeyed (version 0) entries remain."""
    return bool(session.scalar(select(exists().where(AuditEntry.chain_version == 0))))


def rekey(session: Session, key: bytes | None = None, *, accept_broken: bool = False) -> Rekeyed | None:
    """Key a legacy chain: verify it unkeyed first (RekeyRefused when broken, unless accept_broken), then rewrite
    every hash keyed and append an `audit.rekey` entry. None when there is nothing to rekey."""
    key = key or key_for(session)
    head = _lock_chain(session)
    if not has_legacy_entries(session):
        return None
    head_id, head_hash = _head(session)
    count, problem = verify(_iter_entries(session), head_id, head_hash, key, legacy_ok=True)
    if problem is not None and not accept_broken:
        raise RekeyRefused(problem)
    table = AuditEntry.__table__
    stmt = (update(table).where(table.c.id == bindparam("b_id"))
            .values(prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"), chain_version=CHAIN_VERSION))
    prev, last_id, rewritten, batch = GENESIS, 0, 0, []
    for e in _iter_entries(session):
        new = entry_hash(key, prev, e.at, e.actor, e.action, e.object_type, e.object_id, e.diff)
        batch.append({"b_id": e.id, "b_prev": prev, "b_hash": new})
        prev, last_id, rewritten = new, e.id, rewritten + 1
        if len(batch) >= 1000:
            session.execute(stmt, batch)
            batch = []
    if batch:
        session.execute(stmt, batch)
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
    head.last_id, head.last_hash = last_id, prev
    session.flush()
    _append(session, key, "system", "audit.rekey", "audit_chain", "1", None, {
        "entries": rewritten, "legacy_head": {"id": head_id, "hash": head_hash},
        "legacy_problem": None if problem is None else {"entry_id": problem.entry_id, "reason": problem.reason}})
    return Rekeyed(rewritten, problem)
