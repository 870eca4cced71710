"""The portfolio read (every evidence kind read once for all use cases) judges each use case exactly as `diagnose`
(one use case on its own) does, on a varied workspace: the demo's, plus use cases with each blocker and each
kind of missing or failing evidence. A batching slip (a key mixed up, a row of another use case counted) shows as
a difference here."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from takeoff.core.db import transaction, utcnow
from takeoff.data.models import DataCheckRun, DataSource
from takeoff.demo.seed import seed
from takeoff.findings.models import AuditFinding
from takeoff.incidents.models import Incident
from takeoff.monitoring.models import AlertRule, CanaryCheck
from takeoff.portfolio.models import UseCase
from takeoff.readiness import service
from takeoff.releases.models import Release
from takeoff.review.models import ReviewQueue
from takeoff.telemetry.models import TelemetryFeedback


def _variety(factory) -> None:  # type: ignore[no-untyped-def]
    """Eight more use cases, each failing or lacking evidence its own way (rows written as the flows write them)."""
    now = utcnow()
    with transaction(factory) as s:
        for i in range(8):
            key = f"vary-{i}"
            s.add(UseCase(key=key, name=f"Varied {i}", status=("production", "pilot", "proposed")[i % 3],
                          risk_tier=(None, "low", "medium", "high")[i % 4], business_owner="olivia" if i % 2 else None,
                          product_owner="paul" if i % 3 else None, on_call="sam" if i % 2 else None,
                          kpis={"north_star": {"name": "handled", "unit": "%", "direction": "up", "target": 1}}
                          if i % 2 else {}))
            if i % 3 != 2:
                s.add(Release(use_case_key=key, version=1, status="production", bundle={"fallback_model": "m"}
                              if i % 2 else {}, content_hash="a" * 64, created_by="t", notes="n" if i % 4 else "",
                              production_at=now - timedelta(days=i + 1)))
            if i in (0, 4):
                s.add(Release(use_case_key=key, version=2, status="canary", canary_weight=10, bundle={},
                              content_hash="b" * 64, created_by="t"))
            if i == 4:  # analysed once: passes
                s.add(CanaryCheck(use_case_key=key, canary_release_id=f"{key}:2", verdict="safe_to_promote"))
            if i % 2 == 0:
                s.add(Incident(use_case_key=key, title="answers cite stale policy", severity=1 + i % 4))
            if i in (1, 5):
                s.add(AuditFinding(use_case_key=key, title="no DPIA", severity="critical", source="internal_audit",
                                   found_on=now.date() - timedelta(days=i), created_by="t"))
                s.add(AuditFinding(use_case_key=key, title="closed one", severity="critical", status="closed",
                                   source="internal_audit", found_on=now.date(), created_by="t"))
            if i % 3 == 1:
                s.add(AlertRule(use_case_key=key, name="quality", metric="eval_pass_rate", op="<", threshold=0.8))
                s.add(ReviewQueue(use_case_key=key, name=f"q{i}", created_by="t"))
            if i % 4 == 1:
                s.add(TelemetryFeedback(id=f"fb-{i}", use_case=key, rating=4, ts=now - timedelta(days=2),
                                        received_at=now))
            src = DataSource(name=f"vary-src-{i}", entity="tickets", owner="olivia" if i % 2 else "sam",
                             interface="sql", connection_enc="x",
                             checks=[{"kind": "freshness", "column": "at", "max_age_s": 86400}], use_cases=[key])
            s.add(src)
            s.flush()
            s.add(DataCheckRun(source_id=src.id, status="breach" if i % 3 == 0 else "pass",
                               results=[{"kind": "freshness", "name": "fresh", "status":
                                         "breach" if i % 3 == 0 else "pass"}], started_at=now - timedelta(hours=2)))


def _seeding_lines_say_what_serves(factory, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The demo's release lines never read as if a release that failed its gate were serving (issue 20, item 7)."""
    from takeoff.releases import queries

    said = [ln.strip() for ln in lines if ln.strip().endswith(("serves production", "no release in production"))]
    assert len(said) == 4, lines
    with factory() as s:
        for line in said:
            key = line.split(":", 1)[0]
            serving = queries.current_release(s, key)
            if line.endswith("no release in production"):
                assert serving is None or serving.version > 1, line  # nothing served when the line was printed
            else:
                assert serving is not None and line == f"{key}: {key}:1 serves production", line


def test_portfolio_read_judges_each_use_case_as_diagnose_does(factory, settings, monkeypatch):
    monkeypatch.delenv("TAKEOFF_ADMIN_PASSWORD", raising=False)
    lines: list[str] = []
    with ThreadPoolExecutor(1) as pool:  # eval runs start their own event loop
        assert pool.submit(seed, factory, settings, strict=True, out=lines.append).result() == []
    _seeding_lines_say_what_serves(factory, lines)
    _variety(factory)
    now = utcnow()
    with factory() as s:
        view = service.portfolio_view(s, now)
    assert len(view["use_cases"]) >= 12
    statuses = {(k["kind"], k["status"]) for d in view["use_cases"] for i in d["items"] for k in i["kinds"]}
    blocked = {b["kind"] for d in view["use_cases"] for b in d["verdict"]["blocking"]}
    # the workspace exercises every batched read both ways
    for kind in ("eval_gate_passed", "monitoring_configured", "telemetry_flowing", "human_review", "usage_policy",
                 "feedback_collected", "fallback_exercised", "kpi_accountable", "data_sla_green"):
        assert {(kind, "pass"), (kind, "fail")} <= statuses or (kind, "no_evidence") in statuses, kind
    assert {"no_severe_incident_open", "canary_analysed", "no_critical_finding_open", "data_sla_met"} <= blocked
    assert any(d["verdict"]["ready"] for d in view["use_cases"]) or view["ready"] == 0
    for d in view["use_cases"]:
        with factory() as s:  # a fresh session: nothing the portfolio read loaded is reused
            assert service.diagnose(s, d["use_case"], now=now) == d, d["use_case"]
