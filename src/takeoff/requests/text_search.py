"""Text search in captured content for the explorer: the exact test of a stored body, and the candidate content
batches the block index (takeoff.telemetry.text_index) narrows a search to, within bounds that keep a page cheap."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from takeoff.core.textfold import fold
from takeoff.telemetry import text_index
from takeoff.telemetry.request_models import RequestContent as C


def exact(q: str, sqlite: bool) -> Any:
    """Content holding `q` in any case (a constant pattern; '%', '_' and '/' in `q` are literal): PostgreSQL's ILIKE;
    on SQLite, whose case-insensitive LIKE folds ASCII only, a non-ASCII text is compared case-folded
    (takeoff_fold, the block index's folding: 'ПРИВЕТ' finds 'привет')."""
    if sqlite and folded(q):
        return func.takeoff_fold(C.body).like(f"%{_escape(fold(q))}%", escape="/")
    return C.body.ilike(f"%{_escape(q)}%", escape="/")


def folded(q: str) -> bool:
    """Whether SQLite tests `q` through takeoff_fold: not when its own LIKE compares it as the folding does (ASCII,
    and characters with no case: Chinese, Japanese kana, Thai...), which needs no Python call a row."""
    return not (q.isascii() or all(c.isascii() or c.casefold() == c == c.upper() for c in q))


def _escape(q: str) -> str:
    return q.replace("/", "//").replace("%", "/%").replace("_", "/_")


RARE_TEXT = 20_000  # up to this many candidate content rows, a text search's page is built from them (an ILIKE each:
# ~1 us a row on SQLite, ~4 on PostgreSQL, so ~80 ms at worst; the time-index walk for a rare text reads far more)
RARE_BLOCKS = 500  # ... in at most this many text search blocks (each a check of its words: a bound on that cost)
FOLDED_SHARE = 4  # where SQLite tests a text through takeoff_fold (a Python call a row, ~4x the cost of its LIKE),
# a page tests a quarter as many rows: RARE_TEXT here, and the walk's budget (queries.SCAN_BUDGET)


def budget(rows: int, q: str, sqlite: bool) -> int:
    """`rows` to test for a text, a quarter of it where SQLite tests it folded."""
    return rows // FOLDED_SHARE if sqlite and folded(q) else rows


def candidates(session: Session, q: str, sqlite: bool) -> list[int] | None:
    """The content batches that may hold `q`: the text search blocks matching it (takeoff.telemetry.text_index) and
    the batches not indexed yet, when they hold at most RARE_TEXT rows in all (`budget`). None: too many, or a text
    the index cannot narrow (no word it can look for); the page then walks the time index testing each row's
    content, which meets a page of a common text's matches within a few thousand rows."""
    rare = budget(RARE_TEXT, q, sqlite)
    found = text_index.candidate_batches(session, q, RARE_BLOCKS)
    if found is None or found[1] > rare:
        return None
    tail, tail_rows = text_index.queued(session, rare - found[1])
    if found[1] + tail_rows > rare:
        return None
    return sorted(set(found[0]) | set(tail))  # one list: an index lookup per batch on both backends
