"""text_index.words: the fast ASCII path gives exactly the words of the module's definition (maximal runs of a-z0-9
in the lower-cased body, a combining dot removed), over random bodies mixing ASCII, other scripts and case foldings."""
from __future__ import annotations

import random
import re

from takeoff.telemetry.text_index import words

RUN = re.compile(r"[a-z0-9]+")
ALPHABET = ("abcXYZ019 _-.,;:@/\\\n\t\"'{}[]\x00\x7f" + "éÉİıßẞΣσКкK" + "\u0307\u00a0\u2003")


def reference(bodies: list[str]) -> set[str]:
    """The definition, body by body (the code before the translate path)."""
    seen: set[str] = set()
    for body in bodies:
        low = body.lower()
        if not low.isascii():
            low = low.replace("\u0307", "")
        seen.update(RUN.findall(low))
    return seen


def test_words_equal_the_definition_on_random_bodies() -> None:
    rng = random.Random(20261207)
    for _ in range(400):
        n = rng.randint(0, 6)
        ascii_only = rng.random() < 0.6
        chars = ALPHABET[:33] if ascii_only else ALPHABET
        bodies = ["".join(rng.choice(chars) for _ in range(rng.randint(0, 80))) for _ in range(n)]
        got = words(bodies)
        assert set(got.split()) == reference(bodies), bodies
        assert len(got.split()) == len(set(got.split())), "each word once"


def test_words_do_not_join_across_bodies() -> None:
    assert set(words(["abc", "def"]).split()) == {"abc", "def"}
    assert set(words(["ORDER-1234", "İstanbul"]).split()) == {"order", "1234", "istanbul"}
    assert words([]) == "" and words([""]) == ""
