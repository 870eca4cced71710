"""Small real targets for the demo workspace: plain Python functions, no external model.

Eval runs call them in their worker process (eval target type "python", ref "takeoff.demo.targets:<name>"; the
demo lists this module in TAKEOFF_EVAL_PYTHON_MODULES for itself); each is a deterministic rule standing in for the
AI feature, so gates pass or fail on what the function really does.
"""
from __future__ import annotations

import json
from typing import Any

# The demo's catalog price of its stand-in model, USD per 1M tokens, so eval runs report a real cost per case.
PRICE_IN, PRICE_OUT = 0.15, 0.60


def _priced(output: str, inp: dict[str, Any]) -> dict[str, Any]:
    """The target's answer with tokens counted (about 4 characters a token) and the cost they imply."""
    t_in = max(1, len(json.dumps(inp)) // 4) + 150  # + the release's prompt
    t_out = max(1, len(output) // 4)
    return {"output": output, "tokens": {"input": t_in, "output": t_out},
            "cost_usd": round((t_in * PRICE_IN + t_out * PRICE_OUT) / 1e6, 8)}

_REPLIES = {
    "refund": "We have issued your refund; it will reach your account in 3-5 business days.",
    "password": "You can reset your password from the sign-in page under 'Forgot password'.",
    "delivery": "Your order is on its way; the tracking link is in your confirmation email.",
    "invoice": "A copy of your invoice is attached; you can also download it from your account.",
}


def support_reply(inp: dict[str, Any]) -> dict[str, Any]:
    """Draft a support reply from the ticket's topic keyword; unknown topics are handed to a person."""
    text = str(inp.get("ticket", "")).lower()
    for word, reply in _REPLIES.items():
        if word in text:
            return _priced(reply, inp)
    return _priced("Thanks for reaching out; a specialist will reply within one business day.", inp)


def invoice_anomaly(inp: dict[str, Any]) -> dict[str, Any]:
    """Flag an invoice whose amount is over 3x the vendor's median, or whose vendor is not in the master data."""
    median = float(inp.get("vendor_median", 0) or 0)
    amount = float(inp.get("amount", 0) or 0)
    odd = not inp.get("vendor_known", True) or (median > 0 and amount > 3 * median)
    return _priced("anomaly" if odd else "ok", inp)


def credit_decision(inp: dict[str, Any]) -> dict[str, Any]:
    """A deliberately naive credit rule (score and income only): the strict high-tier gate should refuse it."""
    ok = float(inp.get("score", 0)) >= 650 and float(inp.get("income", 0)) >= 30000
    return _priced("approve" if ok else "refer", inp)


def sales_summary(inp: dict[str, Any]) -> dict[str, Any]:
    """Summarise a call transcript: the sentences that carry a next step, price or objection."""
    keep = ("next step", "price", "budget", "follow up", "concern", "decision")
    sentences = [s.strip() for s in str(inp.get("transcript", "")).split(".") if s.strip()]
    picked = [s for s in sentences if any(k in s.lower() for k in keep)]
    return _priced(". ".join(picked or sentences[:1]) + ".", inp)
