"""Safety policies: which detectors run on a call's input and output, with thresholds and an action each.

A policy travels with the release (its bundle's `safety` part) and reaches the SDK through `active()`. `check()` runs
one stage's detectors over a text and answers a `Verdict`: the strongest action any detector asked for (block >
review > redact > flag), the findings (detector, label, score: never the matched text), and the text to use (redacted
when a detector said so). A detector that raises never breaks the caller: it is a finding of kind `error`, and the
policy's `on_error` says whether that blocks (closed) or passes (open).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import moderation
from .detectors import DETECTORS, Hit, injection_score, normalize

STAGES = ("input", "output")
ACTIONS = ("flag", "redact", "review", "block")  # weakest first: a verdict takes the strongest
_RANK = {a: i for i, a in enumerate(ACTIONS)}
MAX_RULES = 20
MAX_FALLBACK = 2000


@dataclass(frozen=True)
class Rule:
    """One detector on one stage: fires when its score reaches `threshold`, then asks for `action`."""

    detector: str
    action: str
    threshold: float = 0.5
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SafetyPolicy:
    """The rules per stage, the answer a blocked call gets, and what a failing detector means."""

    input: tuple[Rule, ...] = ()
    output: tuple[Rule, ...] = ()
    fallback_answer: str = "I can't help with that request."
    on_error: str = "open"  # open: a detector error lets the call through; closed: it blocks

    def rules(self, stage: str) -> tuple[Rule, ...]:
        return self.input if stage == "input" else self.output

    @property
    def detectors(self) -> dict[str, list[str]]:
        """Which detectors run on each stage (what a checklist or a tier minimum looks at)."""
        return {stage: [r.detector for r in self.rules(stage)] for stage in STAGES}


@dataclass(frozen=True)
class Finding:
    """A detector that fired (or failed): no content, only what, how sure and what it asked for."""

    stage: str
    detector: str
    action: str
    label: str
    score: float


@dataclass(frozen=True)
class Verdict:
    """What to do with one stage's text: `action` is None when nothing fired."""

    stage: str
    action: str | None
    findings: tuple[Finding, ...]
    text: str

    @property
    def blocked(self) -> bool:
        return self.action == "block"


def parse_policy(raw: Mapping[str, Any] | None) -> SafetyPolicy:
    """A policy from its JSON form; ValueError naming the field (`output[1].threshold: ...`) when it is wrong."""
    if raw is None:
        return SafetyPolicy()
    if not isinstance(raw, Mapping):
        raise ValueError("safety: must be an object")
    unknown = set(raw) - {"input", "output", "fallback_answer", "on_error"}
    if unknown:
        raise ValueError(f"safety.{sorted(unknown)[0]}: unknown field")
    on_error = raw.get("on_error", "open")
    if on_error not in ("open", "closed"):
        raise ValueError("safety.on_error: must be 'open' or 'closed'")
    fallback = raw.get("fallback_answer", SafetyPolicy.fallback_answer)
    if not isinstance(fallback, str) or not fallback.strip() or len(fallback) > MAX_FALLBACK:
        raise ValueError(f"safety.fallback_answer: must be a non-empty text of at most {MAX_FALLBACK} characters")
    stages = {stage: tuple(_rule(r, f"safety.{stage}[{i}]") for i, r in enumerate(_list(raw, stage)))
              for stage in STAGES}
    return SafetyPolicy(stages["input"], stages["output"], fallback, on_error)


def _list(raw: Mapping[str, Any], stage: str) -> list[Any]:
    rules = raw.get(stage, [])
    if not isinstance(rules, list):
        raise ValueError(f"safety.{stage}: must be a list of rules")
    if len(rules) > MAX_RULES:
        raise ValueError(f"safety.{stage}: at most {MAX_RULES} rules")
    return rules


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: must be an object")
    unknown = set(raw) - {"detector", "action", "threshold", "options"}
    if unknown:
        raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown field")
    name = raw.get("detector")
    if name not in DETECTORS:
        raise ValueError(f"{where}.detector: unknown detector {name!r} (known: {', '.join(sorted(DETECTORS))})")
    action = raw.get("action", "flag")
    if action not in ACTIONS:
        raise ValueError(f"{where}.action: must be one of {', '.join(ACTIONS)}")
    threshold = raw.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) \
            or not 0 < threshold <= 1:
        raise ValueError(f"{where}.threshold: must be a number in (0, 1]")
    options = raw.get("options", {})
    if not isinstance(options, Mapping):
        raise ValueError(f"{where}.options: must be an object")
    extra = set(options) - DETECTORS[name].options
    if extra:
        raise ValueError(f"{where}.options.{sorted(extra)[0]}: not an option of {name}")
    if name == "json":
        from .jsonshape import unsupported

        problems = unsupported(options.get("schema", {}), f"{where}.options.schema")
        if problems:
            raise ValueError(problems[0])
    if name == "pii":
        from .redact import KINDS, compile_patterns

        kinds = options.get("kinds", list(KINDS))
        if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
            raise ValueError(f"{where}.options.kinds: a non-empty list of {', '.join(KINDS)}")
        pats = options.get("patterns", [])
        if not isinstance(pats, list) or any(not isinstance(p, Mapping) or set(p) != {"name", "pattern"} for p in pats):
            raise ValueError(f"{where}.options.patterns: a list of {{name, pattern}}")
        try:
            compile_patterns((p["name"], p["pattern"]) for p in pats)
        except ValueError as exc:
            raise ValueError(f"{where}.options.{exc}") from None
    if name == "moderation":
        moderation.check_options(options, f"{where}.options")
    if name == "blocked_topics" and not (isinstance(options.get("topics"), list)
                                         and all(isinstance(t, str) and t.strip() for t in options["topics"])):
        raise ValueError(f"{where}.options.topics: must be a list of non-empty texts")
    return Rule(name, action, float(threshold), dict(options))


def _score(rule: Rule, hits: list[Hit]) -> float:
    if not hits:
        return 0.0
    return injection_score(hits) if rule.detector == "prompt_injection" else max(h.score for h in hits)


def check(policy: SafetyPolicy, stage: str, text: str) -> Verdict:
    """Run the stage's rules over `text`; the strongest action wins; redactions are applied to the text returned."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}")
    rules = policy.rules(stage)
    if not rules:
        return Verdict(stage, None, (), text)
    norm = normalize(text)
    findings: list[Finding] = []
    redact: list[Hit] = []
    rewrites: list[Rule] = []
    for rule in rules:
        try:
            hits = DETECTORS[rule.detector].scan(norm, rule.options)
        except Exception as exc:  # a failing detector is a finding, never the caller's error
            action = "block" if policy.on_error == "closed" else "flag"
            findings.append(Finding(stage, rule.detector, action, f"error: {type(exc).__name__}", 1.0))
            continue
        score = _score(rule, hits)
        if score >= rule.threshold:
            labels = sorted({h.label for h in hits})
            findings.append(Finding(stage, rule.detector, rule.action, ", ".join(labels)[:200], round(score, 3)))
            if rule.action == "redact":
                if DETECTORS[rule.detector].rewrite is not None:
                    rewrites.append(rule)
                else:
                    redact += hits
    strongest = max((f.action for f in findings), key=_RANK.__getitem__, default=None)
    out = _redacted(norm, redact) if redact else (norm if rewrites else text)
    for rule in rewrites:  # detectors with their own markers (personal data) rewrite the text in turn
        rewrite = DETECTORS[rule.detector].rewrite
        if rewrite is not None:
            out = rewrite(out, rule.options)
    return Verdict(stage, strongest, tuple(findings), out)


def _redacted(text: str, hits: list[Hit]) -> str:
    """Replace each hit (merged where they overlap) by a `[label]` marker."""
    spans: list[list[Any]] = []
    for h in sorted(hits, key=lambda h: (h.start, -h.end)):
        if spans and h.start < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], h.end)
        else:
            spans.append([h.start, h.end, h.label])
    parts, pos = [], 0
    for start, end, label in spans:
        parts += [text[pos:start], f"[{str(label).split(' ')[0].upper()}]"]
        pos = end
    return "".join(parts) + text[pos:]
