"""`takeoff datasource list|show|check`: exit 0 all green, 1 a breach or a failed check, 2 bad input."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from takeoff.cli import app as cli_app
from takeoff.commands import _http

from .conftest import source_body


@pytest.fixture
def cli(app, monkeypatch, owner):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_http, "client", lambda timeout=60.0: TestClient(app, headers=owner["headers"]))
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli_app, ["datasource", *args])

    return run


def test_check_green_exits_0(cli, registered):
    result = cli("check", "orders")
    assert result.exit_code == 0, result.output
    assert "completeness" in result.output and "run " in result.output


def test_check_breach_exits_1(cli, client, registered, owner):
    client.patch("/api/v1/datasources/orders", json={"checks": [
        {"kind": "rule", "name": "positive", "expression": "amount > 0"}]}, headers=owner["headers"])
    result = cli("check", "orders")
    assert result.exit_code == 1
    assert "BREACH" in result.output and "positive" in result.output


def test_check_fault_exits_1_with_reason(cli, client, owner, source_db):
    client.post("/api/v1/datasources", json=source_body(source_db, None, owner["name"], table="missing_tbl"),
                headers=owner["headers"])
    result = cli("check", "orders")
    assert result.exit_code == 1
    assert "table missing_tbl does not exist" in result.output


def test_bad_input_exits_2(cli, registered):
    unknown = cli("check", "no-such-source")
    assert unknown.exit_code == 2
    assert "not found" in unknown.output
    assert cli("check", "orders", "--timeout", "0").exit_code == 2


def test_list_and_show_never_print_the_secret(cli, client, owner):
    url = "postgresql+psycopg://reader:CliSecretPw@127.0.0.1:1/erp"
    client.post("/api/v1/datasources", json=source_body(url, None, owner["name"], name="erp"), headers=owner["headers"])
    listed = cli("list")
    assert listed.exit_code == 0 and "erp" in listed.output
    shown = cli("show", "erp", "--json")
    assert shown.exit_code == 0 and "CliSecretPw" not in shown.output and "127.0.0.1:1" in shown.output
    checked = cli("check", "erp", "--timeout", "3")
    assert checked.exit_code == 1 and "CliSecretPw" not in checked.output and "cannot reach host" in checked.output
