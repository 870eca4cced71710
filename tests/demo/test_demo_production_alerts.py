"""The demo's production alerts come from production traffic only: once its monitoring checks run, the credit
decision use case (evaluated, never in production, no telemetry) has no alert and no incident, and no alert counts
eval cases."""
from __future__ import annotations

from sqlalchemy import select

from takeoff.core.db import transaction
from takeoff.incidents.models import Incident
from takeoff.jobs import service as jobs
from takeoff.monitoring.models import Alert


def test_demo_opens_no_production_alert_from_eval_cases(demo_seeded, factory, settings, app) -> None:
    with transaction(factory) as s:
        before = {i.id for i in s.scalars(select(Incident))}
        jobs.enqueue(s, "monitoring.evaluate", {})
    app.state.worker.drain()
    with transaction(factory) as s:
        alerts = list(s.scalars(select(Alert)))
        opened = [i for i in s.scalars(select(Incident)) if i.id not in before]
        assert [a.name for a in alerts if a.use_case_key == "credit-decision"] == []
        assert [i.title for i in opened if i.use_case_key == "credit-decision"] == []
        assert not any("eval" in (a.detail or "") for a in alerts), [a.detail for a in alerts]
        assert all(a.kind != "quality" or "production events" in a.detail for a in alerts)
