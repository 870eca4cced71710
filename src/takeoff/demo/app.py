"""The demo's stand-in AI application: once the server is up it serves support requests through the real SDK.

It is what an application team would write: `active()` picks the release for the user under the canary split,
`track()` records latency, tokens, cost and outcome, `guard()` keeps the workflow working when the model fails
(a canned reply, recorded as a fallback), and some users leave feedback. It talks to the server over HTTP only.
"""
from __future__ import annotations

import random
import threading
import time

import httpx

from takeoff.demo import targets as demo_targets
from takeoff.sdk import Client

TICKETS = ("I need a refund for order 1182", "password reset link does not arrive", "where is my delivery?",
           "please send the invoice for March to ap@acme.test", "the app crashes when I upload a photo")
CANNED = {"output": "Thanks for reaching out; an agent will reply shortly.", "tokens": {"input": 0, "output": 0},
          "cost_usd": 0.0}


def wait_until_up(url: str, stop: threading.Event, timeout_s: float = 60.0) -> bool:
    """Poll /healthz until the server answers (or stop/timeout)."""
    deadline = time.monotonic() + timeout_s
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        stop.wait(0.2)
    return False


def run(url: str, token: str, stop: threading.Event, *, interval_s: float = 0.5, max_requests: int | None = None,
        seed: int = 7) -> int:
    """Serve support requests through the SDK until stopped; returns how many were served."""
    if not wait_until_up(url, stop):
        return 0
    rng = random.Random(seed)
    tk = Client(url, token=token, flush_interval_s=0.5)
    served = 0
    try:
        while not stop.is_set() and (max_requests is None or served < max_requests):
            unit = f"agent-{rng.randrange(12)}"
            cfg = tk.active("support-reply", unit_id=unit)
            ticket = rng.choice(TICKETS)
            with tk.track("support-reply", release=cfg.release_id if cfg else None, unit_id=unit,
                          model=cfg.model if cfg else None) as t:
                def call(ticket: str = ticket) -> dict:  # bound now: guard() may call it on a worker thread
                    if rng.random() < 0.03:  # the vendor API degrades now and then
                        raise TimeoutError("model endpoint timed out")
                    return demo_targets.support_reply({"ticket": ticket})

                result = tk.guard(call, fallback=CANNED)
                t.set_tokens(**result["tokens"]).set_cost(result["cost_usd"])
                t.feature("ticket_length", float(len(ticket)))
                t.outcome("escalated" if result is CANNED else "success")
                # content: stored only because support-reply's capture policy is on, and redacted there
                t.set_content(system="Answer warmly and briefly; cite the policy.", input=ticket,
                              output=str(result.get("output", "")))
            if rng.random() < 0.2:
                tk.feedback(t.request_id, rating=rng.choice((3, 4, 5, 5)), time_saved_s=rng.choice((30, 60, 90)),
                            comment=rng.choice(("saved me time", "reply was accurate", "had to rewrite the tone")))
            served += 1
            stop.wait(interval_s)
    finally:
        tk.close(timeout_s=5)
    return served
