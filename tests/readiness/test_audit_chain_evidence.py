"""The audit-chain evidence verifies incrementally (only entries appended since the last verification are
recomputed) and still fails when an old entry is changed, deleted or inserted out of band, with the same first
problem the whole walk (`verify_chain`, the CLI's) reports: at once when the verified prefix is read again on
every call, within PREFIX_REREAD_S seconds as served (the prefix's rows are read again at most that often)."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from takeoff.audit import chain
from takeoff.audit import service as audit
from takeoff.audit.evidence import audit_chain_verified
from takeoff.core.actor import SYSTEM
from takeoff.core.db import transaction, utcnow
from takeoff.evidence.registry import Subject


def _append(factory, n: int) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        for i in range(n):
            audit.record(s, SYSTEM, "usecase.update", "use_case", f"uc-{i}", {"note": i}, {"note": i + 1})


def _evidence(factory):  # type: ignore[no-untyped-def]
    with factory() as s:
        return audit_chain_verified(s, Subject(None, None, utcnow()))


def _whole(factory):  # type: ignore[no-untyped-def]
    with factory() as s:
        return audit.verify_chain(s)


def test_only_appended_entries_are_recomputed(factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _append(factory, 6)
    first = _evidence(factory)
    assert first.status == "pass"
    calls = []
    real = chain.entry_hash
    monkeypatch.setattr(chain, "entry_hash", lambda *a: calls.append(1) or real(*a))
    assert _evidence(factory).detail == first.detail and calls == [], "nothing appended: nothing recomputed"
    _append(factory, 3)
    calls.clear()
    ev = _evidence(factory)
    count, problem = _whole(factory)
    assert ev.status == "pass" and problem is None and f"audit chain of {count} entries verifies" == ev.detail
    assert len(calls) == 3 + count, "three appended entries recomputed here, the whole chain by verify_chain"


@pytest.mark.parametrize("tamper", ["actor", "diff", "at", "hash", "delete_middle", "delete_last", "insert",
                                    "append_past_head"])
def test_a_changed_old_entry_fails_the_evidence(tamper, factory, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(audit, "PREFIX_REREAD_S", 0.0)  # the prefix read again on every call
    _append(factory, 6)
    assert _evidence(factory).status == "pass"  # the verified prefix is remembered
    if tamper != "append_past_head":
        _append(factory, 2)
        assert _evidence(factory).status == "pass"  # and again, with the two appended
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM audit_entries ORDER BY id"))]
        old = ids[2]
        if tamper in ("actor", "diff", "hash"):
            value = {"actor": "mallory", "diff": '{"note": {"from": 0, "to": 9}}', "hash": "e" * 64}[tamper]
            conn.execute(text(f"UPDATE audit_entries SET {tamper} = :v WHERE id = :i"), {"v": value, "i": old})
        elif tamper == "at":
            conn.execute(text("UPDATE audit_entries SET at = (SELECT at FROM audit_entries WHERE id = :j) "
                              "WHERE id = :i"), {"i": old, "j": ids[0]})
        elif tamper == "delete_middle":
            conn.execute(text("DELETE FROM audit_entries WHERE id = :i"), {"i": old})
        elif tamper == "delete_last":
            conn.execute(text("DELETE FROM audit_entries WHERE id = :i"), {"i": ids[-1]})
        elif tamper == "append_past_head":  # a copy of the last entry, after it, the head left alone
            row = conn.execute(text("SELECT * FROM audit_entries WHERE id = :i"), {"i": ids[-1]}).mappings().one()
            conn.execute(text("INSERT INTO audit_entries (id, at, actor, action, object_type, object_id, diff, "
                              "prev_hash, hash, chain_version) VALUES (:id, :at, 'mallory', 'user.create', 'user', "
                              "'ghost', :diff, :prev, :hash, 1)"),
                         {"id": ids[-1] + 1, "at": row["at"], "diff": "{}", "prev": row["hash"], "hash": "f" * 64})
        else:
            row = conn.execute(text("SELECT * FROM audit_entries WHERE id = :i"), {"i": ids[1]}).mappings().one()
            conn.execute(text("UPDATE audit_entries SET id = id + 1000 WHERE id >= :i"), {"i": old})
            conn.execute(text("INSERT INTO audit_entries (id, at, actor, action, object_type, object_id, diff, "
                              "prev_hash, hash, chain_version) VALUES (:id, :at, 'mallory', 'user.create', 'user', "
                              "'ghost', :diff, :prev, :hash, 1)"),
                         {"id": old, "at": row["at"], "diff": "{}", "prev": row["hash"], "hash": "f" * 64})
    ev = _evidence(factory)
    _, problem = _whole(factory)
    assert problem is not None and ev.status == "fail"
    assert ev.detail == f"the audit chain does not verify: {problem}"


def test_repeated_appends_agree_with_the_whole_walk(factory) -> None:  # type: ignore[no-untyped-def]
    """Appending after a verification and then verifying again agrees with the whole walk each time."""
    for n in (1, 4, 2):
        _append(factory, n)
        ev, (count, problem) = _evidence(factory), _whole(factory)
        assert problem is None and ev.detail == f"audit chain of {count} entries verifies"


def test_an_old_entry_changed_shows_once_the_prefix_is_read_again(factory, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As served: the prefix's rows are read again at most every PREFIX_REREAD_S seconds, appended entries every
    time; the whole walk (CLI, API) sees the change at once."""
    clock = [1000.0]
    monkeypatch.setattr(audit.time, "monotonic", lambda: clock[0])
    _append(factory, 5)
    assert _evidence(factory).status == "pass"
    with engine.begin() as conn:
        old = conn.execute(text("SELECT min(id) FROM audit_entries")).scalar()
        conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE id = :i"), {"i": old})
    _, problem = _whole(factory)
    assert problem is not None
    clock[0] += audit.PREFIX_REREAD_S / 2
    assert _evidence(factory).status == "pass"  # within the window: the prefix is not read again
    _append(factory, 1)
    assert _evidence(factory).status == "pass"  # the appended entry verifies against the remembered head
    clock[0] += audit.PREFIX_REREAD_S
    ev = _evidence(factory)
    assert ev.status == "fail" and ev.detail == f"the audit chain does not verify: {problem}"


def test_a_problem_on_the_short_path_is_confirmed_by_the_whole_walk(factory, engine) -> None:  # type: ignore[no-untyped-def]
    """A chain that verified, then replaced under the same database URL and key (a restored backup, a test's
    truncated tables), is not judged against the remembered head: the whole walk decides."""
    _append(factory, 4)
    assert _evidence(factory).status == "pass"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries"))
        conn.execute(text("UPDATE audit_head SET last_id = 0, last_hash = :g"), {"g": chain.GENESIS})
    _append(factory, 6)  # a new chain, longer than the one remembered
    ev = _evidence(factory)
    count, problem = _whole(factory)
    assert problem is None and ev.status == "pass" and ev.detail == f"audit chain of {count} entries verifies"
