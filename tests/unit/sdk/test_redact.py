"""The redaction engine (takeoff.sdk.redact): what it finds, what it leaves alone, and how it checks patterns."""
from __future__ import annotations

import pytest

from takeoff.sdk.redact import KINDS, cap, compile_patterns, iban_ok, is_card, is_phone, luhn_ok, redact


@pytest.mark.parametrize("number", ["4111111111111111", "5500005555555559", "378282246310005", "6011111111111117",
                                    "4012888888881881", "2223003122003222"])
def test_luhn_accepts_real_test_card_numbers(number):
    assert luhn_ok(number) and is_card(number)


@pytest.mark.parametrize("number", ["4111111111111112", "1234567890123456", "", "41111111a1111111",
                                    "0000000000000000",  # passes Luhn but no card network starts with 0
                                    "79927398713"])  # passes Luhn, too short for a card
def test_luhn_or_card_refuses(number):
    assert not is_card(number)


def test_iban_mod97():
    assert iban_ok("DE89370400440532013000") and iban_ok("GB82 WEST 1234 5698 7654 32") and iban_ok("FR1420041010050500013M02606")
    assert not iban_ok("DE89370400440532013001") and not iban_ok("XX00") and not iban_ok("DE8937040044053201300é")


@pytest.mark.parametrize(("text", "expected", "kind"), [
    ("write to jane.doe+tag@example.co.uk today", "write to [email] today", "email"),
    ("card 4111 1111 1111 1111 expires", "card [card] expires", "card"),
    ("card 4111-1111-1111-1111.", "card [card].", "card"),
    ("pay to DE89 3704 0044 0532 0130 00 please", "pay to [iban] please", "iban"),
    ("IBAN GB82WEST12345698765432, thanks", "IBAN [iban], thanks", "iban"),
    ("call +1 415 555 2671 now", "call [phone] now", "phone"),
    ("call +14155552671", "call [phone]", "phone"),
    ("call (415) 555-2671 now", "call [phone] now", "phone"),
    ("call 415-555-2671", "call [phone]", "phone"),
    ("ring 06 12 34 56 78", "ring [phone]", "phone"),
    ("ring 020 7946 0958.", "ring [phone].", "phone"),
    ("ring 0049 30 1234567", "ring [phone]", "phone"),
])
def test_finds_each_kind(text, expected, kind):
    out, counts = redact(text)
    assert out == expected and counts == {kind: 1}


@pytest.mark.parametrize("text", [
    "order 123456789 shipped", "invoice INV-2024-000123", "on 2024-01-15 at 10:30", "on 15/01/2024", "15.01.2024",
    "v1.2.3", "total $1,234,567.89", "3.14159265358979", "ip 192.168.100.200", "ts 1700000000.123",
    "id 550e8400-e29b-41d4-a716-446655440000", "4111111111111112 is not a card", "room 12 34 people",
    "ZIP 94105-1234", "1 234 567 units", "2024-01-15T10:30:00Z", "year 2023 2024 2025", "ratio 1:2:3",
    "DE89 3704 0044 0532 0130 01 (bad check digits)", "user@localhost", "call me at noon", "sku 00123-45",
    "amount 12.345.678,90", "isbn 978-3-16-148410-0",
])
def test_leaves_ordinary_numbers_dates_and_ids_alone(text):
    assert redact(text) == (text, {})


def test_several_findings_are_counted_and_kinds_can_be_chosen():
    text = "a@b.io, b@c.io, +33 6 12 34 56 78, 4111111111111111"
    out, counts = redact(text)
    assert counts == {"email": 2, "phone": 1, "card": 1} and "@" not in out and "4111" not in out
    only_mail, counts = redact(text, kinds=("email",))
    assert counts == {"email": 2} and "4111111111111111" in only_mail
    assert redact("", KINDS) == ("", {})


def test_operator_patterns_are_applied_after_the_builtins():
    pats = compile_patterns([("ticket", r"TCK-\d{6}"), ("employee", r"\bE\d{5}\b")])
    out, counts = redact("see TCK-123456 from E12345 (mail x@y.org)", patterns=pats)
    assert out == "see [ticket] from [employee] (mail [email])"
    assert counts == {"ticket": 1, "employee": 1, "email": 1}


@pytest.mark.parametrize(("specs", "field"), [
    ([("Bad Name", "x")], "patterns.0.name"),
    ([("email", "x")], "patterns.0.name"),
    ([("ok", "(")], "patterns.0.pattern"),
    ([("ok", "a*")], "patterns.0.pattern"),
    ([("ok", "")], "patterns.0.pattern"),
    ([("ok", "x" * 501)], "patterns.0.pattern"),
    ([("ok", "x"), ("nested", r"(a+)+b")], "patterns.1.pattern"),
    ([("ok", r"(\w*)*@")], "patterns.0.pattern"),
    ([(f"p{i}", "x") for i in range(21)], "patterns"),
])
def test_bad_operator_patterns_are_refused_naming_the_field(specs, field):
    with pytest.raises(ValueError) as exc:
        compile_patterns(specs)
    assert str(exc.value).startswith(field)


def test_cap_marks_what_it_cut():
    assert cap("hello", 10) == ("hello", False)
    out, cut = cap("x" * 25, 10)
    assert cut and out == "x" * 10 + "…[cut 15 characters]"


def test_phone_candidates_directly():
    assert is_phone("+44 20 7946 0958") and is_phone("(555) 123-4567")
    assert not is_phone("(555 123-4567") and not is_phone("12-34") and not is_phone("2024 01 15")


def test_tracker_content_and_trace_ride_on_the_event():
    from takeoff.sdk.tracking import Tracker

    sent: list[dict] = []
    t = Tracker(sent.append, "uc")
    with t:
        t.set_content(system="be brief", input="I am a@b.io", output=[{"role": "assistant", "content": "ok"}],
                      tool_calls=[{"name": "lookup", "arguments": "{}"}], documents=["d1"], redact=True)
        t.set_trace("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    ev = sent[0]
    assert ev["content"]["input"] == [{"role": "user", "content": "I am [email]"}]
    assert ev["content"]["output"][0]["role"] == "assistant" and ev["content"]["documents"] == ["d1"]
    assert ev["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and "parent_span_id" not in ev
    plain = Tracker(sent.append, "uc")
    assert "content" not in plain.event and "trace_id" not in plain.event  # older servers see no new keys
    with pytest.raises(ValueError):
        plain.set_trace("XYZ")
    with pytest.raises(ValueError):
        plain.set_content(input=[{"role": "user"}])


def test_email_search_near_each_at_sign_finds_what_the_full_scan_finds():
    """redact() starts each e-mail search at most 64 characters before the next '@': same matches as _EMAIL.sub."""
    import random
    import string

    from takeoff.sdk.redact import _EMAIL

    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "@@..-_+% \n"
    texts = ["a" * 64 + "@example.com", "a" * 65 + "@example.com", "x@y z@example.org", "@@a@b.co", "no at here",
             "é" + "b" * 63 + "@ex.com", "first@one.io and a stray @ then second@two.io"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90))) + rng.choice(["", " k@ex.com"])
              for _ in range(3000)]
    for text in texts:
        found = []
        expected = _EMAIL.sub(lambda m, found=found: found.append(1) or "[email]", text)
        assert redact(text, ("email",)) == (expected, {"email": len(found)} if found else {}), text


def _unfiltered(text: str, kinds: tuple[str, ...] = KINDS) -> tuple[str, dict[str, int]]:
    """Every built-in pass over every text, no gate: what redact() must give."""
    from takeoff.sdk.redact import _CARD, _EMAIL, _IBAN, _PHONE, iban_ok

    counts: dict[str, int] = {}

    def sub(kind, regex, text, check=None):
        def one(m):
            if check is not None and not check(m.group(0)):
                return m.group(0)
            counts[kind] = counts.get(kind, 0) + 1
            return f"[{kind}]"
        return regex.sub(one, text)

    def ibans(text):
        out, last = [], 0
        for m in _IBAN.finditer(text):
            cand = m.group(0)
            end = next((n for n in range(len(cand), 14, -1) if cand[n - 1] != " " and iban_ok(cand[:n])), None)
            if end is not None:
                out.append(text[last:m.start()] + "[iban]")
                last = m.start() + end
                counts["iban"] = counts.get("iban", 0) + 1
        return "".join(out) + text[last:]

    for kind in KINDS:
        if kind in kinds:
            text = {"email": lambda t: sub("email", _EMAIL, t), "iban": ibans,
                    "card": lambda t: sub("card", _CARD, t, is_card),
                    "phone": lambda t: sub("phone", _PHONE, t, is_phone)}[kind](text)
    return text, counts


def _luhn_number(rng, n: int) -> str:
    body = [rng.choice("23456")] + [rng.choice("0123456789") for _ in range(n - 2)]
    for last in "0123456789":
        if luhn_ok("".join(body) + last):
            return "".join(body) + last
    raise AssertionError


def test_the_digit_gates_find_what_every_pass_over_every_text_finds():
    """redact() skips the card, phone and IBAN passes where a cheap byte test shows they cannot match (no 13-digit
    run without spaces and dashes, no 8-digit run without " ().+-", no two capitals then two digits): the same
    results as running every pass, on seeded random texts rich in digits, separators and near-misses."""
    import random

    rng = random.Random(18)

    def piece() -> str:
        n = rng.randint(1, 20)
        choice = rng.randrange(12)
        if choice == 0:  # a card, plain or in groups of 4
            card = _luhn_number(rng, rng.choice([13, 15, 16, 19]))
            return rng.choice([card, " ".join(card[i:i + 4] for i in range(0, len(card), 4)),
                               "-".join(card[i:i + 4] for i in range(0, len(card), 4))])
        if choice == 1:  # a phone-like run
            return rng.choice(["+", "00", "(", ""]) + rng.choice([" ", "-", ".", ""]).join(
                "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 5)))
        if choice == 2:
            return rng.choice(["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606"])
        if choice == 3:
            return rng.choice(["a@b.io", "x.y+z@example.com", "@", "9@9.99"])
        if choice == 4:
            return "".join(rng.choice("ABCDEFXYZ0123456789 ") for _ in range(n))
        if choice == 5:
            return rng.choice(["2026-11-05", "12:30", "3.14", "10.0.0.1", "1/2", "19:45:00", "[card]", "é", "中"])
        if choice == 6 and rng.random() < 0.3:  # digits of other scripts, which the passes' \d matches too
            return "".join(rng.choice("0123456789\uff10\uff11\uff14\u0664\u0969 -") for _ in range(n + 12))
        if choice < 9:
            return "".join(rng.choice("0123456789 -().+/:,") for _ in range(n))
        return rng.choice(["order ", "call ", " and ", "ticket #", "\n", "IBAN ", "card: ", " "])

    texts = ["".join(piece() for _ in range(rng.randint(1, 14))) for _ in range(4000)]
    found = set()
    for text in texts:
        expected = _unfiltered(text)
        assert redact(text) == expected, text
        found.update(expected[1])
        kinds = tuple(k for k in KINDS if rng.random() < 0.5)
        assert redact(text, kinds) == _unfiltered(text, kinds), (text, kinds)
    assert found == set(KINDS)  # the texts held every kind
