"""The one case folding of text search (the block index's words, SQLite's exact test of a non-ASCII text) and its
reverse (`variants`: PostgreSQL's exact test matches every character that folds alike)."""
from __future__ import annotations

import functools


def fold(text: str) -> str:
    """A text as a search compares it: case-folded character by character (`str.casefold`: 'ΟΔΟΣ' and 'οδος' alike,
    'Straße' as 'strasse'; no final-sigma or other context rule, so a text folds the same wherever it stands), the
    combining dot above that folding 'İ' yields removed (it must not split a word)."""
    return text.lower() if text.isascii() else text.casefold().replace("\u0307", "")


def fold_sql(text: str | None) -> str | None:
    """`fold` as SQLite's `takeoff_fold(x)` (registered on every connection: SQLite's own lower() is ASCII only)."""
    return None if text is None else fold(text)


COMBINING_DOT = "\u0307"  # what `fold` removes (a search ignores it in the stored text too)
_CASED_BELOW = 0x20000  # every character with a case lies below U+20000 (Adlam, U+1E900-1E95F, is the last)


@functools.cache
def variants() -> dict[str, str]:
    """Each folded text (one to three characters) that some other character folds to, and those characters: the
    reverse of `fold` over all of Unicode ('k' -> 'K' and the Kelvin sign, 'σ' -> 'Σς', 'ss' -> 'ßẞ'). Built once,
    ~25 ms."""
    out: dict[str, list[str]] = {}
    for cp in range(_CASED_BELOW):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        f = fold(c)
        if f and f != c:
            out.setdefault(f, []).append(c)
    return {f: "".join(cs) for f, cs in out.items()}
