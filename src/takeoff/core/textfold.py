"""The one case folding of text search (the block index's words and SQLite's exact test of a non-ASCII text)."""
from __future__ import annotations


def fold(text: str) -> str:
    """A text as a search compares it: case-folded character by character (`str.casefold`: 'ΟΔΟΣ' and 'οδος' alike,
    'Straße' as 'strasse'; no final-sigma or other context rule, so a text folds the same wherever it stands), the
    combining dot above that folding 'İ' yields removed (it must not split a word)."""
    return text.lower() if text.isascii() else text.casefold().replace("\u0307", "")


def fold_sql(text: str | None) -> str | None:
    """`fold` as SQLite's `takeoff_fold(x)` (registered on every connection: SQLite's own lower() is ASCII only)."""
    return None if text is None else fold(text)
