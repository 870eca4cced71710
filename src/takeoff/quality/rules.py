"""Pure rules of online evaluation (no I/O): which requests a sample takes, whether a judge's day budget is spent,
whether a judge's answer is a verdict at all, what a judge call cost, and the text of captured content."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from takeoff.requests.sampling import in_sample

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SCORE_PREFIX = "online_"
SOURCE_PREFIX = "online:"
# Scorers that compare with an expected answer: production requests have none, so they cannot run online.
NEEDS_EXPECTED = ("exact", "numeric", "similarity")


def score_name(evaluator: str) -> str:
    """The quality score an evaluator writes (the metric `quality_online_<name>`)."""
    return f"{SCORE_PREFIX}{evaluator}"


def sampled(evaluator: str, request_id: str, rate: float) -> bool:
    """Whether a request is in an evaluator's sample (the evaluator's name is the salt: evaluators draw independently)."""
    return in_sample(evaluator, request_id, rate)


def budget_spent(spent_usd: float, budget_usd: float | None) -> bool:
    """A judge stops for the day once its spend reaches the budget (the last call may pass it by its own cost)."""
    return budget_usd is not None and spent_usd >= budget_usd


def budget_left(spent_usd: float, budget_usd: float | None) -> float | None:
    """What is left of today's budget (None: no budget)."""
    return None if budget_usd is None else max(0.0, budget_usd - spent_usd)


def call_cost(usage: Any, prices: Mapping[str, float]) -> float:
    """USD of one judge call from its OpenAI-style usage ({prompt_tokens, completion_tokens}) at USD per 1M."""
    if not isinstance(usage, Mapping):
        return 0.0
    t_in, t_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
    n_in = t_in if isinstance(t_in, int) and not isinstance(t_in, bool) and t_in > 0 else 0
    n_out = t_out if isinstance(t_out, int) and not isinstance(t_out, bool) and t_out > 0 else 0
    return (n_in * float(prices.get("input", 0.0)) + n_out * float(prices.get("output", 0.0))) / 1e6


def verdict_problem(text: Any) -> str | None:
    """Why a judge's answer is no verdict (None when it is one): a JSON object with a number 'score' in [0, 1] and,
    when present, a boolean 'passed'. A judge that answers otherwise leaves the request unscored."""
    if not isinstance(text, str):
        return "the judge's answer has no text"
    raw = text.strip()
    if raw.startswith("```"):
        raw = raw.strip("`").removeprefix("json").strip()
    try:
        doc = json.loads(raw)
    except ValueError:
        return f"the judge's answer is not JSON: {text[:80]!r}"
    if not isinstance(doc, Mapping):
        return "the judge's answer is not a JSON object"
    score = doc.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
            or not 0 <= score <= 1:
        return "the judge's 'score' is not a number in [0, 1]"
    if "passed" in doc and not isinstance(doc["passed"], bool):
        return "the judge's 'passed' is not true or false"
    return None


def _message_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(_message_text(c) if not isinstance(c, Mapping) else str(c.get("text") or "")
                             for c in content)
        return ""
    if isinstance(item, list):
        return "\n".join(_message_text(x) for x in item)
    return "" if item is None else json.dumps(item)


def content_texts(body: Mapping[str, Any]) -> tuple[str, str]:
    """(input, output) text of a stored content body: the input messages (and system instructions first) and the
    output messages, each message's text on its own line; tool calls are part of the output."""
    system = _message_text(body.get("system"))
    inp = _message_text(body.get("input"))
    out = _message_text(body.get("output"))
    calls = body.get("tool_calls")
    if isinstance(calls, list) and calls:
        out = "\n".join([out, *(json.dumps(c, sort_keys=True) for c in calls)]).strip()
    return "\n".join(t for t in (system, inp) if t), out
