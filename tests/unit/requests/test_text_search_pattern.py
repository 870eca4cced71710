"""text_search.pg_pattern, PostgreSQL's exact test of a text: over seeded random bodies and texts mixing ASCII, other
cases and foldings of several letters (ß, ﬁ, ﬃ, ﬆ, the Kelvin sign, a final sigma, a combining dot), it matches
exactly where SQLite's test does: ASCII letters in either case for a text `folded` says is not folded, and for one
it is, the folded text made of whole characters of the body (`fold(body)` holding it at character bounds)."""
from __future__ import annotations

import random
import re

from takeoff.core.textfold import COMBINING_DOT, fold
from takeoff.requests.text_search import folded, pg_pattern

ALPHABET = list("abcksSiIx %_/\\.") + list("éÉİıßẞΣσςKΩωſﬁﬃﬆ退") + [COMBINING_DOT, "ss", "fi", "ffi", "st"]


def _ascii_ci(s: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in s)


def _at_bounds(body: str, target: str) -> bool:
    """Whether the foldings of some run of the body's characters make exactly `target`."""
    folds = [fold(c) for c in body]
    for start in range(len(body)):
        acc = ""
        for f in folds[start:]:
            acc += f
            if acc == target:
                return True
            if not target.startswith(acc):
                break
    return False


def test_the_pattern_matches_where_sqlite_does() -> None:
    rng = random.Random(18)
    checked = 0
    for _ in range(6000):
        body = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))
        q = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 3)))
        if not fold(q):
            continue
        checked += 1
        if folded(q):
            got = re.search(pg_pattern(q), body.replace(COMBINING_DOT, "")) is not None
            assert got == _at_bounds(body.replace(COMBINING_DOT, ""), fold(q)), (q, body)
        else:
            assert (re.search(pg_pattern(q), body) is not None) == (_ascii_ci(q) in _ascii_ci(body)), (q, body)
    assert checked > 5000


def test_the_pattern_holds_no_operator_and_stays_small() -> None:
    assert pg_pattern("a.b*(c)|[d]\\") == ("[\\u0061\\u0041]\\u002e[\\u0062\\u0042]\\u002a\\u0028[\\u0063\\u0043]\\u0029"
                                            "\\u007c\\u005b[\\u0064\\u0044]\\u005d\\u005c")
    assert re.search(pg_pattern("οδος"), "ΟΔΟΣ") and re.search(pg_pattern("STRAßE"), "Strasse")
    assert re.search(pg_pattern("ﬁle"), "FILE") and not re.search(pg_pattern("file"), "ﬁle")  # ASCII: as SQLite's LIKE
    long = "Σ" + "s" * 200  # every way to split a run of 's' into ß and s would be 2^100 alternatives: one way then
    assert len(pg_pattern(long)) < 20_000 and re.search(pg_pattern(long), "σ" + "ß" * 100)
