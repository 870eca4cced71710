"""The e-mail channel's transport: an `smtp://` or `smtps://` URL names the server, sender and recipients; the
channel's secret is the SMTP password when the URL names a user. The server's address is checked by netguard
like every outbound connection."""
from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from takeoff.core import netguard

MAX_RECIPIENTS = 50


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send: host, port, TLS mode, optional user, sender and recipients."""

    host: str
    port: int
    tls: str  # "ssl" (smtps://), "starttls" or "none"
    user: str | None
    sender: str
    recipients: tuple[str, ...]


def _address(value: str, what: str) -> str:
    _, addr = parseaddr(value)
    if not addr or "@" not in addr or any(c in addr for c in "\r\n,;"):
        raise ValueError(f"the e-mail URL's {what} must be an e-mail address, got {value!r}")
    return addr


def parse(url: str) -> SmtpTarget:
    """The target of smtp://[user@]host[:port]?from=a@x&to=b@y,c@z[&starttls=false]; ValueError naming the problem."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("an e-mail channel's URL must be smtp://[user@]host[:port]?from=...&to=... (or smtps://)")
    if parts.password:
        raise ValueError("put the SMTP password in the channel's secret, not in its URL")
    query = parse_qs(parts.query)
    sender = _address((query.get("from") or [""])[0], "'from'")
    recipients = tuple(_address(a.strip(), "'to'") for v in query.get("to", []) for a in v.split(",") if a.strip())
    if not recipients or len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"the e-mail URL needs 1-{MAX_RECIPIENTS} recipients in 'to'")
    starttls = (query.get("starttls") or ["true"])[0].lower() not in ("false", "0", "no")
    tls = "ssl" if parts.scheme == "smtps" else ("starttls" if starttls else "none")
    try:
        port = parts.port or (465 if tls == "ssl" else 587)
    except ValueError:
        raise ValueError("the e-mail URL's port must be 1-65535") from None
    return SmtpTarget(parts.hostname, port, tls, unquote(parts.username) if parts.username else None, sender,
                      recipients)


def message(target: SmtpTarget, raw: bytes) -> EmailMessage:
    """The e-mail for a stored body ({"subject", "text"})."""
    doc = json.loads(raw)
    msg = EmailMessage()
    msg["Subject"] = str(doc.get("subject", "[takeoff]")).replace("\r", " ").replace("\n", " ")
    msg["From"] = target.sender
    msg["To"] = ", ".join(target.recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=target.sender.rsplit("@", 1)[-1])
    msg.set_content(str(doc.get("text", "")))
    return msg


def send(url: str, raw: bytes, password: str, timeout_s: float,
         policy: netguard.OutboundPolicy | None = None) -> tuple[bool, str]:
    """Send one e-mail; (True, "") or (False, a reason without the password)."""
    try:
        target = parse(url)
        addrs = netguard.resolve_checked(target.host, target.port, policy if policy is not None else netguard.active(),
                                         "e-mail")
    except netguard.OutboundRefused as exc:
        return False, f"refused: {exc}"[:500]
    except (ValueError, OSError) as exc:
        return False, f"{exc}"[:500]
    msg = message(target, raw)
    error = "no address to connect to"
    for _, ip in addrs:
        try:
            context = ssl.create_default_context()
            client = (smtplib.SMTP_SSL(timeout=timeout_s, context=context) if target.tls == "ssl"
                      else smtplib.SMTP(timeout=timeout_s))
            # Connect to the checked address, but verify TLS against the configured host name (smtplib's _host).
            client._host = target.host  # type: ignore[attr-defined]
            with client:
                client.connect(ip, target.port)
                client.ehlo()
                if target.tls == "starttls":
                    client.starttls(context=context)
                    client.ehlo()
                if target.user:
                    client.login(target.user, password)
                client.send_message(msg)
            return True, ""
        except smtplib.SMTPAuthenticationError as exc:
            return False, f"SMTP authentication failed ({exc.smtp_code})"
        except smtplib.SMTPResponseException as exc:
            return False, f"SMTP {exc.smtp_code}: {exc.smtp_error.decode(errors='replace')[:200]}"
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    return False, error
