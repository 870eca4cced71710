"""The scorer registry, the extension point for a new kind of scorer: each kind (exact, contains, regex, llm_judge,
...) registers how its spec's options are validated and how a scorer is built from them. The defaults below are
registered through `register_scorer` like any other kind; eval runs, release specs and any caller scoring outputs
(production traffic, say) build scorers through `make_scorer` / `make_scorers`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jsonschema

from takeoff.evals.checks import (ERROR_CATEGORIES, FORMAT_ERROR, SIMILARITY_METHODS, TIMEOUT_OR_ERROR, UNSAFE_OUTPUT,
                                  WRONG_ANSWER, Score, coerce_score,
                                  as_text, category_of, check_contains, check_cost, check_exact, check_json_schema,
                                  check_json_valid, check_latency, check_not_contains, check_numeric, check_regex,
                                  check_similarity)
from takeoff.evals.evalset_io import Case
from takeoff.evals.judges import CustomScorer, LLMJudge, check_judge_url
from takeoff.evals.sandbox import Sandbox
from takeoff.evals.targets import TargetResponse


class Scorer(Protocol):
    """What a built scorer offers the runner: a name and an async verdict on one case's response."""

    name: str

    async def score(self, case: Case, response: TargetResponse) -> Score: ...


Options = dict[str, Any]
# What callers scoring outputs use (the verdict's shape and categories are evals.checks', named here too).
__all__ = ["ERROR_CATEGORIES", "FORMAT_ERROR", "TIMEOUT_OR_ERROR", "UNSAFE_OUTPUT", "WRONG_ANSWER", "CheckScorer",
           "CustomScorer", "LLMJudge", "Score", "Scorer", "ScorerKind", "coerce_score", "make_scorer", "make_scorers",
           "register_scorer", "scorer_kinds", "scorer_types", "validate_scorer"]
Validate = Callable[[Mapping[str, Any]], Options]
Build = Callable[[str, Options, Sandbox | None], Scorer]


@dataclass(frozen=True)
class ScorerKind:
    """One kind of scorer: its spec `type`, what it checks, its options' validator and its builder.

    `validate(spec)` returns the clean options or raises ValueError naming the bad field (a 422 at the edge);
    `build(name, options, sandbox)` returns an object with a `name` and an async `score(case, response)`."""

    type: str
    description: str
    validate: Validate
    build: Build


_KINDS: dict[str, ScorerKind] = {}


def register_scorer(kind: ScorerKind) -> ScorerKind:
    """Add a scorer kind to the registry (a type is registered once); returns it."""
    if not isinstance(kind, ScorerKind) or not kind.type or kind.type in _KINDS:
        raise ValueError(f"scorer kind {getattr(kind, 'type', kind)!r} is not a new ScorerKind")
    _KINDS[kind.type] = kind
    return kind


def scorer_kinds() -> list[ScorerKind]:
    """Every registered scorer kind, in registration order."""
    return list(_KINDS.values())


def scorer_types() -> tuple[str, ...]:
    """The registered scorer types, in registration order."""
    return tuple(_KINDS)


def _kind_and_name(spec: Any) -> tuple[ScorerKind, str]:
    if not isinstance(spec, Mapping):
        raise ValueError("scorer spec must be an object with a 'type'")
    t = spec.get("type")
    kind = _KINDS.get(t) if isinstance(t, str) else None
    if kind is None:
        raise ValueError(f"scorer type must be one of {', '.join(_KINDS)}, got {spec.get('type')!r}")
    name = spec.get("name", kind.type)
    if not isinstance(name, str) or not name:
        raise ValueError("scorer name must be a non-empty string")
    return kind, name


def validate_scorer(spec: Any) -> Options:
    """Check one scorer spec without building it (no client, no sandbox); ValueError naming the problem."""
    kind, _ = _kind_and_name(spec)
    return kind.validate(spec)


def make_scorer(spec: Any, *, sandbox: Sandbox | None = None) -> Any:
    """Build one scorer from {type: ..., options}; ValueError with a clear message for a bad spec."""
    kind, name = _kind_and_name(spec)
    return kind.build(name, kind.validate(spec), sandbox)


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


# --- helpers for kinds' validators and builders ---------------------------------------------------------------


class CheckScorer:
    """A scorer from a pure check: `fn(case, response) -> Score` behind the async Scorer interface."""

    def __init__(self, name: str, fn: Callable[[Case, TargetResponse], Score]) -> None:
        self.name = name
        self._fn = fn

    async def score(self, case: Case, response: TargetResponse) -> Score:
        return self._fn(case, response)


def number(spec: Mapping[str, Any], key: str, default: float | None, *, lo: float = 0.0,
           hi: float | None = None) -> float:
    """A numeric option in [lo, hi] (default when absent); ValueError naming the field."""
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < lo or (hi is not None and value > hi):
        bound = f"in [{lo:g}, {hi:g}]" if hi is not None else f">= {lo:g}"
        raise ValueError(f"scorer {spec.get('type')!r}: '{key}' must be a number {bound}")
    return float(value)


def str_list(spec: Mapping[str, Any], key: str) -> list[str] | None:
    """A list-of-strings option, or None when absent; ValueError naming the field."""
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"scorer {spec.get('type')!r}: '{key}' must be a list of non-empty strings")
    return value


def _expected_list(case: Case, values: list[str] | None) -> list[str]:
    if values:
        return values
    if isinstance(case.expected, list):
        return [str(v) for v in case.expected]
    return [] if case.expected is None else [as_text(case.expected)]


def _common(spec: Mapping[str, Any], category: str) -> Options:
    return {"cat": category_of(spec.get("category"), category), "cs": bool(spec.get("case_sensitive", False))}


# --- the default kinds ------------------------------------------------------------------------------------------


def _contains_options(spec: Mapping[str, Any]) -> Options:
    mode = spec.get("mode", "all")
    if mode not in ("all", "any"):
        raise ValueError("scorer 'contains': 'mode' must be 'all' or 'any'")
    return {**_common(spec, WRONG_ANSWER), "values": str_list(spec, "values"), "mode": mode}


def _not_contains_options(spec: Mapping[str, Any]) -> Options:
    forbidden = str_list(spec, "values")
    if not forbidden:
        raise ValueError("scorer 'not_contains' needs 'values': the forbidden phrases")
    return {**_common(spec, UNSAFE_OUTPUT), "values": forbidden}


def _regex_options(spec: Mapping[str, Any]) -> Options:
    o = _common(spec, FORMAT_ERROR)
    pattern = spec.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("scorer 'regex' needs a 'pattern'")
    try:
        o["pattern"] = re.compile(pattern, 0 if o["cs"] else re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"scorer 'regex': invalid pattern ({exc})") from None
    return o


def _json_schema_options(spec: Mapping[str, Any]) -> Options:
    schema = spec.get("schema")
    if not isinstance(schema, Mapping):
        raise ValueError("scorer 'json_schema' needs a 'schema' object")
    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"scorer 'json_schema': invalid schema ({exc.message})") from None
    return {**_common(spec, FORMAT_ERROR), "validator": cls(schema)}


def _similarity_options(spec: Mapping[str, Any]) -> Options:
    method = spec.get("method", "token_sort_ratio")
    if method not in SIMILARITY_METHODS:
        raise ValueError(f"scorer 'similarity': method must be one of {', '.join(SIMILARITY_METHODS)}")
    return {**_common(spec, WRONG_ANSWER), "threshold": number(spec, "threshold", 0.8, hi=1.0), "method": method}


_JUDGE_FIELDS = {"type", "name", "base_url", "model", "rubric", "api_key", "threshold", "timeout_s"}


def _judge_options(spec: Mapping[str, Any]) -> Options:
    unknown = sorted(set(spec) - _JUDGE_FIELDS)
    if unknown:
        raise ValueError(f"scorer 'llm_judge': unknown field {unknown[0]!r}")
    threshold, timeout_s = number(spec, "threshold", 0.5, hi=1.0), number(spec, "timeout_s", 60.0, lo=0.1)
    check_judge_url(spec.get("base_url"))
    for key, what in (("model", "a model name"), ("rubric", "a non-empty rubric")):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise ValueError(f"llm_judge needs {what}")
    return {"base_url": spec["base_url"], "model": spec["model"], "rubric": spec["rubric"],
            "api_key": spec.get("api_key"), "threshold": threshold, "timeout_s": timeout_s}


def _check(fn: Callable[[Options, Case, TargetResponse], Score]) -> Build:
    """A builder for a kind whose scorer is one pure check over the validated options."""
    return lambda name, o, _sandbox: CheckScorer(name, lambda c, r: fn(o, c, r))


for _kind in (
    ScorerKind("exact", "equal to the expected value after whitespace (and case) normalisation",
               lambda s: _common(s, WRONG_ANSWER),
               _check(lambda o, c, r: check_exact(r.output, c.expected, case_sensitive=o["cs"], category=o["cat"]))),
    ScorerKind("contains", "contains all (or any) of the expected values", _contains_options,
               _check(lambda o, c, r: check_contains(r.output, _expected_list(c, o["values"]), mode=o["mode"],
                                                     case_sensitive=o["cs"], category=o["cat"]))),
    ScorerKind("not_contains", "contains none of the forbidden phrases (a guardrail)", _not_contains_options,
               _check(lambda o, c, r: check_not_contains(r.output, o["values"], case_sensitive=o["cs"],
                                                         category=o["cat"]))),
    ScorerKind("regex", "matches a regular expression", _regex_options,
               _check(lambda o, c, r: check_regex(r.output, o["pattern"], category=o["cat"]))),
    ScorerKind("numeric", "the first number is within a tolerance of the expected number",
               lambda s: {**_common(s, WRONG_ANSWER), "abs_tol": number(s, "abs_tol", 0.0),
                          "rel_tol": number(s, "rel_tol", 0.0)},
               _check(lambda o, c, r: check_numeric(r.output, c.expected, abs_tol=o["abs_tol"], rel_tol=o["rel_tol"],
                                                    category=o["cat"]))),
    ScorerKind("json_valid", "is (or parses as) JSON", lambda s: _common(s, FORMAT_ERROR),
               _check(lambda o, c, r: check_json_valid(r.output, category=o["cat"]))),
    ScorerKind("json_schema", "parses as JSON and validates against a JSON Schema", _json_schema_options,
               _check(lambda o, c, r: check_json_schema(r.output, o["validator"], category=o["cat"]))),
    ScorerKind("similarity", "fuzzy similarity to the expected value at least a threshold", _similarity_options,
               _check(lambda o, c, r: check_similarity(r.output, c.expected, threshold=o["threshold"],
                                                       method=o["method"], category=o["cat"]))),
    ScorerKind("llm_judge", "a model grades the output against a rubric (strict JSON verdict)", _judge_options,
               lambda name, o, _sandbox: LLMJudge(o["base_url"], o["model"], o["rubric"], api_key=o["api_key"],
                                                  threshold=o["threshold"], timeout_s=o["timeout_s"], name=name)),
    ScorerKind("custom", "a team's own allow-listed 'module:function' run in the eval sandbox",
               lambda s: {"ref": s.get("ref"), "threshold": number(s, "threshold", 0.5, hi=1.0),
                          "name": s.get("name")},
               lambda _name, o, sandbox: CustomScorer(o["ref"], threshold=o["threshold"], name=o["name"],
                                                      sandbox=sandbox)),
    ScorerKind("latency_budget", "the case's latency within max_ms",
               lambda s: {"max_ms": number(s, "max_ms", None, lo=0.0)},
               _check(lambda o, c, r: check_latency(r.latency_ms, o["max_ms"]))),
    ScorerKind("cost_budget", "the case's cost within max_usd (unknown cost fails)",
               lambda s: {"max_usd": number(s, "max_usd", None, lo=0.0)},
               _check(lambda o, c, r: check_cost(r.cost_usd, o["max_usd"]))),
):
    register_scorer(_kind)
