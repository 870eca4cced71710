"""The optional moderation judge: a safety detector that asks an OpenAI-compatible `/v1/moderations` endpoint.

The regex detectors catch known phrasings only (bench/safety_quality.py measures them on a held-out set); a
moderation model catches what they miss, at the price of a network call in the request path. So it is opt-in, has a
timeout, and a failure (down, slow, malformed) raises: the policy's `on_error` decides whether that blocks (closed)
or lets the call through (open), and a high-risk release must fail closed (takeoff.releases.evidence). The API key is
read from the environment variable the policy names, never stored in the policy (the policy travels in the release).
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from .detectors import Hit, register_detector

OPTIONS = ("base_url", "model", "timeout_s", "api_key_env", "categories")
DEFAULT_MODEL = "omni-moderation-latest"
DEFAULT_TIMEOUT_S = 2.0
MAX_TIMEOUT_S = 30.0
MAX_INPUT_CHARS = 32_000
TOP_LABELS = 3
LIKELY = 0.5  # a category named beside the top one only from this score on

_clients: dict[str, httpx.Client] = {}
_lock = threading.Lock()


class ModerationError(RuntimeError):
    """The moderation endpoint failed or answered something that is not a moderation result."""


def check_options(options: Mapping[str, Any], where: str) -> None:
    """Refuse a bad option with its path (`output[0].options.base_url: ...`)."""
    url = options.get("base_url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}.base_url: must be an http(s) URL of an OpenAI-compatible API, e.g. "
                         "https://api.openai.com/v1")
    model = options.get("model", DEFAULT_MODEL)
    if not isinstance(model, str) or not model.strip() or len(model) > 200:
        raise ValueError(f"{where}.model: must be a non-empty model name")
    timeout = options.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or not 0 < timeout <= MAX_TIMEOUT_S:
        raise ValueError(f"{where}.timeout_s: must be a number of seconds in (0, {MAX_TIMEOUT_S:g}]")
    env = options.get("api_key_env")
    if env is not None and (not isinstance(env, str) or not env.replace("_", "").isalnum()):
        raise ValueError(f"{where}.api_key_env: must be the name of an environment variable")
    cats = options.get("categories")
    if cats is not None and (not isinstance(cats, list) or not cats
                             or any(not isinstance(c, str) or not c.strip() for c in cats)):
        raise ValueError(f"{where}.categories: must be a non-empty list of category names")


def _client(base_url: str) -> httpx.Client:
    with _lock:
        client = _clients.get(base_url)
        if client is None:
            client = _clients[base_url] = httpx.Client(base_url=base_url.rstrip("/") + "/")
        return client


def category_scores(answer: Any) -> dict[str, float]:
    """The category scores of an OpenAI moderation answer ({"results": [{"category_scores": {...}}]})."""
    try:
        scores = answer["results"][0]["category_scores"]
        out = {str(k): float(v) for k, v in scores.items()}
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise ModerationError("the moderation answer has no results[0].category_scores") from None
    if any(not math.isfinite(v) or not 0 <= v <= 1 for v in out.values()):
        raise ModerationError("the moderation answer has a category score outside [0, 1]")
    return out


def scan(text: str, options: Mapping[str, Any]) -> list[Hit]:
    """Hits for the highest-scoring categories (all or the policy's `categories`); the rule's threshold applies to
    the highest score. Raises ModerationError (timeout, HTTP error, malformed answer)."""
    headers = {}
    env = options.get("api_key_env")
    if env:
        key = os.environ.get(str(env))
        if not key:
            raise ModerationError(f"environment variable {env} (the moderation API key) is not set")
        headers["Authorization"] = f"Bearer {key}"
    body = {"model": options.get("model", DEFAULT_MODEL), "input": text[:MAX_INPUT_CHARS]}
    try:
        r = _client(str(options["base_url"])).post("moderations", json=body, headers=headers,
                                                   timeout=float(options.get("timeout_s", DEFAULT_TIMEOUT_S)))
        r.raise_for_status()
        answer = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ModerationError(f"moderation call failed: {type(exc).__name__}") from None
    scores = category_scores(answer)
    wanted = options.get("categories")
    if wanted:
        scores = {k: v for k, v in scores.items() if k in wanted}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    # the top category always (its score is the verdict's), others only when they are likely themselves
    top = [(n, v) for i, (n, v) in enumerate(ranked[:TOP_LABELS]) if v > 0 and (i == 0 or v >= LIKELY)]
    return [Hit(0, len(text), f"moderation:{name}", score) for name, score in top]


register_detector("moderation", scan, OPTIONS, "an OpenAI-compatible moderation endpoint (opt-in, with a timeout; a "
                  "failure follows the policy's on_error)")
