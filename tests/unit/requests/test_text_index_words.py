"""text_index.words: the fast ASCII path gives exactly the words of the module's definition (maximal runs of letters
and digits of any script in the case-folded body, a combining dot removed), over random bodies mixing ASCII, other
scripts and case foldings; and a body holding a text has block words matching every pattern of the text."""
from __future__ import annotations

import random
import re

from takeoff.core.textfold import fold
from takeoff.telemetry.text_index import query_patterns, words

RUN = re.compile(r"[^\W_]+")
CJK = re.compile("[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
                 "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]")
ALPHABET = ("abcXYZ019 _-.,;:@/\\\n\t\"'{}[]\x00\x7f" + "éÉİıßẞΣσςКкKΩω退款ǅ²" + "\u0307\u00a0\u2003"
            + "환불カ・")  # Hangul, katakana and its middle dot (punctuation inside the katakana block)


def reference(bodies: list[str]) -> set[str]:
    """The definition, body by body (the code before the translate path)."""
    seen: set[str] = set()
    for body in bodies:
        for run in RUN.findall(body.casefold().replace("\u0307", "")):
            seen.add(run)
            seen.update(c for c in run if CJK.fullmatch(c))
            seen.update(run[i:i + 2] for i in range(len(run) - 1)
                        if CJK.fullmatch(run[i]) and CJK.fullmatch(run[i + 1]))
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
    assert set(words(["Привет, МИР", "ΟΔΟΣ_Ζωής"]).split()) == {"привет", "мир", "οδοσ", "ζωήσ"}
    assert words([]) == "" and words([""]) == ""


def test_cjk_letters_give_every_letter_and_adjacent_pair_as_a_word() -> None:
    assert set(words(["我需要退款，谢谢"]).split()) == {"我需要退款", "我需", "需要", "要退", "退款", "谢谢",
                                                    "我", "需", "要", "退", "款", "谢"}
    assert set(words(["カ・カ 환불을"]).split()) == {"カ", "환불을", "환불", "불을", "환", "불", "을"}  # the dot is no letter
    assert set(words(["退"]).split()) == {"退"} and set(words(["Ωω ab"]).split()) == {"ωω", "ab"}
    assert set(words(["x退1"]).split()) == {"x退1", "退"}, "a letter inside a mixed run is a word too"


def test_query_patterns_bind_inner_words_to_word_bounds() -> None:
    assert query_patterns("ticket 4242 about") == ["% 4242 %", "%ticket %", "% about%"]
    assert query_patterns("4242") == ["%4242%"]
    assert query_patterns("order #12 shipped") == ["% 12 %", "% shipped%", "%order %"]  # " 12 " is a trigram
    assert query_patterns("a b") == [] and query_patterns("x_y") == [] and query_patterns("") == []
    assert query_patterns("İstanbul") == ["%istanbul%"], "the combining dot of the folding joins the word"
    assert query_patterns("café au lait") == ["% au %", "% lait%", "%café %"]
    assert query_patterns("ΟΔΟΣ") == query_patterns("οδος") == ["%οδοσ%"], "no final-sigma rule: folds alike anywhere"
    assert query_patterns("Привет, мир") == ["%привет %", "% мир%"]
    assert query_patterns("我需要退款") == ["%我需要退款%"]
    # one or two CJK letters: the block's unigram or bigram word (a trigram needs 3 characters, spaces included)
    assert query_patterns("退款") == ["% 退款 %"] and query_patterns("환불") == ["% 환불 %"]
    assert query_patterns("退") == ["% 退 %"] and query_patterns("退 款") == ["% 款 %", "% 退 %"]
    assert query_patterns("退款 a") == ["%退款 %"], "three characters with the bound: the plain literal"
    assert query_patterns("a退") == [] and query_patterns("・") == [], "a mixed short run, or CJK punctuation: none"
    assert query_patterns("STRASSE") == query_patterns("Straße") == ["%strasse%"]
    assert len(query_patterns(" ".join(f"w{i:03d}" for i in range(20)))) == 8


def test_a_body_holding_the_text_satisfies_every_pattern() -> None:
    """The superset property itself: a body that holds the text (any case) has block words matching every pattern
    of it, over random bodies and texts cut out of them at random places."""
    import fnmatch

    rng = random.Random(4242)
    for _ in range(3000):
        body = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 60)))
        i = rng.randint(0, len(body) - 1)
        q = body[i:rng.randint(i + 1, len(body))]
        q = "".join(c.upper() if rng.random() < 0.3 else c for c in q)
        if fold(q) not in fold(body):
            continue  # the case change made a different text: not a match to keep
        block = words([body, "other words here"])
        for p in query_patterns(q):
            assert fnmatch.fnmatchcase(block, p.replace("%", "*")), (body, q, p, block)
