"""Per-token rate limits of the API and of ingestion, and the client address that throttling keys on.

The counters live in this server process (the `limits` library's memory storage, sliding-window counters): a server
run with `--workers N` or on several machines admits up to N times each limit per token. That is enough to stop a
runaway script or a flood without a shared store on the hot path; sign-in and bad-token lockouts, which must hold
across processes, are in the database instead (auth/throttle.py).
"""
from __future__ import annotations

import ipaddress
import time
from functools import lru_cache

from fastapi import Request
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from takeoff.core.actor import Actor
from takeoff.auth.lockout import retry_after
from takeoff.core.config import Settings
from takeoff.core.errors import RateLimited

# Ingestion routes: counted per second against the ingestion limits, not per minute against the API limit.
INGEST_PATHS = frozenset({"/api/v1/events", "/api/v1/feedback", "/v1/traces"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The networks of TAKEOFF_TRUSTED_PROXIES ("10.0.0.1, 10.1.0.0/16"); ValueError names a bad entry."""
    nets: list[Network] = []
    for part in (p.strip() for p in setting.split(",")):
        if part:
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"TAKEOFF_TRUSTED_PROXIES: {part!r} is not an IP address or network") from None
    return tuple(nets)


def is_trusted(address: str, nets: tuple[Network, ...]) -> bool:
    """True when the address is inside one of the trusted proxy networks."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: str) -> str:
    """The client's address: the connection's peer, unless that peer is a trusted proxy; then the right-most
    X-Forwarded-For entry that is not itself a trusted proxy (entries left of it are the client's to forge)."""
    address = peer or "unknown"
    nets = trusted_networks(trusted_proxies) if trusted_proxies else ()
    if not nets or not forwarded_for or not is_trusted(address, nets):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not is_trusted(hop, nets):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # a garbled header: fall back to the proxy itself
        address = hop
    return address


def request_address(request: Request) -> str:
    """The client address of a request, by the server's TAKEOFF_TRUSTED_PROXIES."""
    return client_address(request.client.host if request.client else None,
                          request.headers.get("x-forwarded-for"), request.app.state.settings.trusted_proxies)


class TokenLimits:
    """Sliding-window counters per API token: API requests per minute, ingestion requests and events per second."""

    def __init__(self, settings: Settings) -> None:
        trusted_networks(settings.trusted_proxies)  # a bad TAKEOFF_TRUSTED_PROXIES fails at start, not per request
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self.api = RateLimitItemPerMinute(settings.api_rate_limit_per_minute) \
            if settings.api_rate_limit_per_minute > 0 else None
        self.ingest = RateLimitItemPerSecond(settings.ingest_rate_limit_per_second) \
            if settings.ingest_rate_limit_per_second > 0 else None
        self.events = RateLimitItemPerSecond(settings.ingest_events_per_second) \
            if settings.ingest_events_per_second > 0 else None

    def _hit(self, item: RateLimitItem | None, key: str, cost: int, what: str) -> None:
        if item is None or cost <= 0:
            return
        # A single batch larger than the whole allowance is charged the allowance, so it can pass once the
        # window is empty instead of being refused forever.
        if not self.limiter.hit(item, key, cost=min(cost, item.amount)):
            wait = self.limiter.get_window_stats(item, key).reset_time - time.time()
            raise RateLimited(f"rate limited: this token is over {item.amount} {what} per {_per(item)}; "
                              f"retry after {retry_after(wait)} s", retry_after=retry_after(wait),
                              details=[{"limit": item.amount, "per": _per(item), "counts": what}])

    def check_request(self, actor: Actor, path: str) -> None:
        """Count one request of a token; 429 with Retry-After when the token is over its limit."""
        if actor.token_id is None:
            return
        if path in INGEST_PATHS:
            self._hit(self.ingest, f"ingest:{actor.token_id}", 1, "ingestion requests")
        else:
            self._hit(self.api, f"api:{actor.token_id}", 1, "API requests")

    def charge_events(self, actor: Actor, events: int) -> None:
        """Count a batch's events against its token's events-per-second limit; 429 (nothing stored) when over."""
        if actor.token_id is not None:
            self._hit(self.events, f"events:{actor.token_id}", events, "events")


def _per(item: RateLimitItem) -> str:
    return "minute" if isinstance(item, RateLimitItemPerMinute) else "second"

