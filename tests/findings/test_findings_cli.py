"""`takeoff finding list|open|close` against the app (HTTP client patched to a TestClient)."""
from __future__ import annotations

import pytest



@pytest.fixture
def run(cli_as):  # type: ignore[no-untyped-def]
    return cli_as("risk_partner", "rita")


def test_open_list_close(run, usecase) -> None:  # type: ignore[no-untyped-def]
    r = run("finding", "open", usecase, "No human review of automated declines", "--severity", "critical",
            "--source", "external_audit", "--control", "TK-HO-01", "--due", "2099-01-31")
    assert r.exit_code == 0, r.output
    fid = r.output.strip().splitlines()[-1]
    assert "owner olivia" in r.output
    r = run("finding", "list", "--open")
    assert r.exit_code == 0 and "No human review" in r.output and "critical" in r.output and "TK-HO-01" in r.output
    assert "1 finding(s), 1 open" in r.output
    r = run("finding", "close", fid, "--resolution", "analysts review every decline")
    assert r.exit_code == 0 and f"closed finding #{fid}" in r.output
    r = run("finding", "list", "--status", "closed")
    assert r.exit_code == 0 and "1 finding(s), 0 open" in r.output
    r = run("finding", "close", fid, "--resolution", "again")
    assert r.exit_code == 2 and "already closed" in r.output


def test_bad_input_exits_2(run, usecase) -> None:  # type: ignore[no-untyped-def]
    for args, words in ((("finding", "open", usecase, "x", "--severity", "urgent"), "severity"),
                        (("finding", "open", "no-such-case", "x"), "not found"),
                        (("finding", "open", usecase, "x", "--due", "31/01/2099"), "due_on"),
                        (("finding", "open", usecase, "x", "--control", "TK-NOPE"), "unknown control"),
                        (("finding", "close", "1", "--resolution", " "), "not found"),
                        (("finding", "list", "--severity", "huge"), "severity")):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert words in r.output, (args, r.output)
    r = run("finding", "close", "1")  # --resolution is required
    assert r.exit_code == 2
    assert run("finding", "list").output.strip().endswith("0 finding(s), 0 open")
