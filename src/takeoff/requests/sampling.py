"""The one way requests are sampled (review queues' rules, online evaluators): a hash of a salt and the request id,
so the same request always gets the same answer (retries, several workers) and two salts draw independent samples."""
from __future__ import annotations

import hashlib


def in_sample(salt: str, request_id: str, rate: float) -> bool:
    """Whether the request falls in the share `rate` (0..1) of requests drawn with this salt."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.sha256(f"{salt}\x00{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * 2**64
