"""Channel bodies (generic JSON, Slack Block Kit; Teams, PagerDuty and e-mail from monitoring/channels), HMAC-SHA256
signatures, and one send attempt (HTTP, or SMTP for an e-mail channel's smtp:// URL)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from takeoff.core import netguard
from takeoff.monitoring.channels import formats, smtp

SIGNATURE_HEADER = "X-Takeoff-Signature"
EVENT_HEADER = "X-Takeoff-Event"
KINDS: tuple[str, ...] = ("webhook", "slack", "teams", "pagerduty", "email", "jira")
JIRA_PATH = re.compile(r"/rest/api/2/issue/?$")
JIRA_PROJECT = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
EMAIL_SCHEMES = ("smtp", "smtps")
# httpx logs every request's full URL at INFO, and Slack, Teams and many webhook URLs carry their token in the path:
# keep it to warnings so a server log never holds one.
logging.getLogger("httpx").setLevel(logging.WARNING)


def check_url(url: Any, policy: netguard.OutboundPolicy | None = None) -> str:
    """An http(s) URL with a host that is not a literal internal address; ValueError otherwise.

    The address a host name resolves to is checked when each delivery is sent (``send``)."""
    if not isinstance(url, str):
        raise ValueError("the webhook URL must be text")
    try:
        parsed = urlparse(url.strip())
        host = parsed.hostname
    except ValueError:
        raise ValueError(f"the webhook URL must be http(s)://host/..., got {shown_url(url)!r}") from None
    if parsed.scheme in EMAIL_SCHEMES:
        host = smtp.parse(url.strip()).host
    elif parsed.scheme not in ("http", "https") or not parsed.netloc or not host:
        raise ValueError(f"the webhook URL must be http(s)://host/..., got {shown_url(url)!r}")
    try:
        netguard.check_host_literal(host, policy if policy is not None else netguard.active(), "webhook")
    except netguard.OutboundRefused as exc:
        raise ValueError(str(exc)) from None
    return url.strip()


def check_kind_url(kind: str, url: str) -> None:
    """An e-mail channel needs an smtp(s):// URL and every other kind an http(s) one; ValueError otherwise."""
    scheme = urlparse(url.strip()).scheme if isinstance(url, str) else ""
    if kind == "email" and scheme not in EMAIL_SCHEMES:
        raise ValueError("an e-mail channel's URL must be smtp://[user@]host[:port]?from=...&to=... (or smtps://)")
    if kind != "email" and scheme in EMAIL_SCHEMES:
        raise ValueError(f"a {kind} channel's URL must be http(s)://...; smtp:// is for kind 'email'")
    if kind == "jira":
        parsed = urlparse(url.strip())
        query = parse_qs(parsed.query)
        if not JIRA_PATH.search(parsed.path):
            raise ValueError("a jira channel's URL must be the create-issue endpoint: "
                             "https://<site>/rest/api/2/issue?project=KEY[&issuetype=Bug]")
        if not JIRA_PROJECT.match((query.get("project") or [""])[0]):
            raise ValueError("a jira channel's URL needs ?project=KEY, the Jira project key (e.g. OPS)")


def shown_url(url: Any) -> str:
    """A URL as it may be shown or logged: scheme, host and port only (Slack, Teams and webhook URLs carry tokens)."""
    try:
        parsed = urlparse(str(url).strip())
        host = parsed.hostname or ""
        port = f":{parsed.port}" if parsed.port else ""
    except ValueError:
        return "(unparsable URL)"
    return f"{parsed.scheme}://{host}{port}/…" if parsed.scheme else "(not a URL)"


def scrubbed(text: str, url: str, secret: str) -> str:
    """An error text as it may be stored, shown or logged: the channel's URL (its path and query carry tokens) and
    its secret masked wherever they appear, e.g. in a receiver's answer that echoes the request."""
    try:
        parsed = urlparse(str(url).strip())
        parts = [str(url).strip(), parsed.path + (f"?{parsed.query}" if parsed.query else ""), parsed.query,
                 parsed.path, parsed.password or ""]
    except ValueError:
        parts = [str(url)]
    for part in sorted({p for p in parts if len(p) > 1}, key=len, reverse=True):
        text = text.replace(part, shown_url(url) if part == str(url).strip() else "…")
    return text.replace(secret, "(secret)") if len(secret) >= 4 else text


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
    doc: dict[str, Any]
    if kind in formats.BUILDERS:
        doc = formats.BUILDERS[kind](event, use_case_key, payload, at)
    elif kind == "slack":
        text = _summary(event, use_case_key, payload)
        lines = [f"*{k}*: {v}" for k, v in payload.items() if v not in (None, "", [], {}) and k != "title"]
        doc = {"text": text, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900] or "-"}}]}
    else:
        doc = {"event": event, "use_case": use_case_key, "at": at, "data": payload}
    return json.dumps(doc, default=str, separators=(",", ":"), sort_keys=True).encode()


def _with_routing_key(raw: bytes, secret: str) -> bytes:
    """A PagerDuty event gets the channel's secret as its routing key now (stored bodies never hold it)."""
    if b'"routing_key":""' not in raw:
        return raw
    doc = json.loads(raw)
    if isinstance(doc, dict) and doc.get("routing_key") == "" and "event_action" in doc:
        doc["routing_key"] = secret
        return json.dumps(doc, default=str, separators=(",", ":"), sort_keys=True).encode()
    return raw


def _jira_request(url: str, raw: bytes, secret: str) -> tuple[str, bytes, dict[str, str]]:
    """A Jira body gets its project and issue type from the channel URL (then sent without the query), and the
    channel's secret as credentials: `user@example.com:api-token` is Basic (Jira Cloud), anything else a Bearer
    personal access token (Jira Data Center)."""
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    doc = json.loads(raw)
    doc["fields"]["project"] = {"key": query["project"][0]}
    doc["fields"]["issuetype"] = {"name": (query.get("issuetype") or ["Task"])[0]}
    if ":" in secret:
        auth = "Basic " + base64.b64encode(secret.encode()).decode()
    else:
        auth = f"Bearer {secret}"
    body = json.dumps(doc, default=str, separators=(",", ":"), sort_keys=True).encode()
    return parsed._replace(query="").geturl(), body, {"Authorization": auth, "Accept": "application/json"}


@dataclass(frozen=True)
class Attempt:
    """The outcome of one send: ok, HTTP status (None when no answer), error text."""

    ok: bool
    status_code: int | None
    error: str


def send(url: str, raw: bytes, secret: str, event: str, timeout_s: float,
         policy: netguard.OutboundPolicy | None = None, kind: str = "webhook") -> Attempt:
    """POST the raw body once with its signature; a 2xx is success, anything else (or no answer) is a failure.

    The host is resolved and every address checked first (netguard); the request then goes to a checked address
    with the original Host header and TLS server name, so a second DNS answer cannot redirect it."""
    if urlparse(url).scheme in EMAIL_SCHEMES:  # an e-mail channel: the secret is the SMTP password
        ok, error = smtp.send(url, raw, secret, timeout_s, policy)
        return Attempt(ok, None, error)
    raw = _with_routing_key(raw, secret)
    extra: dict[str, str] = {}
    if kind == "jira":  # project and issue type from the URL, the secret as credentials (formats.jira)
        url, raw, extra = _jira_request(url, raw, secret)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw), EVENT_HEADER: event,
               "User-Agent": "takeoff-webhooks", **extra}
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
