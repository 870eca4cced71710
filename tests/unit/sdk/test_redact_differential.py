"""The faster redaction engine gives exactly what the one before it gave (tests/unit/sdk/redact_reference.py): the
same text and the same counts for every kind selection and operator pattern, on a seeded random corpus built to
break the speed-ups (candidates at run edges, runs of separators, digits of other scripts, long texts, many
candidates, e-mail local parts near 64 characters), and the same verdict of each check on random candidates."""
from __future__ import annotations

import random
import string

import pytest

from takeoff.sdk import redact as new
from tests.unit.sdk import redact_reference as old

OTHER_DIGITS = "\uff10\uff11\uff14\u0664\u0969\u09e7"  # fullwidth, Arabic-Indic, Devanagari, Bengali: \d matches them
SEPARATORS = " -().+/:,"


def _luhn_number(rng: random.Random, n: int) -> str:
    body = [rng.choice("23456")] + [rng.choice(string.digits) for _ in range(n - 2)]
    return next("".join(body) + d for d in string.digits if old.luhn_ok("".join(body) + d))


def _piece(rng: random.Random) -> str:
    """One fragment: a real finding, a near miss, separators, letters, markers, other scripts."""
    choice = rng.randrange(16)
    n = rng.randint(1, 24)
    if choice == 0:
        card = _luhn_number(rng, rng.choice([13, 14, 15, 16, 19]))
        sep = rng.choice(["", " ", "-", "  ", " - "])
        return sep.join(card[i:i + 4] for i in range(0, len(card), 4))
    if choice == 1:  # phone-like: a prefix, groups, separators (some doubled), sometimes a closing bracket
        groups = ["".join(rng.choice(string.digits) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 6))]
        return rng.choice(["+", "00", "(", "", "+(", "((", "++"]) + rng.choice([" ", "-", ".", "", ") ", "  "]).join(groups)
    if choice == 2:
        return rng.choice(["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606",
                           "DE89370400440532013000X", "NL91ABNA0417164300", "XX00 0000"])
    if choice == 3:
        local = "".join(rng.choice(string.ascii_letters + string.digits + "._%+-") for _ in range(rng.choice([1, 8, 63, 64, 65])))
        return rng.choice([f"{local}@example.com", f"{local}@", "@", "@@", f"a.{local}@x.io", "9@9.99", f"{local}@ex-.com"])
    if choice == 4:
        return "".join(rng.choice("ABCDEFXYZ0123456789 ") for _ in range(n))
    if choice == 5:
        return rng.choice(["2026-11-05", "12:30", "3.14", "10.0.0.1", "1/2", "19:45:00", "[card]", "[phone]", "é", "中",
                           "2026-11-05 10:30", "1999 2000 2001", "192.168.100.200"])
    if choice == 6:  # digits of other scripts among ASCII ones
        return "".join(rng.choice(string.digits + OTHER_DIGITS + " -()") for _ in range(n + 8))
    if choice == 7:  # a long run of separators, then digits: the run finders' worst case
        return rng.choice(SEPARATORS) * rng.randint(20, 400) + "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 20)))
    if choice == 8:  # a long digit run
        return "".join(rng.choice(string.digits) for _ in range(rng.randint(20, 200)))
    if choice < 12:
        return "".join(rng.choice(string.digits + SEPARATORS) for _ in range(n))
    if choice == 12:
        return "".join(rng.choice(string.ascii_letters + "äöüßçñ") for _ in range(n))
    return rng.choice(["order ", "call ", " and ", "ticket #", "\n", "IBAN ", "card: ", " ", "\t", "x", "A1", "TCK-"])


def _corpus(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = ["".join(_piece(rng) for _ in range(rng.randint(1, 14))) for _ in range(count)]
    texts += ["".join(_piece(rng) for _ in range(rng.randint(100, 400))) for _ in range(40)]  # long, many candidates
    texts += ["", " ", "+", "(" * 500 + "1" * 7, "1 " * 2000, "-1" * 3000, "(1)" * 1000 + "234", "0" * 5000,
              "a@" * 500, "x" * 70 + "@example.com", "+" + "1 " * 30, "\uff11" * 20, "4111 1111 1111 1111" * 50]
    return texts


PATTERNS = new.compile_patterns([("ticket", r"TCK-\d{6}"), ("employee", r"\bE\d{5}\b"), ("edge", r"\b(?=\d{3}\b)"),
                                 ("caps", r"[A-Z]{3,}")])
OLD_PATTERNS = old.compile_patterns([(p.name, p.regex.pattern) for p in PATTERNS])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_engine_gives_what_the_reference_gave(seed):
    rng = random.Random(seed * 101)
    found: set[str] = set()
    for text in _corpus(seed, 2500):
        expected = old.redact(text)
        assert new.redact(text) == expected, text
        found.update(expected[1])
        kinds = tuple(k for k in new.KINDS if rng.random() < 0.5)
        assert new.redact(text, kinds) == old.redact(text, kinds), (text, kinds)
        if rng.random() < 0.2:
            assert new.redact(text, kinds, PATTERNS) == old.redact(text, kinds, OLD_PATTERNS), (text, kinds)
    assert found == set(new.KINDS)  # the corpus held every kind


def test_the_checks_give_what_the_reference_gave():
    """is_phone and is_card on random candidates, in and out of their expressions' alphabets."""
    rng = random.Random(5)
    alphabets = [string.digits + " ().-+", string.digits + " ().-+" + OTHER_DIGITS, string.digits + " -",
                 string.digits + " ().-+\t/x"]
    for _ in range(30_000):
        cand = rng.choice(["", "+", "00", "("]) + "".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(0, 24)))
        assert new.is_phone(cand) == old.is_phone(cand), cand
        assert new.is_card(cand) == old.is_card(cand), cand
