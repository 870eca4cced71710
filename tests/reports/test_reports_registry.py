"""Reports are a named registry: the defaults are registered through it, and a report registered the same way is
listed and rendered by the API like a default one."""
from __future__ import annotations

from typing import Any

import pytest

from takeoff.reports.registry import Registry, reports


def test_defaults_are_registered_by_name_with_their_titles() -> None:
    assert reports.names() == ["inventory", "quarterly", "readiness", "scorecard"]
    assert reports.get("inventory").title == "AI initiative inventory"  # type: ignore[union-attr]
    assert reports.get("../inventory") is None and reports.get(3) is None


def test_a_registered_report_is_listed_and_rendered(client, admin) -> None:  # type: ignore[no-untyped-def]
    def render(session: Any, fmt: str, team: str = "all") -> str:
        if team == "none":
            raise ValueError("team 'none' does not exist")
        return f"# Team {team}" if fmt == "md" else f"<h1>Team {team}</h1>"

    reports.register("team_digest", render, title="Team digest")
    try:
        listed = client.get("/api/v1/reports", headers=admin).json()["reports"]
        assert {"name": "team_digest", "title": "Team digest"} in listed
        r = client.get("/api/v1/reports/team_digest?format=md&team=ops&ignored=1", headers=admin)
        assert r.status_code == 200 and r.text == "# Team ops"
        bad = client.get("/api/v1/reports/team_digest?team=none", headers=admin)
        assert bad.status_code == 422 and "team 'none'" in bad.json()["error"]["message"]
    finally:
        reports.remove("team_digest")
    assert client.get("/api/v1/reports/team_digest", headers=admin).status_code == 404


def test_names_are_checked_and_unique() -> None:
    r = Registry()
    r.register("digest", lambda session, fmt: "")
    with pytest.raises(ValueError, match="already registered"):
        r.register("digest", lambda session, fmt: "")
    with pytest.raises(ValueError, match="lower_snake_case"):
        r.register("Bad-Name", lambda session, fmt: "")
    assert r.get("digest").title == "Digest"  # type: ignore[union-attr]
