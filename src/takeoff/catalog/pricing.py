"""Pure cost arithmetic for token usage (OpenTelemetry GenAI counting conventions)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

USAGE_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")


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


def tier_allows(approved_tiers: list[str] | tuple[str, ...], tier: str | None) -> bool:
    """A model serves a use case only when the catalog approves it for that use case's risk tier."""
    if tier is None:
        return False
    return tier in (approved_tiers or [])
