"""Text search over captured content, as a block index built behind ingestion (tele0011).

An index entry per content row (a trigram index of every body) cost more than the rest of an event's ingestion:
~0.1-0.2 ms a row in SQLite's FTS5, ~0.23 ms of PostgreSQL CPU in pg_trgm's GIN, several times the 20,000 events/s
budget on two cores. Instead, each ingest batch's content rows share a block id (`request_content.batch`); the rollup
compactor reads the bodies of the batches stored since (`request_text_pending`), and writes one row per batch to
`request_text_blocks` holding the distinct words of its bodies. The trigram index (FTS5 on SQLite, pg_trgm GIN on
PostgreSQL) is over those word lists: a batch's repeated words (system instructions, JSON keys, common words) are
indexed once, not once per row. ClickHouse's n-gram skip indexes work the same way.

A search keeps its meaning (content whose stored body holds the text, any case): the blocks whose words hold every
word of the text are a superset of the batches holding it; their rows, and the rows of batches not indexed yet, are
tested exactly. Why a superset: a word here is a maximal run of letters and digits, of any script, of the case-folded
body (`fold`: Unicode case folding, a combining dot above removed; no final-sigma or other context rule, so a text
folds the same wherever it stands). The exact test (takeoff.requests.text_search.exact) matches a character to
itself, an ASCII letter to its other case, or, for a text with other cased letters, any characters that fold alike
(SQLite: takeoff_fold of the body; PostgreSQL: a pattern of every character folding alike), and such characters fold
alike, so if the body holds the text, its folding holds the text's folding; each run of the folded text then lies
inside one of the body's runs, and a run that a non-word character of the text bounds is bounded there too (so it
starts or ends that word: `query_patterns`). In scripts written without spaces (Han, kana, Hangul) every letter and
every adjacent pair of letters is a word of the block too, so a one- or two-character word such as 钱 or 退款 is looked
for as ` 钱 ` or ` 退款 `: the body's run holding it holds that letter or pair. Texts with no run of 3 characters
otherwise (`a b`, `x1`) cannot use the trigram index and are tested row by row, within the explorer's scan budget.

Deleting content (a unit's, or retention) puts its batches back in the queue: their block is rebuilt from the rows
left, so no word of deleted content stays searchable."""
from __future__ import annotations

import fcntl
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.orm import Session, sessionmaker

from takeoff.core.db import read_session, transaction
from takeoff.core.textfold import fold
from takeoff.telemetry.request_models import TEXT_SEARCH_FTS as FTS
from takeoff.telemetry.request_models import TextBlock, TextPending

BLOCKS = TextBlock.__tablename__
PENDING = TextPending.__tablename__
MIN_RUN = 3  # a trigram index needs 3 characters
INDEX_ROWS = 20_000  # content rows read per compactor round
_RUN = re.compile(r"[^\W_]+")  # letters and digits of any script (on ASCII text: a-z, A-Z, 0-9)
# Scripts written without spaces between words (Han, kana, Hangul): a word there is often one or two characters,
# which no trigram finds inside a longer run, so each of their letters and each adjacent pair of them is also a word
# of the block (unigrams and bigrams, as Lucene's CJK analyzer makes). Their characters fold to themselves.
_CJK = ("\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
        "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_TWO = re.compile(f"[{_CJK}]{{2}}")
_CJK_PAIR = re.compile(f"(?=({_CJK_TWO.pattern}))")  # every adjacent pair (overlapping), letters kept by the caller
_MAX_IN = 900


def new_batch_id() -> int:
    """A block id for one ingest batch: milliseconds since the epoch, then 15 random bits (time-ordered, so the
    content's batch index grows at its end). Two batches that drew the same id share a block: harmless."""
    return (time.time_ns() // 1_000_000) << 15 | secrets.randbits(15)


# ASCII bytes to words' bytes in one C pass: A-Z lower-cased, a-z and 0-9 kept, every other byte a separator
_ASCII_WORDS = bytes(c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))


def words(bodies: Iterable[str]) -> str:
    """The distinct words (see the module doc) of a batch's bodies, each with a space on both sides.

    ASCII bodies (nearly all) are joined and mapped by one `bytes.translate`, then split: half the CPU of a regex
    over each lower-cased body (bench: 3.3 against 6.8 ms for a 500-row batch), the same words."""
    seen: set[str] = set()
    ascii_bodies: list[str] = []
    for body in bodies:
        if body.isascii():
            ascii_bodies.append(body)
            continue
        folded = fold(body)
        seen.update(_RUN.findall(folded))
        letters = [c for c in _CJK_CHAR.findall(folded) if c.isalnum()]
        if letters:
            seen.update(letters)
            seen.update(pair for pair in _CJK_PAIR.findall(folded) if pair.isalnum())
    if ascii_bodies:
        seen.update("\n".join(ascii_bodies).encode("ascii").translate(_ASCII_WORDS).decode("ascii").split())
    # a space before the first word and after the last: every word is " word " (see query_patterns)
    return f" {' '.join(seen)} " if seen else ""


def query_patterns(q: str) -> list[str]:
    """The LIKE patterns over a block's words that every block holding a match of `q` satisfies (at most 8, the
    most selective first; none when the text has no word the trigram index can look for).

    A run of the text that a non-word character follows in the text ends one of the matching body's words, so it is
    followed by a space in the block's words; one that such a character precedes starts a word. Only the text's
    first and last runs can be parts of longer words: `ticket 4242 about` needs the word `4242` itself
    (`% 4242 %`), not any number holding those digits, which at 10M requests was most blocks. Each pattern's
    literal needs 3 characters (a trigram), spaces included."""
    low = fold(q)
    found: dict[str, tuple[int, int]] = {}
    for m in _RUN.finditer(low):
        left, right = m.start() > 0, m.end() < len(low)
        literal = (" " if left else "") + m.group() + (" " if right else "")
        if len(literal) >= MIN_RUN:
            found[f"%{literal}%"] = (left + right, len(m.group()))
        elif _CJK_TWO.fullmatch(m.group()) or cjk_letter(m.group()):  # one of the block's bigram or unigram words
            found[f"% {m.group()} %"] = (2, len(m.group()))
    return sorted(found, key=lambda p: (-found[p][0], -found[p][1], p))[:8]


def cjk_letter(text: str) -> bool:
    """Whether `text` is one Han, kana or Hangul letter: a word of its own in those scripts, and one of the block's."""
    return len(text) == 1 and text.isalnum() and _CJK_CHAR.match(text) is not None


# ---------------------------------------------------------------------------------------------------- ingestion
def queue(session: Session, counts: dict[int, int]) -> None:
    """Put batches (id -> content rows written) in the queue of blocks to build, in the caller's transaction."""
    if counts:
        session.connection().execute(text(
            f"INSERT INTO {PENDING} (batch, rows, gen) VALUES (:b, :n, 0) ON CONFLICT (batch) DO UPDATE SET "
            f"rows = {PENDING}.rows + excluded.rows, gen = {PENDING}.gen + 1"),
            [{"b": b, "n": n} for b, n in counts.items()])


def requeue(session: Session, batches: Iterable[int | None]) -> None:
    """After content of these batches was deleted: drop their blocks (their words may name what was deleted) and
    queue the batches again with the rows left, so the compactor rebuilds them (a batch with no rows left is dropped)."""
    ids = sorted({b for b in batches if b is not None})
    conn = session.connection()
    for i in range(0, len(ids), _MAX_IN):
        chunk = ids[i:i + _MAX_IN]
        left = {b: n for b, n in conn.execute(_in_batches("SELECT batch, count(*) FROM request_content WHERE batch IN "
                                                          ":ids GROUP BY batch"), {"ids": chunk})}
        # the queue's rows first (PostgreSQL: the lock order of index_pending, which skips what is locked)
        conn.execute(text(f"INSERT INTO {PENDING} (batch, rows, gen) VALUES (:b, :n, 0) ON CONFLICT (batch) "
                          f"DO UPDATE SET rows = excluded.rows, gen = {PENDING}.gen + 1"),
                     [{"b": b, "n": left.get(b, 0)} for b in chunk])
        conn.execute(_in_batches(f"DELETE FROM {BLOCKS} WHERE batch IN :ids"), {"ids": chunk})
        gone = [b for b in chunk if b not in left]
        if gone:
            conn.execute(text(f"DELETE FROM {PENDING} WHERE batch = :b"), [{"b": b} for b in gone])


# ---------------------------------------------------------------------------------------------------- compactor
def index_pending(factory: sessionmaker[Session], max_rows: int = INDEX_ROWS) -> int:
    """Build the blocks of queued batches, up to about `max_rows` content rows; returns how many rows.

    The bodies are read and their words gathered in a read snapshot (on SQLite without the write lock, so ingestion
    goes on meanwhile); the write then keeps only the batches still queued at the same generation (content deleted
    meanwhile re-queued them: they wait for the next round) and, on PostgreSQL, not taken by another compactor."""
    engine = factory.kw["bind"]
    with read_session(engine) as reader:
        queued = list(reader.execute(text(f"SELECT batch, rows, gen FROM {PENDING} ORDER BY batch LIMIT :k"),
                                     {"k": max(1, max_rows // 50)}))
        if not queued:
            return 0
        picked, total = [], 0
        for b, n, g in queued:
            if picked and total + n > max_rows:
                break
            picked.append((b, g))
            total += n
        bodies: dict[int, list[str]] = {b: [] for b, _ in picked}
        for chunk in _chunks([b for b, _ in picked]):
            for b, body in reader.execute(_in_batches("SELECT batch, body FROM request_content WHERE batch IN :ids"),
                                          {"ids": list(chunk)}):
                bodies[b].append(body)
    built = {b: (words(bodies[b]), len(bodies[b])) for b, _ in picked}
    gens = dict(picked)
    with transaction(factory) as s:
        conn = s.connection()
        postgres = conn.dialect.name == "postgresql"
        mine = []
        for chunk in _chunks(list(gens)):
            lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
            mine += [b for b, g in conn.execute(_in_batches(f"SELECT batch, gen FROM {PENDING} WHERE batch IN :ids{lock}"),
                                                {"ids": list(chunk)})
                     if g == gens[b]]
        if not mine:
            return 0
        conn.execute(text(f"DELETE FROM {BLOCKS} WHERE batch = :b"), [{"b": b} for b in mine])
        rows = [{"b": b, "w": built[b][0], "n": built[b][1]} for b in mine if built[b][1]]
        if rows:
            conn.execute(text(f"INSERT INTO {BLOCKS} (batch, words, rows) VALUES (:b, :w, :n)"), rows)
        conn.execute(text(f"DELETE FROM {PENDING} WHERE batch = :b"), [{"b": b} for b in mine])
    return sum(built[b][1] for b in mine)


def index_all(factory: sessionmaker[Session], max_rows: int = INDEX_ROWS, max_rounds: int = 50) -> int:
    """Build blocks until the queue is empty (each round its own short transaction); returns how many rows. Another
    process building them already: returns 0 at once (its rounds take the same queue)."""
    total = 0
    with sole_indexer(factory.kw["bind"]) as mine:
        if not mine:
            return 0
        for _ in range(max_rounds):
            n = index_pending(factory, max_rows)
            total += n
            if n == 0:
                break
    return total


_PG_INDEXER_KEY = 7_340_111  # advisory lock: one text indexer at a time on a PostgreSQL database
_in_process: dict[str, threading.Lock] = {}  # per database: this process's threads take turns (they never skip)
_indexer_files: dict[str, int] = {}
_registry_lock = threading.Lock()


@contextmanager
def sole_indexer(engine: Engine) -> Iterator[bool]:
    """Whether this process may build blocks now: False while another process of the same database does (each
    `serve` worker runs a compactor; both used to read the same queued bodies and compute their words, and all but
    one threw the work away at the generation check). Threads of one process wait for each other instead, so a
    caller in the process that finds True has the queue to itself. Not a correctness guard: the generation check
    stays. PostgreSQL: a session advisory lock on a connection of its own, dropped with the session if the process
    dies; SQLite: an flock on a side file, dropped by the kernel likewise; an in-memory database: always True."""
    url = engine.url.render_as_string(hide_password=False)
    with _registry_lock:
        turn = _in_process.setdefault(url, threading.Lock())
    with turn:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_INDEXER_KEY}).scalar())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_INDEXER_KEY})
                        conn.commit()
            return
        path = engine.url.database
        if engine.dialect.name != "sqlite" or not path or path == ":memory:" or path.startswith("file::memory:"):
            yield True
            return
        with _registry_lock:
            fd = _indexer_files.get(path)
            if fd is None:
                fd = _indexer_files[path] = os.open(f"{path}-textindex.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------------- search
def candidate_batches(session: Session, q: str, limit: int) -> tuple[list[int], int] | None:
    """The indexed batches whose words satisfy every pattern of `q` (at most `limit` of them) and their content rows;
    None when the index cannot narrow this text (no usable word) or more than `limit` blocks match."""
    runs = query_patterns(q)
    if not runs:
        return None
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        cond = " AND ".join(f"{FTS}.words LIKE :r{i}" for i in range(len(runs)))
        # CROSS JOIN keeps this order: the index's matches first (the other order probes the index per block)
        sql = f"SELECT b.batch, b.rows FROM {FTS} CROSS JOIN {BLOCKS} b ON b.batch = {FTS}.rowid WHERE {cond} LIMIT :k"
    else:
        cond = " AND ".join(f"words LIKE :r{i}" for i in range(len(runs)))  # words are lower-case already
        sql = f"SELECT batch, rows FROM {BLOCKS} WHERE {cond} LIMIT :k"
    found = list(session.execute(text(sql), {"k": limit + 1, **{f"r{i}": r for i, r in enumerate(runs)}}
                                 ))
    if len(found) > limit:
        return None
    return [b for b, _ in found], sum(n for _, n in found)


def queued(session: Session, limit: int) -> tuple[list[int], int]:
    """Batches not indexed yet (at most `limit` + 1 of them) and their content rows."""
    found = list(session.execute(text(f"SELECT batch, rows FROM {PENDING} LIMIT :k"), {"k": limit + 1}))
    return [b for b, _ in found], sum(n for _, n in found)


def _in_batches(sql: str) -> Any:
    """A statement whose `:ids` is a list of batch ids (SQLAlchemy renders the IN list)."""
    return text(sql).bindparams(bindparam("ids", expanding=True))


def _chunks(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(ids), _MAX_IN):
        yield ids[i:i + _MAX_IN]
