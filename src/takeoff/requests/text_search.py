"""Text search in captured content for the explorer: the exact test of a stored body, and the candidate content
batches the block index (takeoff.telemetry.text_index) narrows a search to, within bounds that keep a page cheap."""
from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from takeoff.core.textfold import COMBINING_DOT, fold, variants
from takeoff.telemetry import text_index
from takeoff.telemetry.request_models import RequestContent as C


def exact(q: str, sqlite: bool) -> Any:
    """Content holding `q` in any case (a constant pattern: every character of `q` literal), the same on both
    backends. A text whose cased letters are all ASCII (`folded` false) matches ASCII letters in either case and any
    other character as itself (SQLite's own LIKE); another is compared case-folded, as the block index folds
    (`fold`: 'ПРИВЕТ' finds 'привет', 'οδος' 'ΟΔΟΣ', 'STRAßE' 'strasse'). SQLite folds the body (takeoff_fold);
    PostgreSQL matches a regular expression of each character's variants (`pg_pattern`), not ILIKE, whose case
    follows the database's locale: no non-ASCII letter in a C-locale database, and never ß or a final sigma."""
    if not sqlite:
        body = func.replace(C.body, COMBINING_DOT, "") if folded(q) else C.body  # fold drops it from the body too
        return body.op("~")(pg_pattern(q))
    if folded(q):
        return func.takeoff_fold(C.body).like(f"%{_escape(fold(q))}%", escape="/")
    return C.body.ilike(f"%{_escape(q)}%", escape="/")


def pg_pattern(q: str) -> str:
    """`q` as a PostgreSQL regular expression matching what `exact` matches on SQLite, whatever the locale: each
    character written as a \\u escape (nothing in `q` is an operator) or a bracket of them. Not `folded`: an ASCII
    letter in either case. `folded`: each character of `fold(q)` as every character folding to it, and where one
    character folds to several of its letters (ß: ss, ﬁ: fi), that character as an alternative. A body character
    whose folding the match would begin or end inside (`s` in `ß`) is not matched, where SQLite's folded body is."""
    if not folded(q):
        return "".join(f"[{_u(c)}{_u(c.swapcase())}]" if c.isascii() and c.isalpha() else _u(c) for c in q)
    target = fold(q)
    try:
        return _folded_pattern(target, len(target) * 64)
    except OverflowError:  # many overlapping ways to split it (a long run of 's'): the first way at each point
        return _folded_pattern(target, None)


def _folded_pattern(target: str, cap: int | None) -> str:
    """The expression of a folded text: single characters' brackets, and at each point where a folding of several
    letters starts, the alternatives (every way to split the rest when `cap` is set, OverflowError past `cap`
    characters; otherwise the longest folding, then on)."""
    var, multi = variants(), _multi_char()
    memo: dict[int, str] = {}

    def rest(i: int) -> str:
        if i in memo:
            return memo[i]
        j = i
        while j < len(target) and not any(target.startswith(f, j) for f in multi.get(target[j], ())):
            j += 1
        out = "".join(_class(ch, var) for ch in target[i:j])
        if j < len(target):
            longer = [f for f in multi[target[j]] if target.startswith(f, j)]
            if cap is None:
                whole = max(longer, key=len)
                alts = ["".join(_class(ch, var) for ch in whole)]
                alts += [_class_of(var[f]) + "".join(_class(ch, var) for ch in whole[len(f):]) for f in longer]
                out += f"(?:{'|'.join(alts)})" + rest(j + len(whole))
            else:
                alts = [_class(target[j], var) + rest(j + 1)] + [_class_of(var[f]) + rest(j + len(f)) for f in longer]
                out += f"(?:{'|'.join(alts)})"
        if cap is not None and len(out) > cap:
            raise OverflowError
        memo[i] = out
        return out

    return rest(0)


def _u(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def _class_of(chars: str) -> str:
    return _u(chars) if len(chars) == 1 else f"[{''.join(_u(c) for c in chars)}]"


def _class(ch: str, var: dict[str, str]) -> str:
    """A folded character as itself or any character folding to it."""
    return _class_of(ch + var.get(ch, ""))


@functools.cache
def _multi_char() -> dict[str, list[str]]:
    """The foldings of more than one character, by their first character."""
    out: dict[str, list[str]] = {}
    for f in variants():
        if len(f) > 1:
            out.setdefault(f[0], []).append(f)
    return out


def folded(q: str) -> bool:
    """Whether `q` is compared case-folded: not when its cased letters are all ASCII (characters with no case:
    Chinese, Japanese kana, Thai... are compared as themselves), which SQLite's own LIKE compares with no Python call
    a row."""
    return not (q.isascii() or all(c.isascii() or c.casefold() == c == c.upper() for c in q))


def _escape(q: str) -> str:
    return q.replace("/", "//").replace("%", "/%").replace("_", "/_")


RARE_TEXT = 20_000  # up to this many candidate content rows, a text search's page is built from them (an exact test each:
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
