"""Group commit of ingest batches in one server process: the batches that queue for the process's ingest slot are
written by one thread in one transaction and committed once, then each is acknowledged.

Why: a commit writes every index page its batch dirtied. A stream's batches all land on the last second's pages of
the explorer indexes, so four batches dirty nearly the pages one does: one commit for four wrote 96 MB of WAL where
four commits wrote 280 MB, at 14.3 ms of CPU a batch instead of 20.1 (bench/README.md, sqlite_event_indexes.py).

How: the slot still runs one batch's CPU work (decode, checks, lookups, rows) at a time per process, outside any
write transaction. A batch that is ready joins the pending group; the thread holding the slot writes and commits
the group when no other batch waits for the slot or the group is full, otherwise it passes the slot on to the next
batch and waits. So a batch waits at most for the batches queued behind it (at most `MAX_BATCHES`).

The contract of POST /api/v1/events and of OTLP exports holds: no batch is acknowledged before the commit that made
its rows durable (`Member.done` is set after `commit()` returns). A batch refused by its checks never joins the group. A member whose
write fails is rolled back to its own savepoint and gets its error, the others are committed; if the commit fails,
every member gets that error.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.orm import Session

MAX_BATCHES = 8  # batches per commit at most (the WAL and the waiting of the first batch grow with it)

Write = Callable[[Session], Any]


class Member:
    """One batch of a group: its write phase, and after the commit, its result or its error."""

    __slots__ = ("write", "session", "done", "result", "error")

    def __init__(self, write: Write, session: Session) -> None:
        self.write, self.session, self.done = write, session, threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        """The write's result once the group is committed (waits for it); its error, or the commit's, raised."""
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


class GroupSlot:
    """The per-process ingest slot with its pending group (see the module docstring)."""

    def __init__(self, max_batches: int = MAX_BATCHES) -> None:
        self.max_batches = max_batches
        self._slot = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0  # threads blocked on the slot: each will hold it, so a pending group is always flushed
        self._pending: list[Member] = []
        self.commits = 0  # group commits made (tests, benches)

    def ingest(self, session: Session, prepare: Callable[[], Write]) -> Any:
        """Run `prepare` in the slot (its errors are the caller's; nothing joins the group then), add the write it
        returns to the group, and return that write's result once the group holding it is committed. `session` has
        no transaction open; it may write the whole group while its thread waits."""
        member = None
        with self._hold():
            try:
                member = Member(prepare(), session)
                self._pending.append(member)
            finally:  # also when prepare failed: a group left pending is this thread's to pass on or commit
                if self._waiting == 0 or len(self._pending) >= self.max_batches:
                    self._flush()
        return member.outcome()

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        with self._count:
            self._waiting += 1
        self._slot.acquire()
        with self._count:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slot.release()

    def _flush(self) -> None:
        """Commit the pending members, one transaction per database (in one server process there is one; tests may
        run apps on several): in the first member's session (its thread is waiting for the outcome)."""
        group, self._pending = self._pending, []
        by_database: dict[Any, list[Member]] = {}
        for m in group:
            by_database.setdefault(m.session.get_bind(), []).append(m)
        for members in by_database.values():
            self._commit(members[0].session, members)

    def _commit(self, session: Session, group: list[Member]) -> None:
        """Write the members in `session`, each in its own savepoint (a lone member needs none: its failure rolls
        the transaction back), commit once, then wake each."""
        try:
            if len(group) == 1:
                group[0].result = group[0].write(session)
            else:
                for m in group:
                    try:
                        with session.begin_nested():
                            m.result = m.write(session)
                    except Exception as exc:  # this member's own failure: rolled back to its savepoint alone
                        m.error = exc
            session.commit()
            self.commits += 1
        except BaseException as exc:  # the commit (or the session) failed: nothing of the group is durable
            with contextlib.suppress(Exception):
                session.rollback()
            for m in group:
                m.error = m.error or exc
                m.result = None
            if not isinstance(exc, Exception):
                raise
        finally:
            for m in group:
                m.done.set()
