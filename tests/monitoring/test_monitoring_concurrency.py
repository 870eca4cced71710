"""Two workers evaluating the same rule at the same moment: one alert and one incident, not two (the unique
firing key decides; the loser's IntegrityError is absorbed). Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from takeoff.core.actor import SYSTEM
from takeoff.core.db import transaction
from takeoff.incidents import service as incidents
from takeoff.incidents.models import Incident
from takeoff.monitoring import alerts
from takeoff.monitoring.models import Alert, AlertRule

from .conftest import make_use_case


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def race(factory, work) -> list:  # type: ignore[no-untyped-def]
    """Run work(session) in two sessions whose transactions overlap: the first commits while the second runs."""
    results: list = []
    errors: list[BaseException] = []
    first = factory()
    results.append(work(first))  # holds its uncommitted alert / incident

    def second() -> None:
        try:
            with transaction(factory) as s:
                results.append(work(s))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.5)  # let the second worker reach its insert (it blocks on the unique key or the write lock)
    first.commit()
    first.close()
    t.join(30)
    assert not errors, errors
    return results


def test_two_workers_evaluating_one_rule_open_one_incident(factory) -> None:
    make_use_case(factory, targets={})
    with transaction(factory) as s:
        s.add(AlertRule(use_case_key="support-reply", name="always", metric="throughput", op=">=", threshold=0,
                        window_s=300, severity=2))
    with transaction(factory) as s:
        rule_id = s.scalar(select(AlertRule.id))

    def work(s):  # type: ignore[no-untyped-def]
        return alerts.evaluate_rule(s, s.get(AlertRule, rule_id))

    results = race(factory, work)
    assert [r["state"] for r in results] == ["firing", "firing"]
    assert sorted(r["new"] for r in results) == [False, True]
    assert count(factory, Alert) == 1 and count(factory, Incident) == 1


def test_two_callers_opening_one_dedup_key_get_the_same_incident(factory) -> None:
    make_use_case(factory)

    def work(s):  # type: ignore[no-untyped-def]
        return incidents.open_incident(s, SYSTEM, "support-reply", "Canary breached", 2, source="canary",
                                       dedup_key="canary:support-reply:2").id

    ids = race(factory, work)
    assert ids[0] == ids[1] and count(factory, Incident) == 1
