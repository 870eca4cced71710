"""Services that jobs and flows call too check the permission themselves (the route's declaration covers only the
route): promote (with the ship_to_production decision right), rollback, opening an incident, running data checks;
and those a form calls for a decision (the form shows their refusal on its page): changing or resolving an incident.
People without the right are refused (403) whoever calls; the system actor of jobs and flows passes."""
from __future__ import annotations

import pytest

from takeoff.core.actor import SYSTEM, Actor
from takeoff.core.db import transaction
from takeoff.core.errors import Forbidden, NotFound
from takeoff.data import runs as data
from takeoff.incidents import service as incidents
from takeoff.releases import rollout as releases


def person(*roles: str) -> Actor:
    return Actor(username="-".join(roles), roles=roles, via="token")


def refused(exc: pytest.ExceptionInfo[Forbidden], code: str, needle: str) -> None:
    assert exc.value.status == 403 and exc.value.code == code and needle in exc.value.message


def test_promote_checks_the_permission_and_the_decision_right(factory, client, admin):
    with transaction(factory) as s, pytest.raises(Forbidden) as exc:
        releases.promote(s, person("viewer"), "uc:1", "canary", 10)
    refused(exc, "permission_denied", "'release.promote'")
    r = client.patch("/api/v1/governance/organization",
                     json={"decision_rights": {"ship_to_production": "platform_engineer"}}, headers=admin)
    assert r.status_code == 200, r.text
    with transaction(factory) as s, pytest.raises(Forbidden) as exc:
        releases.promote(s, person("ai_engineer"), "uc:1", "production")
    refused(exc, "decision_right", "role 'platform_engineer'")
    for who, to in ((person("ai_engineer"), "canary"), (person("platform_engineer"), "production"),
                    (SYSTEM, "production")):  # allowed: the release lookup answers
        with transaction(factory) as s, pytest.raises(NotFound):
            releases.promote(s, who, "uc:1", to, 10 if to == "canary" else None)


def test_the_api_refuses_the_same_way(client, admin, users):
    client.patch("/api/v1/governance/organization",
                 json={"decision_rights": {"ship_to_production": "platform_engineer"}}, headers=admin)
    r = client.post("/api/v1/releases/uc:1/promote", json={"to": "production"}, headers=users.headers("ai_engineer"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "decision_right"
    r = client.post("/api/v1/releases/uc:1/promote", json={"to": "canary", "weight": 10},
                    headers=users.headers("ai_engineer", username="ai2"))
    assert r.status_code == 404


def test_rollback_checks_the_permission(factory):
    with transaction(factory) as s, pytest.raises(Forbidden) as exc:
        releases.rollback(s, person("product_owner"), "uc", "bad answers")
    refused(exc, "permission_denied", "'release.rollback'")
    with transaction(factory) as s, pytest.raises(NotFound):
        releases.rollback(s, SYSTEM, "uc", "canary breach")  # monitoring's automatic rollback


def test_opening_an_incident_checks_the_permission(factory):
    with transaction(factory) as s, pytest.raises(Forbidden) as exc:
        incidents.open_incident(s, person("data_owner"), "uc", "wrong answers", 2, source="manual")
    refused(exc, "permission_denied", "'incident.write'")
    with transaction(factory) as s, pytest.raises(NotFound):
        incidents.open_incident(s, SYSTEM, "uc", "alert fired", 2, source="alert")  # the flows' actor


def test_changing_an_incident_checks_the_decision_right(factory, client, admin):
    from takeoff.incidents.schemas import IncidentPatch, ResolveIn

    with transaction(factory) as s, pytest.raises(Forbidden) as exc:
        incidents.update(s, person("viewer"), 1, IncidentPatch(severity=1))
    refused(exc, "permission_denied", "'incident.write'")
    client.patch("/api/v1/governance/organization", json={"decision_rights": {"incident_owner": "ai_engineer"}},
                 headers=admin)
    with transaction(factory) as s, pytest.raises(Forbidden) as exc:
        incidents.resolve(s, person("platform_engineer"), 1, ResolveIn(resolution="fixed"))
    refused(exc, "decision_right", "role 'ai_engineer'")
    with transaction(factory) as s, pytest.raises(NotFound):
        incidents.resolve(s, person("ai_engineer"), 1, ResolveIn(resolution="fixed"))


def test_running_data_checks_checks_the_permission(factory):
    with transaction(factory) as s, pytest.raises(Forbidden) as exc:
        data.run_check(s, person("viewer"), "orders")
    refused(exc, "permission_denied", "'datasource.check'")
    with transaction(factory) as s, pytest.raises(NotFound):
        data.run_check(s, SYSTEM, "orders")
