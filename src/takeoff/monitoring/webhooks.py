"""Webhook bodies (generic JSON and Slack-compatible), HMAC-SHA256 signatures, and one HTTP send attempt."""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx

SIGNATURE_HEADER = "X-Takeoff-Signature"
EVENT_HEADER = "X-Takeoff-Event"
KINDS: tuple[str, ...] = ("webhook", "slack")


def check_url(url: Any) -> str:
    """An http(s) URL with a host; ValueError otherwise."""
    if not isinstance(url, str):
        raise ValueError("the webhook URL must be text")
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"the webhook URL must be http(s)://host/..., got {url!r}")
    return url.strip()


def sign(secret: str, raw: bytes) -> str:
    """The signature header value: 'sha256=' + hex HMAC-SHA256 of the raw body with the channel's secret."""
    if not secret:
        raise ValueError("a channel secret is required to sign webhooks")
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify(secret: str, raw: bytes, header: str) -> bool:
    """True when the header is the valid signature of the raw body (receivers use this)."""
    return hmac.compare_digest(sign(secret, raw), header or "")


def _summary(event: str, use_case_key: str, payload: dict[str, Any]) -> str:
    title = payload.get("title") or payload.get("name") or ""
    sev = payload.get("severity")
    parts = [f"[takeoff] {event}", f"use case {use_case_key}"]
    if sev is not None:
        parts.append(f"SEV{sev}")
    if title:
        parts.append(str(title))
    if payload.get("on_call"):
        parts.append(f"on call: @{payload['on_call']}")
    return " · ".join(parts)


def body(kind: str, event: str, use_case_key: str, payload: dict[str, Any], at: str) -> bytes:
    """The raw body for a channel kind: generic JSON envelope, or Slack's {"text", "blocks"}."""
    if kind not in KINDS:
        raise ValueError(f"unknown channel kind '{kind}'; known: {', '.join(KINDS)}")
    if kind == "slack":
        text = _summary(event, use_case_key, payload)
        lines = [f"*{k}*: {v}" for k, v in payload.items() if v not in (None, "", [], {}) and k != "title"]
        doc: dict[str, Any] = {"text": text, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900] or "-"}}]}
    else:
        doc = {"event": event, "use_case": use_case_key, "at": at, "data": payload}
    return json.dumps(doc, default=str, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Attempt:
    """The outcome of one send: ok, HTTP status (None when no answer), error text."""

    ok: bool
    status_code: int | None
    error: str


def send(url: str, raw: bytes, secret: str, event: str, timeout_s: float) -> Attempt:
    """POST the raw body once with its signature; a 2xx is success, anything else (or no answer) is a failure."""
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw), EVENT_HEADER: event,
               "User-Agent": "takeoff-webhooks"}
    try:
        resp = httpx.post(url, content=raw, headers=headers, timeout=timeout_s, follow_redirects=False)
    except httpx.TimeoutException:
        return Attempt(False, None, f"timed out after {timeout_s:g}s")
    except httpx.HTTPError as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= resp.status_code < 300:
        return Attempt(True, resp.status_code, "")
    return Attempt(False, resp.status_code, f"HTTP {resp.status_code}: {resp.text[:200]}")
