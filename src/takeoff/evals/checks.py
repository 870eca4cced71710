"""Scorers' pure checks: compare a target's output with a case's expectation and return a Score with an error
category. No I/O: the scorer kinds of evals.scorers wrap them; their own unit tests are tests/unit/evals."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
from rapidfuzz import fuzz

from takeoff.sdk.tracking import ERROR_CATEGORIES

# The SDK's error categories (one vocabulary for events and eval results), by name for the checks' defaults.
WRONG_ANSWER, UNSAFE_OUTPUT, MISSING_CONTEXT, FORMAT_ERROR, TIMEOUT_OR_ERROR = ERROR_CATEGORIES


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one output: pass/fail, a 0-1 value, why it failed (category) and detail."""

    passed: bool
    value: float
    error_category: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "value": self.value, "error_category": self.error_category,
                "detail": self.detail}


def category_of(value: Any, default: str) -> str:
    """A scorer spec's error category, or the default when it names none; ValueError for an unknown one."""
    if value is None:
        return default
    if value not in ERROR_CATEGORIES:
        raise ValueError(f"error category must be one of {', '.join(ERROR_CATEGORIES)}, got {value!r}")
    return str(value)


def _verdict(ok: bool, value: float, category: str, detail: str) -> Score:
    return Score(ok, max(0.0, min(1.0, value)), None if ok else category, detail)


def as_text(output: Any) -> str:
    """An output as text: strings as they are, anything else as sorted JSON."""
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False, sort_keys=True)


def _norm(text: str, case_sensitive: bool) -> str:
    text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


# --- pure checks ----------------------------------------------------------------------------------------------


def check_exact(output: Any, expected: Any, *, case_sensitive: bool = False,
                category: str = WRONG_ANSWER) -> Score:
    """Equal after whitespace (and by default case) normalisation; structured values compare as JSON."""
    if expected is None:
        return _verdict(False, 0.0, category, "case has no expected value")
    if not isinstance(expected, str) and not isinstance(output, str):
        ok = output == expected
    else:
        ok = _norm(as_text(output), case_sensitive) == _norm(as_text(expected), case_sensitive)
    return _verdict(ok, 1.0 if ok else 0.0, category, "" if ok else f"expected {as_text(expected)[:80]!r}")


def check_contains(output: Any, needles: list[str], *, mode: str = "all", case_sensitive: bool = False,
                   category: str = WRONG_ANSWER) -> Score:
    """Output contains all (or any) of the needles; value is the share found."""
    if not needles:
        return _verdict(False, 0.0, category, "nothing to look for: no expected value or 'values'")
    text = _norm(as_text(output), case_sensitive)
    found = [n for n in needles if _norm(n, case_sensitive) in text]
    ok = bool(found) if mode == "any" else len(found) == len(needles)
    missing = [n for n in needles if n not in found]
    return _verdict(ok, len(found) / len(needles), category, "" if ok else f"missing {missing[:3]}")


def check_not_contains(output: Any, forbidden: list[str], *, case_sensitive: bool = False,
                       category: str = UNSAFE_OUTPUT) -> Score:
    """Output contains none of the forbidden phrases (a guardrail check)."""
    text = _norm(as_text(output), case_sensitive)
    hits = [n for n in forbidden if _norm(n, case_sensitive) in text]
    ok = not hits
    return _verdict(ok, 1.0 if ok else 0.0, category, "" if ok else f"contains forbidden {hits[:3]}")


def check_regex(output: Any, pattern: re.Pattern[str], *, category: str = FORMAT_ERROR) -> Score:
    """Output matches the regular expression somewhere."""
    ok = pattern.search(as_text(output)) is not None
    return _verdict(ok, 1.0 if ok else 0.0, category, "" if ok else f"no match for /{pattern.pattern}/")


_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = _NUMBER.search(value.replace(",", "") if value.count(",") and value.count(".") else value)
        if m:
            try:
                return float(m.group(0).replace(",", "."))
            except ValueError:
                return None
    return None


def check_numeric(output: Any, expected: Any, *, abs_tol: float = 0.0, rel_tol: float = 0.0,
                  category: str = WRONG_ANSWER) -> Score:
    """First number in the output is within abs_tol or rel_tol of the expected number."""
    want = _to_number(expected)
    if want is None:
        return _verdict(False, 0.0, category, "case has no numeric expected value")
    got = _to_number(output)
    if got is None:
        return _verdict(False, 0.0, FORMAT_ERROR, "output contains no number")
    err = abs(got - want)
    ok = err <= max(abs_tol, rel_tol * abs(want))
    return _verdict(ok, 1.0 if ok else 0.0, category, f"got {got:g}, expected {want:g} (|diff| {err:g})")


def parse_json(output: Any) -> tuple[Any, str | None]:
    """(document, None) when the output is or parses as JSON (a ```json fence is accepted), else (None, why)."""
    if not isinstance(output, str):
        return output, None
    text = output.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.S)
    if fence:
        text = fence.group(1)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at column {exc.colno}"


def check_json_valid(output: Any, *, category: str = FORMAT_ERROR) -> Score:
    """Output is (or parses as) JSON; a ```json fence is accepted."""
    _, err = parse_json(output)
    return _verdict(err is None, 1.0 if err is None else 0.0, category, err or "")


def check_json_schema(output: Any, validator: jsonschema.protocols.Validator, *,
                      category: str = FORMAT_ERROR) -> Score:
    """Output parses as JSON and validates against the JSON Schema."""
    doc, err = parse_json(output)
    if err:
        return _verdict(False, 0.0, category, err)
    first = next(iter(validator.iter_errors(doc)), None)
    if first is None:
        return _verdict(True, 1.0, category, "")
    where = "/".join(str(p) for p in first.absolute_path) or "(root)"
    return _verdict(False, 0.0, category, f"schema: {where}: {first.message[:160]}")


SIMILARITY_METHODS = {"ratio": fuzz.ratio, "token_sort_ratio": fuzz.token_sort_ratio,
               "token_set_ratio": fuzz.token_set_ratio, "partial_ratio": fuzz.partial_ratio}


def check_similarity(output: Any, expected: Any, *, threshold: float = 0.8, method: str = "token_sort_ratio",
                     category: str = WRONG_ANSWER) -> Score:
    """rapidfuzz similarity (0-1) at least threshold."""
    if expected is None:
        return _verdict(False, 0.0, category, "case has no expected value")
    value = SIMILARITY_METHODS[method](_norm(as_text(output), False), _norm(as_text(expected), False)) / 100
    ok = value >= threshold
    return _verdict(ok, value, category, f"similarity {value:.2f} (threshold {threshold:.2f})")


def check_latency(latency_ms: float, max_ms: float, *, category: str = TIMEOUT_OR_ERROR) -> Score:
    """Per-case latency budget."""
    ok = latency_ms <= max_ms
    return _verdict(ok, 1.0 if ok else 0.0, category, f"latency {latency_ms:.0f} ms (budget {max_ms:g} ms)")


def check_cost(cost_usd: float | None, max_usd: float, *, category: str = TIMEOUT_OR_ERROR) -> Score:
    """Per-case cost budget; unknown cost fails, because a budget that cannot be checked is not met."""
    if cost_usd is None:
        return _verdict(False, 0.0, category, "target reported no cost")
    ok = cost_usd <= max_usd
    return _verdict(ok, 1.0 if ok else 0.0, category, f"cost ${cost_usd:.6f} (budget ${max_usd:g})")



def coerce_score(result: Any, threshold: float = 0.5) -> Score:
    """Turn a custom scorer's return value into a Score; ValueError if it is none of the accepted shapes."""
    if isinstance(result, Score):
        return result
    if isinstance(result, bool):
        return Score(result, 1.0 if result else 0.0, None if result else WRONG_ANSWER)
    if isinstance(result, (int, float)):
        value = max(0.0, min(1.0, float(result)))
        ok = value >= threshold
        return Score(ok, value, None if ok else WRONG_ANSWER)
    if isinstance(result, Mapping) and "passed" in result:
        ok = bool(result["passed"])
        value = float(result.get("value", 1.0 if ok else 0.0))
        cat = None if ok else category_of(result.get("error_category"), WRONG_ANSWER)
        return Score(ok, max(0.0, min(1.0, value)), cat, str(result.get("detail", "")))
    raise ValueError("custom scorer must return a Score, a bool, a number 0-1 or a dict with 'passed'")
