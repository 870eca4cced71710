"""Outbound address rules: where webhooks, eval HTTP targets, LLM judges and data sources may connect.

A user-given host must not reach the server's own network: loopback, link-local (cloud metadata at
169.254.169.254), private, unique-local, shared (CGNAT), multicast, unspecified and reserved addresses are refused
unless the operator lists the host or its network in ``TAKEOFF_OUTBOUND_ALLOW_HOSTS``. Two checks use the rule:
``check_url_literal`` at creation (a literal forbidden IP or ``localhost`` gets a 422) and ``resolve_checked`` at
send time (resolve, check every address, then connect to a checked address, so DNS rebinding does not pass).
"""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from takeoff.core.policy import ProcessPolicy

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SETTING = "TAKEOFF_OUTBOUND_ALLOW_HOSTS"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")  # 2130706433, 0x7f.1, 127.1


class OutboundRefused(OSError):
    """A connection to a forbidden address; an OSError so HTTP clients' connect paths carry it through."""


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address embeds (mapped, 6to4, Teredo client, NAT64), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_forbidden(ip: str | IPAddress) -> bool:
    """Whether an address is off-limits by default: anything not globally routable, and multicast."""
    addr = _unwrap(ipaddress.ip_address(ip) if isinstance(ip, str) else ip)
    return addr.is_multicast or addr.is_unspecified or not addr.is_global


def kind_of(ip: str | IPAddress) -> str:
    """A short name for why an address is forbidden (for error messages)."""
    addr = _unwrap(ipaddress.ip_address(ip) if isinstance(ip, str) else ip)
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local (cloud metadata)" if str(addr) == "169.254.169.254" else "link-local"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_multicast:
        return "multicast"
    if isinstance(addr, ipaddress.IPv6Address) and addr in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if addr.is_private:
        return "private"
    return "non-public"


@dataclass(frozen=True)
class OutboundPolicy:
    """What the operator allows beyond public addresses: exact host names, '*.suffix' names, IP networks."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    nets: tuple[IPNetwork, ...] = ()

    def host_allowed(self, host: str) -> bool:
        """Whether this host name is listed (then it may resolve anywhere: the operator trusts that name)."""
        name = _norm_host(host)
        return name in self.hosts or any(name.endswith(s) for s in self.suffixes)

    def ip_allowed(self, ip: str | IPAddress) -> bool:
        """Whether a connection to this address may be made: public, or inside a listed network."""
        addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        if not is_forbidden(addr):
            return True
        inner = _unwrap(addr)
        return any(a in net for net in self.nets for a in {addr, inner} if a.version == net.version)


STRICT = OutboundPolicy()


def _norm_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_allow(raw: str | None) -> OutboundPolicy:
    """Parse the comma list of TAKEOFF_OUTBOUND_ALLOW_HOSTS; ValueError names the first bad entry."""
    hosts: set[str] = set()
    suffixes: list[str] = []
    nets: list[IPNetwork] = []
    for item in (raw or "").split(","):
        entry = _norm_host(item)
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        if "/" in entry or ":" in entry or not _HOSTNAME.match(entry):
            raise ValueError(f"{SETTING}: {item.strip()!r} is neither a host name ('api.example.com', "
                             "'*.corp.example') nor an IP address or network ('10.0.0.0/8')")
        if entry.startswith("*."):
            suffixes.append(entry[1:])
        else:
            hosts.add(entry)
    return OutboundPolicy(frozenset(hosts), tuple(suffixes), tuple(nets))


# This process's policy: the app configures it; without an app, TAKEOFF_OUTBOUND_ALLOW_HOSTS from the environment.
POLICY: ProcessPolicy[OutboundPolicy] = ProcessPolicy("outbound", lambda s: parse_allow(s.outbound_allow_hosts))
configure = POLICY.configure
active = POLICY.active


def literal_ip(host: str) -> IPAddress | None:
    """The address a host string spells directly (including legacy forms like 2130706433), or None for a name."""
    name = _norm_host(host)
    try:
        return ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        pass
    if _LEGACY_V4.match(name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def _refusal(what: str, host: str, ip: str | IPAddress) -> OutboundRefused:
    where = f"{host} ({ip})" if _norm_host(host) != str(ip) else str(ip)
    return OutboundRefused(f"{what} host {where} is a {kind_of(ip)} address; outbound requests may not reach "
                           f"internal addresses unless {SETTING} lists the host")


def check_host_literal(host: str | None, policy: OutboundPolicy, what: str = "outbound") -> None:
    """Creation-time check without DNS: refuse a literal forbidden address, an empty host or 'localhost'."""
    name = _norm_host(host or "")
    if name and policy.host_allowed(name):
        return
    if not name or name == "localhost" or name.endswith(".localhost"):
        if not policy.ip_allowed("127.0.0.1"):
            raise _refusal(what, name or "(empty)", ipaddress.ip_address("127.0.0.1"))
        return
    ip = literal_ip(name)
    if ip is not None and not policy.ip_allowed(ip):
        raise _refusal(what, name, ip)


def check_url_literal(url: str, policy: OutboundPolicy, what: str = "outbound") -> None:
    """check_host_literal on a URL's host."""
    check_host_literal(urlsplit(url).hostname, policy, what)


def resolve_checked(host: str, port: int, policy: OutboundPolicy, what: str = "outbound",
                    family: int = socket.AF_UNSPEC) -> list[tuple[int, str]]:
    """Send-time check: resolve the host, refuse when any address is forbidden, return (family, ip) to connect to.

    A listed host name is trusted wherever it resolves. Raises OutboundRefused, or socket.gaierror when the name
    does not resolve.
    """
    name = _norm_host(host)
    check_host_literal(name, policy, what)
    ip = literal_ip(name)
    if ip is not None:
        return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]
    infos = socket.getaddrinfo(name, port, family, socket.SOCK_STREAM)
    out: list[tuple[int, str]] = []
    for fam, _, _, _, sockaddr in infos:
        addr = str(sockaddr[0]).split("%")[0]
        if not policy.host_allowed(name) and not policy.ip_allowed(addr):
            raise _refusal(what, name, ipaddress.ip_address(addr))
        if (fam, str(sockaddr[0])) not in out:
            out.append((fam, str(sockaddr[0])))
    if not out:
        raise socket.gaierror(f"{name} has no address")
    return out
