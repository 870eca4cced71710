"""Security headers on every response (CSP without inline scripts, no framing, nosniff, referrer policy) and
Secure cookies when the request came over HTTPS (or the proxy in front says so, when trusted, or a setting does)."""
from __future__ import annotations

from typing import Any

from takeoff.core.observability import Wrapper
from takeoff.ratelimit import is_trusted, trusted_networks

# Pages load scripts only from /static (no inline <script>, no on*= handlers, no eval: htmx runs with allowEval off).
# Styles may be inline: templates carry a few style="" attributes and Chart.js sizes its canvases.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
# The API explorer (/api/docs) is served from /static too (web.pages.api_docs): one policy for every path.


def security_headers(path: str) -> dict[str, str]:
    """The headers every response carries, by path."""
    return {"Content-Security-Policy": CSP,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin"}


def is_https(scheme: str, forwarded_proto: str | None, trust_proxy: bool) -> bool:
    """True when the request came over HTTPS: the connection's scheme, or the first X-Forwarded-Proto value when
    the connection comes from a trusted proxy (a client reaching the server directly could send any header)."""
    if scheme == "https":
        return True
    if trust_proxy and forwarded_proto:
        return forwarded_proto.split(",")[0].strip().lower() == "https"
    return False


def secure_cookie(value: bytes) -> bytes:
    """A Set-Cookie value with the Secure attribute (unchanged when it has it)."""
    attributes = [part.strip().lower() for part in value.split(b";")[1:]]
    return value if b"secure" in attributes else value + b"; Secure"


class SecurityHeaders(Wrapper):
    """ASGI middleware adding security_headers() to every HTTP response and Secure to its cookies over HTTPS."""

    def __init__(self, app: Any, trusted_proxies: str = "", cookie_secure: bool = False) -> None:
        self.app, self.cookie_secure = app, cookie_secure
        self.proxies = trusted_networks(trusted_proxies) if trusted_proxies else ()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        forwarded = next((v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"x-forwarded-proto"), None)
        peer = (scope.get("client") or ("",))[0]
        trusted = bool(self.proxies) and is_trusted(peer, self.proxies)
        secure = self.cookie_secure or is_https(scope.get("scheme", "http"), forwarded, trusted)
        extra = [(k.lower().encode(), v.encode()) for k, v in security_headers(scope.get("path", "")).items()]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                if secure:
                    headers = [(k, secure_cookie(v)) if k.lower() == b"set-cookie" else (k, v) for k, v in headers]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
