"""Content capture policy, as pure rules: validate a policy, and apply it to one request's content (redaction, a size
cap per field with a visible marker). Storage and caching are in takeoff.telemetry.requests_store."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

from takeoff.sdk import redact

UNIT_MODES = ("hashed", "raw")
MAX_CHARS_LIMIT = 100_000
MAX_RETENTION_DAYS = 3650
UNIT_PREFIX = "h:"  # a stored unit id that is a keyed hash
MEMO_MAX_CHARS = 4000  # texts up to this long are remembered (system prompts and canned answers repeat per request)


@dataclass(frozen=True)
class Policy:
    """One use case's capture policy (the defaults when it never set one: no content, unit ids hashed)."""

    use_case: str
    capture: bool = False
    kinds: tuple[str, ...] = redact.KINDS
    patterns: tuple[tuple[str, str], ...] = ()
    max_chars: int = 4000
    retention_days: int | None = None
    unit_ids: str = "hashed"
    compiled: tuple[redact.Pattern, ...] = field(default=(), compare=False, repr=False)

    def view(self) -> dict[str, Any]:
        """The policy as the API and the audit log show it."""
        return {"use_case": self.use_case, "capture": self.capture, "kinds": list(self.kinds),
                "patterns": [{"name": n, "pattern": p} for n, p in self.patterns], "max_chars": self.max_chars,
                "retention_days": self.retention_days, "unit_ids": self.unit_ids}


def make_policy(use_case: str, capture: bool = False, kinds: Any = redact.KINDS, patterns: Any = (),
                max_chars: int = 4000, retention_days: int | None = None, unit_ids: str = "hashed") -> Policy:
    """A checked policy; ValueError starting with the field's name when a value is bad (patterns compiled here)."""
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in redact.KINDS]
    if unknown:
        raise ValueError(f"kinds: unknown detector {unknown[0]!r} (known: {', '.join(redact.KINDS)})")
    specs = tuple((str(p["name"]), str(p["pattern"])) if isinstance(p, dict) else tuple(p) for p in patterns)
    compiled = tuple(redact.compile_patterns(specs))
    if len({n for n, _ in specs}) != len(specs):
        raise ValueError("patterns: two patterns have the same name")
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or not 100 <= max_chars <= MAX_CHARS_LIMIT:
        raise ValueError(f"max_chars: an integer from 100 to {MAX_CHARS_LIMIT}")
    if retention_days is not None and (isinstance(retention_days, bool) or not isinstance(retention_days, int)
                                       or not 1 <= retention_days <= MAX_RETENTION_DAYS):
        raise ValueError(f"retention_days: an integer from 1 to {MAX_RETENTION_DAYS}, or null (as long as events)")
    if unit_ids not in UNIT_MODES:
        raise ValueError(f"unit_ids: one of {', '.join(UNIT_MODES)}")
    return Policy(use_case, bool(capture), tuple(k for k in redact.KINDS if k in kinds), specs, max_chars,
                  retention_days, unit_ids, compiled)


@functools.lru_cache(maxsize=65_536)  # the same users come back batch after batch (as rollup's unit hashes)
def unit_ref(unit_id: str, key: bytes) -> str:
    """The keyed hash a unit id is stored as (the server secret's unit key; not reversible without it)."""
    return UNIT_PREFIX + hashlib.blake2b(unit_id.encode(), digest_size=16, key=key, person=b"takeoff-req-unit").hexdigest()


def unit_forms(unit_id: str, key: bytes) -> list[str]:
    """Both ways a unit id may be stored (raw under a 'raw' policy, hashed otherwise): what a unit filter matches."""
    return [unit_id, unit_ref(unit_id, key)]


def apply(content: dict[str, Any], policy: Policy) -> tuple[dict[str, Any], dict[str, int], int]:
    """The content as stored under the policy: every text redacted then capped; (content, redactions by kind, fields
    cut). Document ids are kept as sent (ids, not free text) but capped like the rest."""
    counts: dict[str, int] = {}
    cut = 0

    def clean(text: str | None) -> str | None:
        nonlocal cut
        if not text:
            return text
        if len(text) <= MEMO_MAX_CHARS:
            text, found, was_cut = _clean_memo(text, policy.kinds, policy.compiled, policy.max_chars)
        else:
            text, found, was_cut = _clean(text, policy.kinds, policy.compiled, policy.max_chars)
        for k, n in found:
            counts[k] = counts.get(k, 0) + n
        cut += was_cut
        return text

    out: dict[str, Any] = {}
    if content.get("system"):
        out["system"] = clean(content["system"])
    for part in ("input", "output"):
        if content.get(part):
            out[part] = [{"role": m["role"], "content": clean(m["content"])} for m in content[part]]
    if content.get("tool_calls"):
        out["tool_calls"] = [{"name": t["name"], "arguments": clean(t.get("arguments"))} for t in content["tool_calls"]]
    if content.get("documents"):
        out["documents"] = list(content["documents"])
    return out, counts, cut


def _clean(text: str, kinds: tuple[str, ...], compiled: tuple[redact.Pattern, ...], max_chars: int
           ) -> tuple[str, tuple[tuple[str, int], ...], bool]:
    """One text redacted then capped: (text, findings by kind, whether it was cut)."""
    text, found = redact.redact(text, kinds, compiled)
    text, was_cut = redact.cap(text, max_chars)
    return text, tuple(found.items()), was_cut


# The same text under the same rules gives the same result: a request's system instructions (and templated answers)
# are redacted once per process, not once per request. Keys hold the text, so the memory is bounded by
# maxsize x MEMO_MAX_CHARS.
_clean_memo = functools.lru_cache(maxsize=1024)(_clean)
