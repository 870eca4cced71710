"""`takeoff apply` / `takeoff export` through the CLI against the app: diff, idempotence, refusal, round trip."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from takeoff.cli import app as cli
from takeoff.commands import _http
from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase, UseCaseScore

DOCS = """kind: Organization
operating_model: hub_and_spoke
constraints: {regulations: GDPR, budget: 200k EUR per year}
platforms: {monitoring: takeoff}
roles: {business_owner: [bea], risk_partner: [rita]}
---
kind: UseCase
key: support-reply
name: Support reply assist
purpose: Draft replies for support agents
data_sources: [zendesk, kb]
expected_users: 40
system_of_record: Zendesk
biggest_bottleneck: data_access
risk_constraint: no customer PII leaves the EU
monthly_volume: 20000
business_owner: bea
risk_factors: {harm_if_wrong: 2, decision_mode: assist, personal_data: true, regulated_domain: false, external_users: false}
targets: {latency_p95_ms: 2000, cost_per_task_usd: 0.03, min_eval_pass_rate: 0.9}
kpis:
  north_star: {name: handle time, unit: min, direction: lower_is_better, baseline: 9, target: 6}
  guardrails:
    - {name: CSAT, unit: score, direction: higher_is_better, baseline: 4.2, target: 4.2}
    - {name: escalation rate, unit: "%", direction: lower_is_better, baseline: 8, target: 8}
---
kind: Raci
use_case: support-reply
responsible: [bea]
accountable: [bea]
consulted: [rita]
---
kind: Scores
use_case: support-reply
scores:
  - {scorer: bea, scored_on: "2026-10-01", value: 4, feasibility: 4, risk: 2}
  - {scorer: rita, scored_on: "2026-10-01", value: 4, feasibility: 3, risk: 2}
---
kind: TierPolicy
tier: low
approver_roles: [product_owner, business_owner]
checklist:
  - {id: CL-EVAL, title: Eval gate passed, evidence_kind: eval_gate_passed, mandatory: true}
"""


@pytest.fixture
def run(app, admin, users, monkeypatch):  # type: ignore[no-untyped-def]
    users.create("business_owner", username="bea")
    users.create("risk_partner", username="rita")
    monkeypatch.setattr(_http, "client", lambda timeout=60.0: TestClient(app, headers=admin))
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args))

    return invoke


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_apply_prints_a_diff_then_no_changes(run, tmp_path: Path, factory) -> None:
    f = tmp_path / "portfolio.yaml"
    f.write_text(DOCS)
    dry = run("apply", "-f", str(f), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "+ UseCase support-reply (created)" in dry.output and "dry run" in dry.output
    assert count(factory, UseCase) == 0
    first = run("apply", "-f", str(tmp_path))
    assert first.exit_code == 0, first.output
    assert "+ UseCase support-reply (created)" in first.output
    assert "~ TierPolicy low (updated)" in first.output
    assert count(factory, UseCaseScore) == 2
    second = run("apply", "-f", str(f))
    assert second.exit_code == 0 and second.output.strip() == "no changes"
    f.write_text(DOCS.replace("expected_users: 40", "expected_users: 60"))
    third = run("apply", "-f", str(f))
    assert "~ UseCase support-reply (updated)" in third.output and "expected_users: 40" in third.output


@pytest.mark.parametrize("bad, where, what", [
    ("value: 4, feasibility: 4, risk: 2}", "field scores.0", "value: 7, feasibility: 4, risk: 2}"),
    ("consulted: [rita]", "consulted", "consulted: [ghost]"),
    ("roles: {business_owner: [bea], risk_partner: [rita]}", "roles", "roles: {wizard: [bea]}"),
    ("---\nkind: Raci", "duplicate UseCase 'support-reply'",
     "---\n" + DOCS.split("---\n")[1] + "---\nkind: Raci"),
    ("purpose: Draft replies for support agents\n", "purpose", "purpose: ''\n"),
])
def test_a_bad_document_rejects_the_whole_batch_naming_file_line_field(run, tmp_path, factory, bad, where, what) -> None:
    f = tmp_path / "bad.yaml"
    text = DOCS.replace(bad, what, 1)
    assert text != DOCS
    f.write_text(text)
    r = run("apply", "-f", str(f))
    assert r.exit_code == 2, r.output
    assert f"{f}:" in r.output and where in r.output
    assert count(factory, UseCase) == 0 and count(factory, UseCaseScore) == 0


def test_malformed_yaml_names_the_line(run, tmp_path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("kind: UseCase\nkey: [unclosed\n")
    r = run("apply", "-f", str(f))
    assert r.exit_code == 2 and f"{f}:" in r.output


def test_export_round_trips(run, tmp_path: Path) -> None:
    f = tmp_path / "in.yaml"
    f.write_text(DOCS)
    assert run("apply", "-f", str(f)).exit_code == 0
    bare = tmp_path / "bare.yaml"
    bare.write_text("key: bare-uc\nname: Bare\npurpose: p\ndata_sources: [d]\nuser_groups: [finance]\nrisk_tier: high\n")
    assert run("usecase", "create", "-f", str(bare)).exit_code == 0
    out = tmp_path / "export.yaml"
    r = run("export", "-o", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "kind: UseCase" in text and "kind: Raci" in text and "kind: Scores" in text
    again = run("apply", "-f", str(out))
    assert again.exit_code == 0 and again.output.strip() == "no changes", again.output
    out2 = tmp_path / "export2.yaml"
    run("export", "-o", str(out2))
    assert out2.read_text() == text


def test_usecase_commands(run, tmp_path: Path) -> None:
    f = tmp_path / "uc.yaml"
    f.write_text("key: invoice-anomaly\nname: Invoice anomaly detection\npurpose: Flag odd invoices\n"
                 "data_sources: [erp]\nexpected_users: 5\nrisk_tier: medium\n")
    r = run("usecase", "create", "-f", str(f))
    assert r.exit_code == 0 and "registered invoice-anomaly" in r.output
    r = run("usecase", "transition", "invoice-anomaly", "production", "--reason", "ship")
    assert r.exit_code == 2 and "cannot move from proposed to production" in r.output
    r = run("usecase", "transition", "invoice-anomaly", "pilot", "--reason", "pilot with finance")
    assert r.exit_code == 0 and "proposed → pilot" in r.output
    r = run("usecase", "list")
    assert "invoice-anomaly" in r.output and "pilot" in r.output
    r = run("usecase", "show", "invoice-anomaly")
    assert '"status": "pilot"' in r.output
