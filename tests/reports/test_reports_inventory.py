"""The report dispatcher and the one-page inventory: API, CLI and the reports page."""
from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from takeoff.cli import app as cli
from takeoff.commands import _http


def _seed(client, admin) -> None:  # type: ignore[no-untyped-def]
    client.post("/api/v1/usecases", headers=admin, json={
        "key": "support-reply", "name": "Support <reply> assist", "purpose": "Draft replies",
        "data_sources": ["zendesk"], "expected_users": 40, "risk_tier": "low", "system_of_record": "Zendesk",
        "biggest_bottleneck": "approvals", "risk_constraint": "no PII | leaves the EU"})
    client.patch("/api/v1/governance/organization", headers=admin,
                 json={"constraints": {"regulations": "GDPR"}, "platforms": {"deployment": "Kubernetes"}})


def test_inventory_markdown_and_html(client, admin) -> None:
    _seed(client, admin)
    md = client.get("/api/v1/reports/inventory?format=md", headers=admin)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "| Support <reply> assist (support-reply) | proposed | Zendesk | approvals | no PII \\| leaves the EU |" in md.text
    assert "| regulations | GDPR |" in md.text and "| deployment | Kubernetes |" in md.text
    assert "| latency | not recorded |" in md.text
    html = client.get("/api/v1/reports/inventory?format=html", headers=admin)
    assert html.headers["content-type"].startswith("text/html")
    assert "Support &lt;reply&gt; assist" in html.text and "<script" not in html.text


def test_unknown_report_and_bad_format(client, admin) -> None:
    r = client.get("/api/v1/reports/nope", headers=admin)
    assert r.status_code == 404 and "inventory" in r.json()["error"]["message"]
    assert client.get("/api/v1/reports/inventory?format=pdf", headers=admin).status_code == 422
    assert client.get("/api/v1/reports/..%2Fapi", headers=admin).status_code == 404
    names = [x["name"] for x in client.get("/api/v1/reports", headers=admin).json()["reports"]]
    assert "inventory" in names and "api" not in names and "web" not in names
    assert client.get("/api/v1/reports/inventory").status_code == 401


def test_report_command_writes_a_file(app, client, admin, monkeypatch, tmp_path) -> None:
    _seed(client, admin)
    monkeypatch.setattr(_http, "client", lambda timeout=60.0: TestClient(app, headers=admin))
    out = tmp_path / "inventory.html"
    r = CliRunner().invoke(cli, ["report", "inventory", "--format", "html", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith("<!doctype html>")
    r = CliRunner().invoke(cli, ["report", "inventory"])
    assert r.exit_code == 0 and "# AI initiative inventory" in r.output
    r = CliRunner().invoke(cli, ["report", "inventory", "--format", "pdf"])
    assert r.exit_code == 2
