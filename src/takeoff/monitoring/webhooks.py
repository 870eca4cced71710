"""Webhook bodies (generic JSON and Slack-compatible), HMAC-SHA256 signatures, and one HTTP send attempt."""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx

from takeoff.core import netguard

SIGNATURE_HEADER = "X-Takeoff-Signature"
EVENT_HEADER = "X-Takeoff-Event"
KINDS: tuple[str, ...] = ("webhook", "slack")


def check_url(url: Any, policy: netguard.OutboundPolicy | None = None) -> str:
    """An http(s) URL with a host that is not a literal internal address; ValueError otherwise.

    The address a host name resolves to is checked when each delivery is sent (``send``)."""
    if not isinstance(url, str):
        raise ValueError("the webhook URL must be text")
    try:
        parsed = urlparse(url.strip())
        host = parsed.hostname
    except ValueError:
        raise ValueError(f"the webhook URL must be http(s)://host/..., got {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.netloc or not host:
        raise ValueError(f"the webhook URL must be http(s)://host/..., got {url!r}")
    try:
        netguard.check_host_literal(host, policy if policy is not None else netguard.active(), "webhook")
    except netguard.OutboundRefused as exc:
        raise ValueError(str(exc)) from None
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


def send(url: str, raw: bytes, secret: str, event: str, timeout_s: float,
         policy: netguard.OutboundPolicy | None = None) -> Attempt:
    """POST the raw body once with its signature; a 2xx is success, anything else (or no answer) is a failure.

    The host is resolved and every address checked first (netguard); the request then goes to a checked address
    with the original Host header and TLS server name, so a second DNS answer cannot redirect it."""
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw), EVENT_HEADER: event,
               "User-Agent": "takeoff-webhooks"}
    try:
        target = httpx.URL(url)
        addrs = netguard.resolve_checked(target.host, target.port or (443 if target.scheme == "https" else 80),
                                         policy if policy is not None else netguard.active(), "webhook")
    except netguard.OutboundRefused as exc:
        return Attempt(False, None, f"refused: {exc}"[:500])
    except (OSError, httpx.InvalidURL, UnicodeError) as exc:
        return Attempt(False, None, f"cannot resolve the webhook host: {exc}"[:500])
    headers["Host"] = target.netloc.decode("ascii")
    resp = None
    error = ""
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for _, ip in addrs:
            try:
                resp = client.post(target.copy_with(host=ip), content=raw, headers=headers,
                                   extensions={"sni_hostname": target.host})
                break
            except httpx.TimeoutException:
                return Attempt(False, None, f"timed out after {timeout_s:g}s")
            except httpx.ConnectError as exc:  # try the host's next checked address
                error = f"{type(exc).__name__}: {exc}"[:500]
            except httpx.HTTPError as exc:
                return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if resp is None:
        return Attempt(False, None, error or "no address to connect to")
    if 200 <= resp.status_code < 300:
        return Attempt(True, resp.status_code, "")
    return Attempt(False, resp.status_code, f"HTTP {resp.status_code}: {resp.text[:200]}")
