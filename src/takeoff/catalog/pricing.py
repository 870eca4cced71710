"""Pure pricing rules: cost arithmetic for token usage (OpenTelemetry GenAI counting) and which catalog id a
reported model id is priced as."""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from takeoff.sdk.tracking import TOKEN_KINDS

T = TypeVar("T")

USAGE_TYPES = TOKEN_KINDS  # the SDK's token kinds, each priced


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise ValueError(f"{what} must be a number >= 0, got {value!r}")
    return float(value)


def cost_usd(prices: Mapping[str, Any], tokens: Mapping[str, Any]) -> float:
    """USD cost of token counts at prices per 1M tokens.

    OpenTelemetry counts cached tokens inside input and reasoning tokens inside output, so each is carved out of
    its parent and charged at its own price (falling back to the parent's price when the catalog has none).
    """
    if not isinstance(prices, Mapping) or not isinstance(tokens, Mapping):
        raise ValueError("cost_usd expects a prices mapping and a tokens mapping")
    unknown = sorted(set(tokens) - set(USAGE_TYPES))
    if unknown:
        raise ValueError(f"unknown usage type {unknown[0]!r}; known: {', '.join(USAGE_TYPES)}")
    if prices.get("input") is None or prices.get("output") is None:
        raise ValueError("prices need at least 'input' and 'output' (USD per 1M tokens)")
    p_in, p_out = _num(prices["input"], "input price"), _num(prices["output"], "output price")
    p_cr = _num(prices["cache_read"], "cache_read price") if prices.get("cache_read") is not None else p_in
    p_cw = _num(prices["cache_write"], "cache_write price") if prices.get("cache_write") is not None else p_in
    p_rs = _num(prices["reasoning"], "reasoning price") if prices.get("reasoning") is not None else p_out
    t = {k: _num(tokens.get(k, 0) or 0, f"{k} tokens") for k in USAGE_TYPES}
    plain_in = max(0.0, t["input"] - t["cache_read"] - t["cache_write"])
    plain_out = max(0.0, t["output"] - t["reasoning"])
    total = (plain_in * p_in + t["cache_read"] * p_cr + t["cache_write"] * p_cw
             + plain_out * p_out + t["reasoning"] * p_rs)
    return total / 1e6


# Trailing suffixes that name a snapshot or a moving alias of the same model, never a different model.
_MM = r"(?:0[1-9]|1[0-2])"
_DD = r"(?:0[1-9]|[12][0-9]|3[01])"
VERSION_SUFFIXES: tuple[re.Pattern[str], ...] = (
    re.compile(r"@[^@/\s]+$"),                            # Vertex AI: claude-3-5-sonnet@20240620, gemini-pro@001
    re.compile(rf"-(?:19|20)[0-9]{{2}}-{_MM}-{_DD}$"),     # OpenAI: gpt-4o-2024-08-06
    re.compile(rf"-(?:19|20)[0-9]{{2}}{_MM}{_DD}$"),       # Anthropic: claude-3-5-sonnet-20241022
    re.compile(r"-[0-9]{3}$"),                            # Google: gemini-1.5-pro-002
    re.compile(r"-latest$"),                              # moving alias: claude-3-5-sonnet-latest
)


def strip_version_suffix(model: str) -> str | None:
    """The id without its last snapshot/alias suffix, or None when it ends in none (or nothing would be left)."""
    for pattern in VERSION_SUFFIXES:
        m = pattern.search(model)
        if m and m.start() > 0:
            return model[: m.start()]
    return None


def model_id_candidates(model: str) -> list[str]:
    """The ids a reported model id may be priced as, most specific first: itself, then itself minus one trailing
    version suffix at a time (`-YYYY-MM-DD`, `-YYYYMMDD`, `-NNN`, `@…`, `-latest`).

    Only those suffixes are stripped because they name a snapshot of the same model; a name part (`-mini`,
    `-preview`, `-audio`, `-v2`, `-0125`) is never stripped, since pricing one model as another is worse than not
    pricing it: `gpt-4o-mini-2024-07-18` may be priced as `gpt-4o-mini`, never as `gpt-4o`.
    """
    if not isinstance(model, str) or not model:
        raise ValueError("model must be a non-empty string")
    out = [model]
    while (shorter := strip_version_suffix(out[-1])) is not None:
        out.append(shorter)
    return out


def resolve_model_id(model: str, known: Iterable[str]) -> str | None:
    """The most specific of model_id_candidates(model) that is a known (catalog) id, else None."""
    ids = set(known)
    return next((c for c in model_id_candidates(model) if c in ids), None)


def price_in_force(schedule: Sequence[tuple[datetime, T]], at: datetime) -> T | None:
    """The price of the latest (effective_from, price) at or before `at` in an oldest-first schedule, else None."""
    i = bisect.bisect_right(schedule, at, key=lambda entry: entry[0])  # per event: no key list built each call
    return schedule[i - 1][1] if i else None


def tier_allows(approved_tiers: list[str] | tuple[str, ...], tier: str | None) -> bool:
    """A model serves a use case only when the catalog approves it for that use case's risk tier."""
    if tier is None:
        return False
    return tier in (approved_tiers or [])


SNAPSHOT_SOURCE = "snapshot "  # a price's source when it came from the shipped price snapshot: "snapshot <as_of>"


def snapshot_dates_in_force(schedule: Sequence[tuple[datetime, str]], start: datetime | None,
                            end: datetime) -> set[str]:
    """The snapshot dates of the prices of an oldest-first (effective_from, source) schedule that were in force at
    some time in [start, end] (start None: any time up to end); operators' own prices (any other source) add none."""
    out: set[str] = set()
    for i, (frm, source) in enumerate(schedule):
        until = schedule[i + 1][0] if i + 1 < len(schedule) else None
        if frm <= end and (start is None or until is None or until > start) and source.startswith(SNAPSHOT_SOURCE):
            out.add(source[len(SNAPSHOT_SOURCE):])
    return out


def prices_note(dates: Iterable[str]) -> str | None:
    """How a figure made from snapshot prices says so ("prices of 2025-07-01 snapshot"), or None when none is."""
    ds = sorted(set(dates))
    if not ds:
        return None
    return f"prices of {' and '.join(ds)} snapshot{'s' if len(ds) > 1 else ''}"
