"""Redaction of personal data in free text: e-mail addresses, phone numbers, payment card numbers (Luhn-checked),
IBANs (mod-97-checked) and operator-defined patterns. Standard library only and pure: the server applies it before
storing captured content, and the SDK can apply it in the application before anything leaves it.

Each finding is replaced by a marker naming its kind (`[email]`, `[phone]`, `[card]`, `[iban]`, `[<pattern name>]`).
Checks keep ordinary numbers alone: a digit run is a card only when it passes the Luhn check, an IBAN only when it
passes mod-97, and a phone number needs a leading `+`/`00` or separators in at least three groups, 9 to 15 digits,
and is never a date, a time, a decimal or a dotted IP address.
"""
from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

KINDS = ("email", "iban", "card", "phone")  # applied in this order, each on the text the previous left
MAX_PATTERNS = 20
MAX_PATTERN_CHARS = 500
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

_EMAIL = re.compile(r"[A-Za-z0-9](?<![\w.+-][A-Za-z0-9])[A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])")
_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]){11,30}")
_CARD = re.compile(r"\d(?<![\w.,-]\d)(?<![A-Z]{2}\d\d \d)(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)")
_PHONE = re.compile(r"[+(\d](?<![\w.,+/:-][+(\d])[\d ().-]{5,22}\d(?![\w-]|[.,/:]\d)")
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})(?:[ T]\d{1,2}[:.]\d{2}.*)?$")
_DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_OTHER_DIGIT = re.compile(r"(?=\d)[^0-9]")  # a digit of another script (fullwidth, Arabic-Indic...): \d matches it
# UTF-8 bytes: every ASCII digit to b"0", every other byte to b"x" (a run of digits is then a substring test)
_DIGIT_MASK = bytes(48 if 48 <= b <= 57 else 120 for b in range(256))
_IBAN_MASK = bytes(48 if 48 <= b <= 57 else 65 if 65 <= b <= 90 else 120 for b in range(256))  # and A-Z to b"A"
# Every expression starts with a character class and checks what precedes it after that first character: Python's
# engine then skips ahead to candidate characters instead of trying a lookbehind at every position (~5x faster).
# A quantified group that itself holds a quantifier, e.g. (a+)+ or (\w*)*: catastrophic backtracking on a miss.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


@dataclass(frozen=True)
class Pattern:
    """An operator-defined pattern: its name (the marker) and the compiled expression."""

    name: str
    regex: re.Pattern[str]


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check of a digit string, as payment card numbers carry it."""
    if not digits.isdigit() or not digits:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """The ISO 13616 check of an IBAN (spaces allowed): country letters, 2 check digits, mod 97 == 1."""
    s = text.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit() or not s.isalnum() or not s.isascii():
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def is_card(candidate: str) -> bool:
    """A digit run (spaces or dashes allowed) that is a payment card number: 13-19 digits, a card network's first
    digit (2-6), and the Luhn check."""
    digits = candidate.replace(" ", "").replace("-", "")
    groups = [len(g) for g in re.split(r"[ -]", candidate)]
    if len(groups) > 1 and groups not in ([4, 6, 5], [4, 6, 4]) and (
            any(g != 4 for g in groups[:-1]) or not 1 <= groups[-1] <= 4):
        return False  # written in groups, a card number is 4-4-4-4(-3) or American Express's 4-6-5
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


def is_phone(candidate: str) -> bool:
    """Whether a candidate run of digits and separators reads as a phone number rather than a date, a time, an
    amount, a decimal, an IP address or an id."""
    # the candidate holds only digits and " ().-+" (counted on the bytes when ASCII: one C pass, not six)
    digits = (len(candidate.encode().translate(None, b" ().-+")) if candidate.isascii()
              else len(candidate) - sum(map(candidate.count, " ().-+")))
    international = candidate.startswith(("+", "00"))
    if not (8 <= digits <= 15 if international else 9 <= digits <= 12):  # first: the cheapest test, the most misses
        return False
    if candidate.count("(") != candidate.count(")"):
        return False
    if candidate[0] not in "+(" and (_DATE_LIKE.match(candidate) or _DOTTED_QUAD.match(candidate)):
        return False  # (both start with a digit)
    groups = [g for g in candidate.lstrip("+").replace("(", " ").replace(")", " ").replace(".", " ").replace("-", " ")
              .split(" ") if g]  # the groups between runs of " ().-"
    if international:
        return len(groups) == 1 or max(map(len, groups)) <= 10
    if len(groups) < 3 or all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
        return False  # national numbers come in 3+ groups; a run of years is not one
    return all(2 <= len(g) <= 4 for g in groups[1:]) and len(groups[0]) <= 4


def compile_patterns(specs: Iterable[tuple[str, str]]) -> list[Pattern]:
    """Operator patterns (name, regular expression) compiled; ValueError naming the first bad one (a bad name, a
    syntax error, one that matches the empty text, one prone to catastrophic backtracking, too many or too long)."""
    out: list[Pattern] = []
    for i, (name, source) in enumerate(specs):
        where = f"patterns.{i}"
        if i >= MAX_PATTERNS:
            raise ValueError(f"patterns: at most {MAX_PATTERNS} patterns")
        if not isinstance(name, str) or not _NAME.match(name) or name in KINDS:
            raise ValueError(f"{where}.name: a lowercase name of 1-40 letters, digits, '_' or '-' that is not one "
                             f"of {', '.join(KINDS)}")
        if not isinstance(source, str) or not source or len(source) > MAX_PATTERN_CHARS:
            raise ValueError(f"{where}.pattern: a regular expression of 1-{MAX_PATTERN_CHARS} characters")
        try:
            regex = re.compile(source)
        except re.error as exc:
            raise ValueError(f"{where}.pattern: not a valid regular expression ({exc})") from None
        if regex.fullmatch(""):
            raise ValueError(f"{where}.pattern: matches the empty text")
        if _NESTED_QUANTIFIER.search(source):
            raise ValueError(f"{where}.pattern: a repeated group holding a repeat, e.g. (a+)+, can take exponential "
                             f"time; write it without the nesting")
        out.append(Pattern(name, regex))
    return out


def redact(text: str, kinds: Sequence[str] = KINDS, patterns: Sequence[Pattern] = ()) -> tuple[str, dict[str, int]]:
    """The text with every finding replaced by its marker, and how many of each kind were replaced."""
    counts: dict[str, int] = {}
    if not text:
        return text, counts
    # each built-in needs ASCII digits (email aside): skip what cannot match. Counted on the UTF-8 bytes (no other
    # character's encoding holds one): one C pass, 3x ten str.count passes
    encoded = text.encode("utf-8", "surrogatepass")
    digits = len(encoded) - len(encoded.translate(None, b"0123456789"))
    # A card is 13+ digits apart from single spaces or dashes, a phone 8+ digits among " ().+-": with those
    # characters deleted, its digits are consecutive, so a text without such a run skips the pass (the markers the
    # earlier passes put in hold none of these characters, so they never join two runs)
    card_run = digits >= 13 and "card" in kinds and b"0" * 13 in encoded.translate(_DIGIT_MASK, b" -")
    phone_run = digits >= 8 and "phone" in kinds and b"0" * 8 in encoded.translate(_DIGIT_MASK, b" ().+-")
    # an IBAN starts with two capitals and two digits
    iban_start = digits >= 2 and "iban" in kinds and b"AA00" in encoded.translate(_IBAN_MASK)
    if not text.isascii() and _OTHER_DIGIT.search(text):  # the byte tests see ASCII digits only: run every pass
        card_run, phone_run, iban_start = "card" in kinds, "phone" in kinds, "iban" in kinds
    if "@" in text and "email" in kinds:
        text = _redact_emails(text, counts)
    if iban_start:
        text = _redact_ibans(text, counts)
    if card_run:
        text = _sub_in_runs("card", _CARD, _runs(text, _CARD_ALPHABET, _CARD_MASK, _CARD_RUN, 13), text, is_card,
                            counts)
    if phone_run:
        text = _sub_in_runs("phone", _PHONE, _runs(text, _PHONE_ALPHABET, _PHONE_MASK, _PHONE_RUN, 8), text,
                            is_phone, counts)
    for p in patterns:
        text = _sub(p.name, p.regex, text, counts)
    return text, counts


# A candidate's characters all belong to its expression's alphabet (a phone: digits and " ().+-"; a card: digits,
# spaces and dashes), and one its check accepts holds at least 8 (13) digits: so it lies within a maximal run of that
# alphabet holding as many. An ASCII text's runs are found on its bytes mapped to b"0" (in the alphabet) or b"x"
# (a few C searches); other texts' with these expressions, from a run's first digit greedily to its end (one repeat
# of a character class: linear time).
_PHONE_ALPHABET = " ().+-0123456789"
_CARD_ALPHABET = " -0123456789"
_PHONE_MASK = bytes(48 if chr(b) in _PHONE_ALPHABET else 120 for b in range(256))
_CARD_MASK = bytes(48 if chr(b) in _CARD_ALPHABET else 120 for b in range(256))
_PHONE_RUN = re.compile(r"\d[\d ().+-]{7,}")
_CARD_RUN = re.compile(r"\d[\d -]{12,}")


def _runs(text: str, alphabet: str, mask: bytes, regex: re.Pattern[str], min_digits: int) -> list[tuple[int, int]]:
    """The (start, end) of each maximal run of the alphabet's characters holding at least `min_digits` digits (ASCII
    ones when the text is ASCII, any script's otherwise)."""
    out = []
    if text.isascii():
        raw = text.encode()
        masked = raw.translate(mask)
        pos, need = 0, b"0" * min_digits
        while (start := masked.find(need, pos)) != -1:  # a run's start: an earlier one would have been found
            end = masked.find(b"x", start)
            end = len(masked) if end == -1 else end
            run = raw[start:end]
            if len(run) - len(run.translate(None, b"0123456789")) >= min_digits:
                out.append((start, end))
            pos = end
        return out
    done = 0
    for m in regex.finditer(text):  # from the run's first digit: back over the run's other characters before it
        start, end = m.span()
        before = text[done:start]
        out.append((start - (len(before) - len(before.rstrip(alphabet))), end))
        done = end
    return out


def _sub_in_runs(kind: str, regex: re.Pattern[str], runs: list[tuple[int, int]], text: str,
                 check: Callable[[str], bool], counts: dict[str, int]) -> str:
    """`regex.sub` of the candidates `check` accepts, the expression tried only within `runs` (`_runs`).

    The same result as a scan of the whole text: a scan enters a run at its start (no candidate starts between
    runs, and one ends within its run; runs with too few digits hold none `check` accepts), and within it tries the
    same positions. Each search ends 2 characters past its run, so the expression's look-behind (which sees before
    a search's start) and look-ahead (at most 2 characters) see the text as a whole scan does."""
    out: list[str] = []
    last = 0
    size = len(text)
    for start, end in runs:
        for m in regex.finditer(text, start, min(size, end + 2)):
            if check(m.group()):
                out.append(text[last:m.start()])
                out.append(f"[{kind}]")
                last = m.end()
                counts[kind] = counts.get(kind, 0) + 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _sub(kind: str, regex: re.Pattern[str], text: str, counts: dict[str, int]) -> str:
    """Every match of an operator pattern replaced by its marker."""
    out: list[str] = []
    last = 0
    for m in regex.finditer(text):
        out.append(text[last:m.start()])
        out.append(f"[{kind}]")
        last = m.end()
    if not out:
        return text
    counts[kind] = counts.get(kind, 0) + len(out) // 2
    out.append(text[last:])
    return "".join(out)


def _redact_emails(text: str, counts: dict[str, int]) -> str:
    """E-mail addresses, as `_EMAIL.sub` finds them, with each search started where a match using the next '@'
    could start at the earliest: at most a local part's length (64 characters) before it, and not before the run of
    local-part characters that ends at it (a match's local part runs up to its '@'). No match starts earlier, so the
    text before is never tried at every letter (the lookbehind still sees what precedes the start)."""
    out, last = [], 0
    at = text.find("@")
    while at != -1:
        lo = max(last, at - _EMAIL_LOCAL_MAX)
        local = text[lo:at]
        m = _EMAIL.search(text, at - (len(local) - len(local.rstrip(_EMAIL_LOCAL_CHARS))))
        if m is None:
            break
        out.append(text[last:m.start()] + "[email]")
        last = m.end()
        counts["email"] = counts.get("email", 0) + 1
        at = text.find("@", last)
    return "".join(out) + text[last:] if out else text


_EMAIL_LOCAL_CHARS = string.ascii_letters + string.digits + "._%+-"  # _EMAIL's local part
_EMAIL_LOCAL_MAX = 64  # _EMAIL's local part: one character, then at most 63


def _redact_ibans(text: str, counts: dict[str, int]) -> str:
    """IBANs; a candidate that ran on into following letters or digits is shortened until it checks (or skipped)."""
    out, last = [], 0
    for m in _IBAN.finditer(text):
        cand = m.group(0)
        end = next((n for n in range(len(cand), 14, -1) if cand[n - 1] != " " and iban_ok(cand[:n])), None)
        if end is None:
            continue
        out.append(text[last:m.start()] + "[iban]")
        last = m.start() + end
        counts["iban"] = counts.get("iban", 0) + 1
    return "".join(out) + text[last:] if out else text


def cap(text: str, max_chars: int) -> tuple[str, bool]:
    """The text cut to `max_chars` with a visible marker saying how much was cut; (text, whether it was cut)."""
    if len(text) <= max_chars:
        return text, False
    return f"{text[:max_chars]}…[cut {len(text) - max_chars} characters]", True
