"""Safety filters around one model call: the release's policy checks the input before the call and the output after.

`Client.safe()` is the entry point. Input: a `block` answers the policy's fallback without calling the model, a
`redact` calls it with the redacted text. Output: a `block` answers the fallback instead of the model's answer, a
`redact` answers the redacted text (rebuilt into the model's result by `on_redact` when the result is not a string).
`flag` and `review` only record. Every finding goes on the call's event (stage, detector, action; never the text), a
block also as the event's fallback reason (`safety:<stage>:<detector>`). The safety machinery never breaks the call:
an error in it is a finding handled as the policy's `on_error` says (open: let through; closed: block).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from .safety import Finding, SafetyPolicy, Verdict, check, parse_policy
from .tracking import Tracker

log = logging.getLogger("takeoff.sdk")


@lru_cache(maxsize=64)
def _parsed(canonical: str) -> SafetyPolicy:
    return parse_policy(json.loads(canonical))


def policy_of(release: Any, policy: SafetyPolicy | Mapping[str, Any] | None = None) -> SafetyPolicy | None:
    """The policy to apply: the one given, else the `safety` of a release entry from `active()`; None when neither.
    A malformed policy raises ValueError (it names the field) rather than running the call unchecked."""
    if isinstance(policy, SafetyPolicy):
        return policy
    raw: Any
    if policy is not None:
        raw = policy
    elif isinstance(release, Mapping):
        raw = release.get("safety")
    else:  # an ActiveConfig from active(), or a release id (no policy)
        raw = getattr(release, "safety", None)
    if raw is None:
        return None
    return _parsed(json.dumps(raw, sort_keys=True))


def _checked(policy: SafetyPolicy, stage: str, text: str) -> Verdict:
    """check(), with a failure of the machinery itself turned into a finding handled by on_error."""
    try:
        return check(policy, stage, text)
    except Exception as exc:  # a bug here must never break the application's call
        log.warning("takeoff sdk: safety check failed: %s", type(exc).__name__)
        action = "block" if policy.on_error == "closed" else "flag"
        return Verdict(stage, action, (Finding(stage, "safety", action, f"error: {type(exc).__name__}", 1.0),), text)


def run(tracker: Tracker, policy: SafetyPolicy, call: Callable[[str], Any], text: str,
        guarded: Callable[[Callable[[], Any]], Any], output_text: Callable[[Any], str] | None,
        on_redact: Callable[[Any, str], Any] | None) -> Any:
    """Input checks, the guarded call, output checks; findings and blocks recorded on `tracker`."""
    verdict = _checked(policy, "input", text)
    tracker.add_violations(verdict.findings)
    if verdict.blocked:
        tracker.fallback(_reason(verdict))
        return policy.fallback_answer
    sent = verdict.text
    result = guarded(lambda: call(sent))
    if not policy.output:
        return result
    try:
        answer = result if isinstance(result, str) else (output_text(result) if output_text else None)
    except Exception as exc:  # an extractor that fails is the application's bug, reported as a finding
        log.warning("takeoff sdk: output_text failed: %s", type(exc).__name__)
        answer = None
    if not isinstance(answer, str):
        action = "block" if policy.on_error == "closed" else "flag"
        tracker.add_violations([Finding("output", "safety", action, "output text unavailable", 1.0)])
        if action == "block":
            tracker.fallback("safety:output:unreadable")
            return policy.fallback_answer
        return result
    out = _checked(policy, "output", answer)
    tracker.add_violations(out.findings)
    if out.blocked:
        tracker.fallback(_reason(out))
        return policy.fallback_answer
    if out.action == "redact" and out.text != answer:
        if isinstance(result, str):
            return out.text
        return on_redact(result, out.text) if on_redact is not None else out.text
    return result


def _reason(verdict: Verdict) -> str:
    first = next(f for f in verdict.findings if f.action == "block")
    return f"safety:{verdict.stage}:{first.detector}"
