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
        expected = _EMAIL.sub(lambda m: found.append(1) or "[email]", text)
        assert redact(text, ("email",)) == (expected, {"email": len(found)} if found else {}), text
