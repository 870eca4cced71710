"""Overhead of the SDK's safety detectors on a 4 KB text: p50/p95/p99 per detector and for a whole policy.

Goal (issue 22): the regex detectors on a 4 KB text, p95 < 1 ms. Run alone on a quiet machine:
    .venv/bin/python bench/safety_bench.py [--rounds 2000]
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from takeoff.sdk.safety import check, parse_policy

WORDS = ("the invoice for order was paid on account customer support refund shipping delivery please thanks "
         "question about my plan upgrade billing address changed yesterday tracking number 2024 05 01").split()


def text_4kb(seed: int) -> str:
    """Ordinary support text with a few numbers, an e-mail-like token and one secret-looking word, ~4096 chars."""
    rng = random.Random(seed)
    out = []
    while sum(len(w) + 1 for w in out) < 4096:
        out.append(rng.choice(WORDS))
    return " ".join(out)[:4096]


def timed(policy_raw: dict[str, object], texts: list[str], rounds: int) -> list[float]:
    policy = parse_policy(policy_raw)
    stage = "input" if policy.input else "output"
    samples = []
    for i in range(rounds):
        t = texts[i % len(texts)]
        start = time.perf_counter()
        check(policy, stage, t)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    texts = [text_4kb(i) for i in range(50)]
    cases = {
        "secrets": {"input": [{"detector": "secrets", "action": "redact"}]},
        "prompt_injection": {"input": [{"detector": "prompt_injection", "action": "block"}]},
        "blocked_topics (5 topics)": {"input": [{"detector": "blocked_topics", "action": "flag", "options": {
            "topics": ["investment advice", "medical diagnosis", "legal advice", "weapons", "self harm"]}}]},
        "length": {"output": [{"detector": "length", "action": "flag", "options": {"max_chars": 8000}}]},
        "pii (redaction engine)": {"output": [{"detector": "pii", "action": "redact"}]},
        "output policy (pii + secrets + length)": {"output": [
            {"detector": "pii", "action": "redact"}, {"detector": "secrets", "action": "redact"},
            {"detector": "length", "action": "flag", "options": {"max_chars": 8000}}]},
        "input policy (injection + secrets + topics)": {"input": [
            {"detector": "prompt_injection", "action": "block"}, {"detector": "secrets", "action": "redact"},
            {"detector": "blocked_topics", "action": "flag", "options": {"topics": ["investment advice"]}}]},
    }
    print(f"{'detector':46} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   (4 KB text, {args.rounds} rounds)")
    for name, raw in cases.items():
        timed(raw, texts, 100)  # warm the regex caches
        s = sorted(timed(raw, texts, args.rounds))
        q = statistics.quantiles(s, n=100)
        print(f"{name:46} {q[49]:8.3f} {q[94]:8.3f} {q[98]:8.3f}")


if __name__ == "__main__":
    main()
