"""Scorers: compare a target's output with a case's expectation; each returns a Score with an error category.

Deterministic scorers are pure functions (``check_*``) wrapped in a small class with an async ``score`` so the
runner treats them like the model-graded LLM judge.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jsonschema
from rapidfuzz import fuzz

from takeoff.evals.evalset_io import Case
from takeoff.evals.sandbox import Sandbox, SandboxError
from takeoff.evals.targets import (
    ClientPool,
    RetryPolicy,
    TargetError,
    TargetResponse,
    _check_url,
    extract_path,
    post_json_with_retry,
)

WRONG_ANSWER = "wrong_answer"
UNSAFE_OUTPUT = "unsafe_output"
MISSING_CONTEXT = "missing_context"
FORMAT_ERROR = "format_error"
TIMEOUT_OR_ERROR = "timeout_or_error"
ERROR_CATEGORIES = (WRONG_ANSWER, UNSAFE_OUTPUT, MISSING_CONTEXT, FORMAT_ERROR, TIMEOUT_OR_ERROR)


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


class Scorer(Protocol):
    name: str

    async def score(self, case: Case, response: TargetResponse) -> Score: ...


def _category(value: Any, default: str) -> str:
    if value is None:
        return default
    if value not in ERROR_CATEGORIES:
        raise ValueError(f"error category must be one of {', '.join(ERROR_CATEGORIES)}, got {value!r}")
    return value


def _verdict(ok: bool, value: float, category: str, detail: str) -> Score:
    return Score(ok, max(0.0, min(1.0, value)), None if ok else category, detail)


def _as_text(output: Any) -> str:
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
        ok = _norm(_as_text(output), case_sensitive) == _norm(_as_text(expected), case_sensitive)
    return _verdict(ok, 1.0 if ok else 0.0, category, "" if ok else f"expected {_as_text(expected)[:80]!r}")


def check_contains(output: Any, needles: list[str], *, mode: str = "all", case_sensitive: bool = False,
                   category: str = WRONG_ANSWER) -> Score:
    """Output contains all (or any) of the needles; value is the share found."""
    if not needles:
        return _verdict(False, 0.0, category, "nothing to look for: no expected value or 'values'")
    text = _norm(_as_text(output), case_sensitive)
    found = [n for n in needles if _norm(n, case_sensitive) in text]
    ok = bool(found) if mode == "any" else len(found) == len(needles)
    missing = [n for n in needles if n not in found]
    return _verdict(ok, len(found) / len(needles), category, "" if ok else f"missing {missing[:3]}")


def check_not_contains(output: Any, forbidden: list[str], *, case_sensitive: bool = False,
                       category: str = UNSAFE_OUTPUT) -> Score:
    """Output contains none of the forbidden phrases (a guardrail check)."""
    text = _norm(_as_text(output), case_sensitive)
    hits = [n for n in forbidden if _norm(n, case_sensitive) in text]
    ok = not hits
    return _verdict(ok, 1.0 if ok else 0.0, category, "" if ok else f"contains forbidden {hits[:3]}")


def check_regex(output: Any, pattern: re.Pattern[str], *, category: str = FORMAT_ERROR) -> Score:
    """Output matches the regular expression somewhere."""
    ok = pattern.search(_as_text(output)) is not None
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


def _parse_json(output: Any) -> tuple[Any, str | None]:
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
    _, err = _parse_json(output)
    return _verdict(err is None, 1.0 if err is None else 0.0, category, err or "")


def check_json_schema(output: Any, validator: jsonschema.protocols.Validator, *,
                      category: str = FORMAT_ERROR) -> Score:
    """Output parses as JSON and validates against the JSON Schema."""
    doc, err = _parse_json(output)
    if err:
        return _verdict(False, 0.0, category, err)
    first = next(iter(validator.iter_errors(doc)), None)
    if first is None:
        return _verdict(True, 1.0, category, "")
    where = "/".join(str(p) for p in first.absolute_path) or "(root)"
    return _verdict(False, 0.0, category, f"schema: {where}: {first.message[:160]}")


_SIMILARITY = {"ratio": fuzz.ratio, "token_sort_ratio": fuzz.token_sort_ratio,
               "token_set_ratio": fuzz.token_set_ratio, "partial_ratio": fuzz.partial_ratio}


def check_similarity(output: Any, expected: Any, *, threshold: float = 0.8, method: str = "token_sort_ratio",
                     category: str = WRONG_ANSWER) -> Score:
    """rapidfuzz similarity (0-1) at least threshold."""
    if expected is None:
        return _verdict(False, 0.0, category, "case has no expected value")
    value = _SIMILARITY[method](_norm(_as_text(output), False), _norm(_as_text(expected), False)) / 100
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


# --- scorer objects -------------------------------------------------------------------------------------------


class _Simple:
    """Wraps a pure check into the async Scorer interface."""

    def __init__(self, name: str, fn: Any) -> None:
        self.name = name
        self._fn = fn

    async def score(self, case: Case, response: TargetResponse) -> Score:
        return self._fn(case, response)


def _expected_list(case: Case, values: list[str] | None) -> list[str]:
    if values:
        return values
    if isinstance(case.expected, list):
        return [str(v) for v in case.expected]
    return [] if case.expected is None else [_as_text(case.expected)]


class LLMJudge:
    """Model-graded scorer: sends a rubric, the input, the expected and the output; reads a strict JSON verdict.

    The verdict must be {"score": 0..1, "passed": bool, "category": one of ERROR_CATEGORIES or null,
    "reason": str}; anything else is a format_error of the judge (case fails, run goes on).
    """

    def __init__(self, base_url: str, model: str, rubric: str, *, api_key: str | None = None,
                 threshold: float = 0.5, timeout_s: float = 60.0, retry: RetryPolicy | None = None,
                 name: str = "llm_judge") -> None:
        _check_url(base_url, "llm_judge base_url", "llm_judge")
        if not isinstance(model, str) or not model.strip():
            raise ValueError("llm_judge needs a model name")
        if not isinstance(rubric, str) or not rubric.strip():
            raise ValueError("llm_judge needs a non-empty rubric")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.rubric, self.threshold, self.name = model, rubric, float(threshold), name
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = float(timeout_s)
        self.retry = retry or RetryPolicy()
        self._client = ClientPool(32, what="llm_judge")

    def messages(self, case: Case, output: Any) -> list[dict[str, str]]:
        system = ("You are a strict evaluator. Grade the OUTPUT against the RUBRIC. Reply with JSON only: "
                  '{"score": <number 0..1>, "passed": <true|false>, "category": <null or one of '
                  + ", ".join(f'"{c}"' for c in ERROR_CATEGORIES) + '>, "reason": "<one sentence>"}')
        user = (f"RUBRIC:\n{self.rubric}\n\nINPUT:\n{_as_text(case.input)}\n\n"
                f"EXPECTED:\n{_as_text(case.expected) if case.expected is not None else '(none)'}\n\n"
                f"OUTPUT:\n{_as_text(output)}")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    @staticmethod
    def parse_verdict(text: Any, threshold: float) -> Score:
        """Strict parse of the judge's JSON; a malformed verdict is a failed case with format_error."""
        doc, err = _parse_json(text)
        if err or not isinstance(doc, Mapping):
            return Score(False, 0.0, FORMAT_ERROR, f"judge verdict is not a JSON object: {str(text)[:80]!r}")
        value = doc.get("score")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            return Score(False, 0.0, FORMAT_ERROR, "judge verdict 'score' must be a number in [0, 1]")
        passed = doc.get("passed", value >= threshold)
        if not isinstance(passed, bool):
            return Score(False, 0.0, FORMAT_ERROR, "judge verdict 'passed' must be true or false")
        passed = passed and value >= threshold
        category = doc.get("category")
        if category not in ERROR_CATEGORIES:
            category = None
        reason = str(doc.get("reason", ""))[:300]
        return Score(passed, float(value), None if passed else (category or WRONG_ANSWER), reason)

    async def score(self, case: Case, response: TargetResponse) -> Score:
        body = {"model": self.model, "messages": self.messages(case, response.output), "temperature": 0}
        try:
            payload, _ = await post_json_with_retry(self._client, "POST", self.url, body=body,
                                                    headers=self.headers, timeout_s=self.timeout_s,
                                                    retry=self.retry)
            text = extract_path(payload, "choices.0.message.content")
        except TargetError as exc:
            return Score(False, 0.0, TIMEOUT_OR_ERROR, f"judge call failed: {exc}")
        return self.parse_verdict(text, self.threshold)

    async def aclose(self) -> None:
        await self._client.aclose()


class CustomScorer:
    """A listed 'module:function' scorer f(output, expected, case) -> Score | bool | float | dict (may be async),
    called in the run's worker subprocess like a python target."""

    TIMEOUT_S = 60.0

    def __init__(self, ref: str, *, threshold: float = 0.5, name: str | None = None,
                 sandbox: Sandbox | None = None) -> None:
        self._own = sandbox is None
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self.ref = self.sandbox.add(ref, "custom scorer")
        self.name = name or ref
        self.threshold = float(threshold)

    async def score(self, case: Case, response: TargetResponse) -> Score:
        case_doc = {"__case__": True, "case_id": case.case_id, "input": case.input, "expected": case.expected,
                    "tags": list(case.tags), "metadata": case.metadata}
        try:
            result = await self.sandbox.call(self.ref, [response.output, case.expected, case_doc], self.TIMEOUT_S)
        except SandboxError as exc:
            return Score(False, 0.0, TIMEOUT_OR_ERROR, f"scorer failed: {exc}")
        return coerce_score(result, self.threshold)

    async def aclose(self) -> None:
        if self._own:
            await self.sandbox.aclose()


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
        cat = None if ok else _category(result.get("error_category"), WRONG_ANSWER)
        return Score(ok, max(0.0, min(1.0, value)), cat, str(result.get("detail", "")))
    raise ValueError("custom scorer must return a Score, a bool, a number 0-1 or a dict with 'passed'")


SCORER_TYPES = ("exact", "contains", "not_contains", "regex", "numeric", "json_valid", "json_schema",
                "similarity", "llm_judge", "custom", "latency_budget", "cost_budget")


def _num(spec: Mapping[str, Any], key: str, default: float | None, *, lo: float = 0.0,
         hi: float | None = None) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < lo or (hi is not None and value > hi):
        bound = f"in [{lo:g}, {hi:g}]" if hi is not None else f">= {lo:g}"
        raise ValueError(f"scorer {spec.get('type')!r}: '{key}' must be a number {bound}")
    return float(value)


def _str_list(spec: Mapping[str, Any], key: str) -> list[str] | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"scorer {spec.get('type')!r}: '{key}' must be a list of non-empty strings")
    return value


def make_scorer(spec: Mapping[str, Any], *, sandbox: Sandbox | None = None) -> Any:
    """Build one scorer from {type: ..., options}; ValueError with a clear message for a bad spec."""
    if not isinstance(spec, Mapping):
        raise ValueError("scorer spec must be an object with a 'type'")
    kind = spec.get("type")
    if kind not in SCORER_TYPES:
        raise ValueError(f"scorer type must be one of {', '.join(SCORER_TYPES)}, got {kind!r}")
    name = spec.get("name", kind)
    if not isinstance(name, str) or not name:
        raise ValueError("scorer name must be a non-empty string")
    cs = bool(spec.get("case_sensitive", False))
    if kind == "exact":
        cat = _category(spec.get("category"), WRONG_ANSWER)
        return _Simple(name, lambda c, r: check_exact(r.output, c.expected, case_sensitive=cs, category=cat))
    if kind == "contains":
        cat = _category(spec.get("category"), WRONG_ANSWER)
        values = _str_list(spec, "values")
        mode = spec.get("mode", "all")
        if mode not in ("all", "any"):
            raise ValueError("scorer 'contains': 'mode' must be 'all' or 'any'")
        return _Simple(name, lambda c, r: check_contains(r.output, _expected_list(c, values), mode=mode,
                                                         case_sensitive=cs, category=cat))
    if kind == "not_contains":
        cat = _category(spec.get("category"), UNSAFE_OUTPUT)
        forbidden = _str_list(spec, "values")
        if not forbidden:
            raise ValueError("scorer 'not_contains' needs 'values': the forbidden phrases")
        return _Simple(name, lambda c, r: check_not_contains(r.output, forbidden, case_sensitive=cs, category=cat))
    if kind == "regex":
        cat = _category(spec.get("category"), FORMAT_ERROR)
        pattern = spec.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("scorer 'regex' needs a 'pattern'")
        try:
            compiled = re.compile(pattern, 0 if cs else re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"scorer 'regex': invalid pattern ({exc})") from None
        return _Simple(name, lambda c, r: check_regex(r.output, compiled, category=cat))
    if kind == "numeric":
        cat = _category(spec.get("category"), WRONG_ANSWER)
        abs_tol = _num(spec, "abs_tol", 0.0)
        rel_tol = _num(spec, "rel_tol", 0.0)
        return _Simple(name, lambda c, r: check_numeric(r.output, c.expected, abs_tol=abs_tol, rel_tol=rel_tol,
                                                        category=cat))
    if kind == "json_valid":
        cat = _category(spec.get("category"), FORMAT_ERROR)
        return _Simple(name, lambda c, r: check_json_valid(r.output, category=cat))
    if kind == "json_schema":
        cat = _category(spec.get("category"), FORMAT_ERROR)
        schema = spec.get("schema")
        if not isinstance(schema, Mapping):
            raise ValueError("scorer 'json_schema' needs a 'schema' object")
        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"scorer 'json_schema': invalid schema ({exc.message})") from None
        validator = cls(schema)
        return _Simple(name, lambda c, r: check_json_schema(r.output, validator, category=cat))
    if kind == "similarity":
        cat = _category(spec.get("category"), WRONG_ANSWER)
        threshold = _num(spec, "threshold", 0.8, hi=1.0)
        method = spec.get("method", "token_sort_ratio")
        if method not in _SIMILARITY:
            raise ValueError(f"scorer 'similarity': method must be one of {', '.join(_SIMILARITY)}")
        return _Simple(name, lambda c, r: check_similarity(r.output, c.expected, threshold=threshold,
                                                           method=method, category=cat))
    if kind == "latency_budget":
        max_ms = _num(spec, "max_ms", None, lo=0.0)
        return _Simple(name, lambda c, r: check_latency(r.latency_ms, max_ms))
    if kind == "cost_budget":
        max_usd = _num(spec, "max_usd", None, lo=0.0)
        return _Simple(name, lambda c, r: check_cost(r.cost_usd, max_usd))
    if kind == "custom":
        ref = spec.get("ref")
        return CustomScorer(ref, threshold=_num(spec, "threshold", 0.5, hi=1.0), name=spec.get("name"),
                            sandbox=sandbox)
    # llm_judge
    allowed = {"type", "name", "base_url", "model", "rubric", "api_key", "threshold", "timeout_s"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"scorer 'llm_judge': unknown field {unknown[0]!r}")
    return LLMJudge(spec.get("base_url"), spec.get("model"), spec.get("rubric"), api_key=spec.get("api_key"),
                    threshold=_num(spec, "threshold", 0.5, hi=1.0), timeout_s=_num(spec, "timeout_s", 60.0, lo=0.1),
                    name=name)


def make_scorers(specs: Any, *, sandbox: Sandbox | None = None) -> list[Any]:
    """Build a list of scorers; at least one is required, names must be unique (custom ones use ``sandbox``)."""
    if not isinstance(specs, list) or not specs:
        raise ValueError("scorers must be a non-empty list of scorer specs")
    scorers = [make_scorer(s, sandbox=sandbox) for s in specs]
    names = [s.name for s in scorers]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ValueError(f"two scorers are named {dup!r}: give them distinct 'name's")
    return scorers
