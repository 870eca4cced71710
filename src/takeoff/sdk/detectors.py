"""The default safety detectors: secrets, prompt injection, blocked topics, length, JSON output.

Each detector is a pure function `scan(text, options) -> list[Hit]` registered by name (`register_detector`), the
way third-party detectors register too; the safety policy (takeoff.sdk.safety) names them. Standard library only,
no model weights: the SDK runs inside the customer's application. Text is normalised first (Unicode NFKC, zero-width
characters and soft hyphens removed) so obfuscated payloads match the same patterns as plain ones.
"""
from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import redact


@dataclass(frozen=True)
class Hit:
    """One finding in a text: where (character offsets of the normalised text), what, and how sure (0..1)."""

    start: int
    end: int
    label: str
    score: float = 1.0


Scan = Callable[[str, Mapping[str, Any]], list[Hit]]


Rewrite = Callable[[str, Mapping[str, Any]], str]


@dataclass(frozen=True)
class Detector:
    """A named detector: its scan, the option names it accepts, one line on what it finds, and (for detectors that
    redact with their own markers, like personal data) how it rewrites a text."""

    name: str
    scan: Scan
    options: frozenset[str]
    doc: str
    rewrite: Rewrite | None = None


DETECTORS: dict[str, Detector] = {}


def register_detector(name: str, scan: Scan, options: tuple[str, ...] = (), doc: str = "",
                      rewrite: Rewrite | None = None) -> None:
    """Add a detector under `name` (a name already taken is an error: detectors are never silently replaced)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise ValueError(f"detector name {name!r} must be lowercase letters, digits and '_'")
    if name in DETECTORS:
        raise ValueError(f"detector {name!r} is already registered")
    DETECTORS[name] = Detector(name, scan, frozenset(options), doc, rewrite)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)


def normalize(text: str) -> str:
    """NFKC (full-width and styled letters to plain ones) without zero-width characters or soft hyphens."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)


# ------------------------------------------------------------------------------------------------------- secrets
# Each pattern with the lowercase literals one of which must occur for it to match: a substring test first keeps a
# clean 4 KB text well under a millisecond (the regex runs only where a trigger is present).
_SECRET_PATTERNS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("aws_access_key", ("akia", "asia", "abia", "acca"), re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    ("github_token", ("gh", "github_pat_"), re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
    ("openai_key", ("sk-",), re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}\b")),
    ("anthropic_key", ("sk-ant-",), re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}\b")),
    ("slack_token", ("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("google_api_key", ("aiza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("stripe_key", ("_live_", "_test_"), re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b")),
    ("private_key", ("private key",), re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    ("jwt", ("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b")),
    ("password_assignment", ("pass", "pwd", "secret", "key", "token"), re.compile(
        r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token)\s*[:=]\s*['\"]?([^\s'\"]{8,})")),
)
# A key split by spaces, dashes or line breaks ("AKIA IOSF ODNN 7EXA MPLE"): from a known prefix on, the fragments
# are joined and the token shapes are tried again.
_SPLIT_SEP = r"[ \t\r\n.\-+'\"]"
_SPLIT_RUN = re.compile(r"(?:AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|sk-|xox[abposr]-|AIza|[sr]k_(?:live|test)_)"
                        rf"(?:{_SPLIT_SEP}{{0,3}}[A-Za-z0-9_]{{1,12}}){{2,40}}")
_TOKEN_SHAPES = 7  # the first patterns are token shapes; an assignment or a PEM header cannot be split


def _scan_secrets(text: str, options: Mapping[str, Any]) -> list[Hit]:
    low = text.lower()
    hits = [Hit(m.start(), m.end(), label) for label, triggers, rx in _SECRET_PATTERNS
            if any(t in low for t in triggers) for m in rx.finditer(text)]
    for run in _SPLIT_RUN.finditer(text):
        if any(h.start <= run.start() < h.end for h in hits):
            continue
        joined = re.sub(_SPLIT_SEP, "", run.group())
        for label, _, rx in _SECRET_PATTERNS[:_TOKEN_SHAPES]:
            if rx.search(joined):
                hits.append(Hit(run.start(), run.end(), f"{label} (split)"))
                break
    return hits


# ------------------------------------------------------------------------------------------------ prompt injection
# Known phrasings of instruction override and jailbreak, each with a weight; several together add up (capped at 1).
_INJECTION: tuple[tuple[str, float, re.Pattern[str]], ...] = tuple((label, weight, re.compile(rx, re.IGNORECASE))
                                                                   for label, weight, rx in (
    ("override", 0.9, r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:previous|prior|above|earlier|all|"
                      r"system|your|the)\b.{0,30}\b(?:instructions?|prompts?|rules|guidelines|directives|context)\b"),
    ("new_instructions", 0.6, r"\b(?:new|updated|real|actual)\s+(?:instructions?|system\s+prompt|rules)\s*[:\-]"),
    ("reveal_prompt", 0.7, r"\b(?:reveal|show|print|repeat|output|leak|tell me)\b.{0,30}\b(?:system|hidden|initial|"
                           r"original)\s+(?:prompt|instructions?|message)"),
    ("persona", 0.6, r"\byou\s+are\s+(?:now|no longer)\b|\bact\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|evil|"
                     r"jailbroken)|\b(?:DAN|do anything now)\b|\bdeveloper\s+mode\b|\bjailbreak"),
    ("role_marker", 0.7, r"<\|im_start\|>\s*system|\[/?INST\]|<<\s*SYS\s*>>|^\s*#{2,}\s*(?:system|instruction)s?\s*:|"
                         r"\bBEGIN\s+SYSTEM\s+PROMPT\b|</?system>"),
    ("no_limits", 0.4, r"\b(?:without|no)\s+(?:any\s+)?(?:restrictions|filters|limitations|censorship|guardrails)\b"),
    ("exfiltrate", 0.5, r"\b(?:send|post|forward|exfiltrate)\b.{0,40}\b(?:to|at)\s+https?://"),
))
_B64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
# Leetspeak seen in obfuscated jailbreaks ("1gn0re prev10us 1nstruct10ns"): folded before matching.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})


# The lowercase literals one of which each phrasing needs (checked before its regex runs, as for secrets).
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "override": ("ignore", "disregard", "forget", "override", "bypass"),
    "new_instructions": ("instruction", "prompt", "rules"),
    "reveal_prompt": ("prompt", "instruction", "message"),
    "persona": ("you are", "act as", "dan", "do anything", "developer mode", "jailbreak"),
    "role_marker": ("im_start", "inst]", "sys", "system", "instruction"),
    "no_limits": ("restriction", "filter", "limitation", "censorship", "guardrail"),
    "exfiltrate": ("http",),
}


def _injection_hits(text: str, offset: int = 0, scale: float = 1.0) -> list[Hit]:
    hits: list[Hit] = []
    variants = [text]
    if any(c in text for c in "0134579@$"):
        variants.append(text.translate(_LEET))
    for variant in variants:
        low = variant.lower()
        for label, weight, rx in _INJECTION:
            if not any(t in low for t in _TRIGGERS[label]):
                continue
            for m in rx.finditer(variant):
                if not any(h.label == label and h.start == offset + m.start() for h in hits):
                    hits.append(Hit(offset + m.start(), offset + m.end(), label, weight * scale))
    return hits


def _scan_injection(text: str, options: Mapping[str, Any]) -> list[Hit]:
    hits = _injection_hits(text)
    for m in _B64.finditer(text):  # an encoded payload: decode and look inside
        try:
            decoded = base64.b64decode(m.group() + "=" * (-len(m.group()) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        inner = _injection_hits(normalize(decoded))
        if inner:
            hits.append(Hit(m.start(), m.end(), "encoded_payload", max(h.score for h in inner)))
    return hits


def injection_score(hits: list[Hit]) -> float:
    """Several independent signals add up, capped at 1: one weak phrase alone stays under a 0.5 threshold."""
    best: dict[str, float] = {}
    for h in hits:
        best[h.label] = max(best.get(h.label, 0.0), h.score)
    return min(1.0, sum(best.values()))


# --------------------------------------------------------------------------------------- blocked topics, length, json
@functools.lru_cache(maxsize=256)
def _topic_rx(topic: str) -> tuple[str, re.Pattern[str]]:
    """The topic's first word (a cheap substring test) and its words as a pattern, any punctuation between them."""
    words = topic.casefold().split()
    return words[0], re.compile(r"\b" + r"\W{1,5}".join(map(re.escape, words)) + r"\b")


def _scan_topics(text: str, options: Mapping[str, Any]) -> list[Hit]:
    hits = []
    folded = text.casefold()
    for topic in options.get("topics", ()):
        first, rx = _topic_rx(str(topic))
        if first in folded:
            hits += [Hit(m.start(), m.end(), f"topic:{topic}") for m in rx.finditer(folded)]
    return hits


def _scan_length(text: str, options: Mapping[str, Any]) -> list[Hit]:
    most, least = options.get("max_chars"), options.get("min_chars", 0)
    if most is not None and len(text) > int(most):
        return [Hit(int(most), len(text), f"longer than {most} characters")]
    if len(text) < int(least):
        return [Hit(0, len(text), f"shorter than {least} characters")]
    return []


def _scan_json(text: str, options: Mapping[str, Any]) -> list[Hit]:
    """The output must be a JSON document matching `schema` (a JSON Schema subset: takeoff.sdk.jsonshape)."""
    from .jsonshape import violations  # local: only policies that check JSON output pay for it

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return [Hit(0, len(text), f"not JSON: {exc.msg}")]
    return [Hit(0, len(text), v) for v in violations(doc, options.get("schema") or {})]


# ----------------------------------------------------------------------------------------------- personal data
def _pii_args(options: Mapping[str, Any]) -> tuple[tuple[str, ...], list[redact.Pattern]]:
    kinds = tuple(options.get("kinds") or redact.KINDS)
    patterns = redact.compile_patterns((str(p["name"]), str(p["pattern"])) for p in options.get("patterns") or ())
    return kinds, patterns


def _scan_pii(text: str, options: Mapping[str, Any]) -> list[Hit]:
    """The same engine as request capture (takeoff.sdk.redact): e-mail, IBAN (mod 97), cards (Luhn), phones and the
    operator's patterns; one hit per kind found (the rewrite puts a marker where each was)."""
    kinds, patterns = _pii_args(options)
    _, counts = redact.redact(text, kinds, patterns)
    return [Hit(0, len(text), f"pii:{kind}", 1.0) for kind in sorted(counts)]


def _rewrite_pii(text: str, options: Mapping[str, Any]) -> str:
    kinds, patterns = _pii_args(options)
    return redact.redact(text, kinds, patterns)[0]


register_detector("pii", _scan_pii, ("kinds", "patterns"), "personal data: e-mail addresses, IBANs, payment cards, "
                  "phone numbers and operator patterns (the request-capture engine)", rewrite=_rewrite_pii)
register_detector("secrets", _scan_secrets, (), "API keys, tokens, private keys and password assignments, also split")
register_detector("prompt_injection", _scan_injection, (), "instruction-override, jailbreak and role-marker phrasings, "
                  "also leetspeak, zero-width-obfuscated and base64-encoded")
register_detector("blocked_topics", _scan_topics, ("topics",), "the use case's prohibited uses and blocked topics")
register_detector("length", _scan_length, ("max_chars", "min_chars"), "text longer or shorter than allowed")
register_detector("json", _scan_json, ("schema",), "output that is not JSON or does not match its JSON Schema")
