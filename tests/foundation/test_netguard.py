"""Issue 16.5: the outbound address rule (takeoff.core.netguard): internal addresses refused unless the operator lists
them, checked on the literal host at creation and on every resolved address at send time."""
from __future__ import annotations

import socket

import pytest

from takeoff.core import netguard
from takeoff.core.config import Settings


@pytest.mark.parametrize("ip, forbidden", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("169.254.169.254", True), ("fe80::1", True),
    ("10.0.0.1", True), ("172.16.5.4", True), ("192.168.1.1", True), ("fd00:ec2::254", True), ("fc00::1", True),
    ("224.0.0.251", True), ("ff02::1", True), ("0.0.0.0", True), ("::", True), ("100.100.100.200", True),
    ("::ffff:127.0.0.1", True), ("::ffff:169.254.169.254", True), ("64:ff9b::a00:1", True), ("2002:a00:1::1", True),
    ("8.8.8.8", False), ("1.1.1.1", False), ("2606:4700:4700::1111", False), ("::ffff:8.8.8.8", False),
])
def test_is_forbidden(ip, forbidden):
    assert netguard.is_forbidden(ip) is forbidden


@pytest.mark.parametrize("host", ["127.0.0.1", "169.254.169.254", "10.0.0.1", "[::1]", "::1", "localhost",
                                  "LOCALHOST.", "api.localhost", "2130706433", "0x7f.1", "0", ""])
def test_literal_internal_hosts_are_refused_by_default(host):
    with pytest.raises(netguard.OutboundRefused, match="TAKEOFF_OUTBOUND_ALLOW_HOSTS"):
        netguard.check_host_literal(host, netguard.STRICT, "webhook")


def test_public_names_and_addresses_pass_the_literal_check():
    for host in ("hooks.example.com", "8.8.8.8", "[2606:4700::1111]"):
        netguard.check_host_literal(host, netguard.STRICT)


def _fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def fake(host, port, family=0, type=0, *a, **kw):  # type: ignore[no-untyped-def]
        if host in answers:
            return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                    for ip in answers[host]]
        return real(host, port, family, type, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_every_resolved_address_is_checked(monkeypatch):
    _fake_dns(monkeypatch, {"rebind.example": ["93.184.216.34", "127.0.0.1"], "meta.example": ["169.254.169.254"],
                            "ok.example": ["93.184.216.34"]})
    with pytest.raises(netguard.OutboundRefused, match=r"rebind.example \(127.0.0.1\) is a loopback"):
        netguard.resolve_checked("rebind.example", 80, netguard.STRICT)
    with pytest.raises(netguard.OutboundRefused, match="cloud metadata"):
        netguard.resolve_checked("meta.example", 80, netguard.STRICT)
    with pytest.raises(netguard.OutboundRefused):
        netguard.resolve_checked("localhost", 80, netguard.STRICT)  # resolves to loopback for real
    assert netguard.resolve_checked("ok.example", 443, netguard.STRICT) == [(socket.AF_INET, "93.184.216.34")]


def test_the_operator_allows_listed_hosts_and_networks(monkeypatch):
    _fake_dns(monkeypatch, {"db.corp.example": ["10.1.2.3"], "other.example": ["10.9.9.9"]})
    policy = netguard.parse_allow("*.corp.example, 192.168.0.0/16, ::1")
    assert netguard.resolve_checked("db.corp.example", 5432, policy) == [(socket.AF_INET, "10.1.2.3")]
    assert netguard.resolve_checked("192.168.4.4", 80, policy) == [(socket.AF_INET, "192.168.4.4")]
    assert netguard.resolve_checked("::1", 80, policy) == [(socket.AF_INET6, "::1")]
    with pytest.raises(netguard.OutboundRefused):
        netguard.resolve_checked("other.example", 80, policy)
    with pytest.raises(netguard.OutboundRefused):
        netguard.check_host_literal("127.0.0.1", policy)


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "bad host", "http://x.example", "a..b", "*"])
def test_bad_allow_list_values_are_a_startup_error(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="TAKEOFF_OUTBOUND_ALLOW_HOSTS"):
        Settings(outbound_allow_hosts=f"localhost,{bad}")


def test_the_cli_reports_a_bad_setting_in_one_line(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from takeoff.cli import app

    monkeypatch.setenv("TAKEOFF_OUTBOUND_ALLOW_HOSTS", "10.0.0.0/33")
    monkeypatch.setenv("TAKEOFF_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2
    assert "TAKEOFF_OUTBOUND_ALLOW_HOSTS" in result.output and "Traceback" not in result.output
