"""Invariant: after every state-changing command, for every risk tier and on both backends, the state each new audit
entry claims (its action and its diff's "to" values) is the state the API reads back; a refused command writes no
audit entry. An audit entry for a change that did not happen is a defect (a high-tier promotion was once audited
while the release stayed approved).

Adding a command is one line in COMMANDS: a name, what to arrange first, and the call (or the status it must be
refused with). A new kind of audited object needs one reader in READERS.
"""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from takeoff.core.db import transaction
from takeoff.governance.policy_defaults import TIERS, default_tier_policy
from takeoff.jobs import service as jobs

from .conftest import Env, cases, make_use_case

UC = "support-reply"


class World:
    """One tier's workspace driven through the HTTP API, with the steps commands are arranged from."""

    def __init__(self, env: Env, tier: str) -> None:
        self.env, self.tier, self.c = env, tier, env.client
        self.roles = list(default_tier_policy(tier).approver_roles)
        self.owner = env.users.create("business_owner", username="olivia", password=None)  # no hash: tokens only
        self.ids: dict[str, int] = {}  # incidents and findings the arrangement made
        self._approvers = {r: self._person(r) for r in self.roles}  # made now: their creation is audited too
        self._catalog = False
        make_use_case(env.factory, UC, tier=tier, business_owner=self.owner, on_call="oncall-ana")

    def _person(self, role: str) -> dict[str, str]:
        name = self.env.users.create(role, password=None)  # no password hash: API tokens only
        return {"Authorization": f"Bearer {self.env.users.token(name)}"}

    def approver(self, role: str) -> dict[str, str]:
        """Bearer headers of the person filling one of the tier's approver roles."""
        return self._approvers[role]

    def ok(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        r = self.c.request(method, path, json=body, headers=headers or self.env.admin)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    # releases
    def created(self) -> str:
        """A new release of the use case, evaluated: its gate passed, it awaits approval."""
        if not self._catalog:
            self.env.model(tiers=TIERS)
            self.env.evalset("golden", cases(20))
            self._catalog = True
        # the high tier's checklist needs output safety checks in the bundle (no attestation replaces them)
        r = self.env.release(safety={"output": [{"detector": "secrets", "action": "redact"}]})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        self.env.evaluate(rid)
        return rid

    def approve(self, rid: str, roles: list[str]) -> None:
        for role in roles:
            self.ok("POST", f"/api/v1/releases/{rid}/approve", {"comment": f"ok as {role}"}, self.approver(role))

    def unmet(self, rid: str) -> list[str]:
        detail = self.ok("GET", f"/api/v1/releases/{rid}", headers=self.env.engineer)
        return [i["id"] for i in detail["checklist"]["items"]
                if i["mandatory"] and not i["satisfied"] and i["evidence_kind"] != "eval_gate_passed"]

    def shipped(self) -> str:
        """A new release that passed its gate, holds every approval of the tier and satisfies its checklist."""
        rid = self.created()
        self.approve(rid, self.roles)
        for item in self.unmet(rid):
            self.ok("POST", f"/api/v1/releases/{rid}/attest", {"item_id": item, "statement": "checked by hand"},
                    self.env.engineer)
        return rid

    def promote(self, rid: str, to: str, weight: int | None = None) -> Any:
        body = {"to": to, **({"weight": weight} if weight else {})}
        return self.c.post(f"/api/v1/releases/{rid}/promote", json=body, headers=self.env.engineer)

    def live(self) -> str:
        rid = self.shipped()
        assert self.promote(rid, "production").status_code == 200
        return rid

    def canary(self) -> str:
        rid = self.shipped()
        assert self.promote(rid, "canary", 10).status_code == 200
        return rid

    # use cases, incidents, findings
    def move(self, *statuses: str) -> Any:
        r = None
        for to in statuses:
            r = self.c.post(f"/api/v1/usecases/{UC}/transitions", json={"to": to, "reason": f"now {to}"},
                            headers=self.env.admin)
        return r

    def incident(self) -> int:
        self.ids["incident"] = self.ok("POST", "/api/v1/incidents", {"use_case": UC, "title": "drafts cite old policy",
                                                                     "severity": 3})["id"]
        return self.ids["incident"]

    def resolved_incident(self) -> int:
        i = self.incident()
        self.ok("POST", f"/api/v1/incidents/{i}/resolve", {"resolution": "article fixed",
                                                           "root_cause_category": "data"})
        return i

    def finding(self) -> int:
        self.ids["finding"] = self.ok("POST", "/api/v1/findings", {"use_case": UC, "title": "no DPIA on file",
                                                                   "severity": "medium"})["id"]
        return self.ids["finding"]

    def closed_finding(self) -> int:
        f = self.finding()
        self.ok("POST", f"/api/v1/findings/{f}/close", {"resolution": "DPIA signed"})
        return f


def nothing(w: World) -> None:
    """No arrangement beyond the tier's workspace."""


@dataclass(frozen=True)
class Command:
    """A state-changing command: arrange(w) brings the workspace to the state before it, act(w) is the call;
    refused=N means the call must answer N and write nothing."""

    name: str
    arrange: Callable[[World], Any]
    act: Callable[[World], Any]
    refused: int | None = None


def _patch_incident(w: World, body: dict[str, Any]) -> Any:
    return w.c.patch(f"/api/v1/incidents/{w.ids['incident']}", json=body, headers=w.env.admin)


def _patch_finding(w: World, body: dict[str, Any]) -> Any:
    return w.c.patch(f"/api/v1/findings/{w.ids['finding']}", json=body, headers=w.env.admin)


def _approver(w: World, i: int) -> dict[str, str]:
    return w.approver(w.roles[i])


COMMANDS: list[Command] = [
    # releases: approvals, checklist, rollout and rollback
    Command("approve (first role)", lambda w: w.created(),
            lambda w: w.c.post(f"/api/v1/releases/{UC}:1/approve", json={"comment": "ok"}, headers=_approver(w, 0))),
    Command("approve (last role: approved)", lambda w: (w.created(), w.approve(f"{UC}:1", w.roles[:-1])),
            lambda w: w.c.post(f"/api/v1/releases/{UC}:1/approve", json={"comment": "ok"}, headers=_approver(w, -1))),
    Command("reject", lambda w: w.created(),
            lambda w: w.c.post(f"/api/v1/releases/{UC}:1/reject", json={"comment": "leaks PII"},
                               headers=_approver(w, 0))),
    Command("attest a checklist item", lambda w: (w.created(), w.approve(f"{UC}:1", w.roles)),
            lambda w: w.c.post(f"/api/v1/releases/{UC}:1/attest", json={"item_id": w.unmet(f"{UC}:1")[0],
                                                                        "statement": "reviewed"},
                               headers=w.env.engineer)),
    Command("promote to production", lambda w: w.shipped(), lambda w: w.promote(f"{UC}:1", "production")),
    Command("promote a first release to canary", lambda w: w.shipped(), lambda w: w.promote(f"{UC}:1", "canary", 20)),
    Command("promote to canary beside production", lambda w: (w.live(), w.shipped()),
            lambda w: w.promote(f"{UC}:2", "canary", 10)),
    Command("promote a canary to production", lambda w: (w.live(), w.canary()),
            lambda w: w.promote(f"{UC}:2", "production")),
    Command("promote over production (supersede)", lambda w: (w.live(), w.shipped()),
            lambda w: w.promote(f"{UC}:2", "production")),
    Command("roll back a canary", lambda w: (w.live(), w.canary()),
            lambda w: w.c.post(f"/api/v1/usecases/{UC}/rollback", json={"reason": "errors"}, headers=w.env.engineer)),
    Command("roll back production", lambda w: (w.live(), w.live()),
            lambda w: w.c.post(f"/api/v1/usecases/{UC}/rollback", json={"reason": "errors"}, headers=w.env.engineer)),
    Command("promote without approvals (refused)", lambda w: w.created(),
            lambda w: w.promote(f"{UC}:1", "production"), refused=409),
    Command("roll back the first production release (refused)", lambda w: w.live(),
            lambda w: w.c.post(f"/api/v1/usecases/{UC}/rollback", json={"reason": "x"}, headers=w.env.engineer),
            refused=409),
    # use-case lifecycle
    Command("use case: proposed to pilot", nothing, lambda w: w.move("pilot")),
    Command("use case: pilot to production", lambda w: w.move("pilot"), lambda w: w.move("production")),
    Command("use case: pause production", lambda w: w.move("pilot", "production"), lambda w: w.move("paused")),
    Command("use case: resume to production", lambda w: w.move("pilot", "production", "paused"),
            lambda w: w.move("production")),
    Command("use case: retire", lambda w: w.move("pilot"), lambda w: w.move("retired")),
    Command("use case: retired to pilot (refused)", lambda w: w.move("retired"), lambda w: w.move("pilot"),
            refused=409),
    # incidents
    Command("incident: open", nothing,
            lambda w: w.c.post("/api/v1/incidents", json={"use_case": UC, "title": "slow", "severity": 2},
                               headers=w.env.admin)),
    Command("incident: raise severity", lambda w: w.incident(), lambda w: _patch_incident(w, {"severity": 1})),
    Command("incident: root cause and title", lambda w: w.incident(),
            lambda w: _patch_incident(w, {"root_cause_category": "model", "title": "model regression"})),
    Command("incident: timeline note", lambda w: w.incident(),
            lambda w: w.c.post(f"/api/v1/incidents/{w.ids['incident']}/entries", json={"text": "paged vendor"},
                               headers=w.env.admin)),
    Command("incident: resolve", lambda w: w.incident(),
            lambda w: w.c.post(f"/api/v1/incidents/{w.ids['incident']}/resolve",
                               json={"resolution": "rolled back", "root_cause_category": "model"},
                               headers=w.env.admin)),
    Command("incident: resolve twice (refused)", lambda w: w.resolved_incident(),
            lambda w: w.c.post(f"/api/v1/incidents/{w.ids['incident']}/resolve", json={"resolution": "again"},
                               headers=w.env.admin), refused=409),
    # audit findings
    Command("finding: record", nothing,
            lambda w: w.c.post("/api/v1/findings", json={"use_case": UC, "title": "no log review",
                                                         "severity": "high"}, headers=w.env.admin)),
    Command("finding: start work", lambda w: w.finding(), lambda w: _patch_finding(w, {"status": "in_progress"})),
    Command("finding: raise severity", lambda w: w.finding(), lambda w: _patch_finding(w, {"severity": "critical"})),
    Command("finding: close", lambda w: w.finding(),
            lambda w: w.c.post(f"/api/v1/findings/{w.ids['finding']}/close", json={"resolution": "fixed"},
                               headers=w.env.admin)),
    Command("finding: reopen", lambda w: w.closed_finding(), lambda w: _patch_finding(w, {"status": "open"})),
]


# ------------------------------------------------------------------------------------------- reading state back
def _release(w: World, rid: str, entry: dict[str, Any]) -> dict[str, Any]:
    """What the API says of a release: status and weight, the reason of its last move, its approvals and
    attestations (for the entry's actor and item), and whether it serves traffic."""
    d = w.ok("GET", f"/api/v1/releases/{rid}", headers=w.env.engineer)
    state: dict[str, Any] = {"status": d["status"], "canary_weight": d["canary_weight"],
                             "policy_version": d["policy_version"]}
    if d["transitions"]:
        state["reason"] = d["transitions"][-1]["reason"]
        last = d["transitions"][-1]
        assert last["to"] == d["status"], f"{rid}: its transition history says {last['to']}, it reads {d['status']}"
    mine = [a for a in d["approvals"] if a["username"] == entry["actor"]]
    if mine:
        state.update(role=mine[0]["role"], comment=mine[0]["comment"], decision=mine[0]["decision"])
    for item in d["checklist"]["items"]:
        if item["status"] == "attested" and entry["diff"].get("item_id", {}).get("to") == item["id"]:
            state.update(item_id=item["id"], statement=item["detail"].split(": ", 1)[1])
    if entry["action"] == "canary.breach":  # what the canary analysis decided about this release
        check = next(c for c in w.ok("GET", f"/api/v1/monitoring/canary?use_case={d['use_case']}")
                     if c["canary_release_id"] == rid)
        state.update(verdict=check["verdict"], action=check["action"], incident=check["incident_id"],
                     breaches="; ".join(b[3] for b in check["detail"]["breaches"]))
    active = w.ok("GET", f"/api/v1/usecases/{d['use_case']}/active", headers=w.env.engineer)["releases"]
    state["serving"] = {a["release_id"]: a["weight"] for a in active}.get(rid)
    return state


def _use_case(w: World, key: str, entry: dict[str, Any]) -> dict[str, Any]:
    state = dict(w.ok("GET", f"/api/v1/usecases/{key}"))
    history = w.ok("GET", f"/api/v1/usecases/{key}/transitions")["transitions"]
    if history:
        state["reason"] = history[-1]["reason"]
        assert history[-1]["to"] == state["status"], f"{key}: history says {history[-1]['to']}, reads {state['status']}"
    return state


def _incident(w: World, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    state = dict(w.ok("GET", f"/api/v1/incidents/{incident_id}"))
    notes = [e for e in state["timeline"] if e["kind"] == "note" and e["author"] == entry["actor"]]
    if entry["action"] == "incident.note" and notes:
        state["entry"] = entry["diff"]["entry"]["to"]  # the timeline carries no ids: a note by the actor is there
    return state


def _finding(w: World, finding_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    return dict(w.ok("GET", f"/api/v1/findings/{finding_id}"))


READERS: dict[str, Callable[[World, str, dict[str, Any]], dict[str, Any]]] = {
    "release": _release, "use_case": _use_case, "incident": _incident, "audit_finding": _finding}


def _same(claimed: Any, actual: Any) -> bool:
    """Equal, reading ISO times as instants (a stored time may come back with another offset notation)."""
    if isinstance(claimed, str) and isinstance(actual, str) and claimed != actual:
        try:
            a, b = datetime.fromisoformat(claimed), datetime.fromisoformat(actual)
        except ValueError:
            return False
        return (a.replace(tzinfo=UTC) if a.tzinfo is None else a) == (b.replace(tzinfo=UTC) if b.tzinfo is None else b)
    return bool(claimed == actual)


def claims(entry: dict[str, Any]) -> dict[str, Any]:
    """What an audit entry says is now true: its diff's "to" values, and the status its action names."""
    out = {k: v["to"] for k, v in (entry["diff"] or {}).items()}
    verb = entry["action"].partition(".")[2]
    if entry["object_type"] == "release" and verb in ("canary", "production", "superseded", "rolled_back",
                                                      "approved", "rejected"):
        out["status"] = verb
    if entry["action"] == "canary.breach" and out.get("action") == "rolled_back":
        out["status"] = "rolled_back"
    return out


def audit_after(w: World, last_id: int) -> list[dict[str, Any]]:
    items = w.ok("GET", "/api/v1/audit?limit=500")["items"]
    return sorted((e for e in items if e["id"] > last_id), key=lambda e: e["id"])


def last_audit_id(w: World) -> int:
    items = w.ok("GET", "/api/v1/audit?limit=1")["items"]
    return items[0]["id"] if items else 0


def check_audit_matches_state(w: World, entries: list[dict[str, Any]]) -> None:
    """What the command's entries claim of every object it touched (a later entry's claim over an earlier one's)
    is what the API reads back."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    said_of: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        newest[(e["object_type"], e["object_id"])] = e
        said_of.setdefault((e["object_type"], e["object_id"]), {}).update(claims(e))
    for (object_type, object_id), e in newest.items():
        reader = READERS.get(object_type)
        assert reader is not None, f"no reader for audited object type {object_type!r} ({e['action']}): add one"
        state = reader(w, object_id, e)
        said = said_of[(object_type, object_id)]
        checked = [k for k in said if k in state]
        assert checked, f"{e['action']} on {object_id} claims nothing the API shows: {said}"
        wrong = {k: (said[k], state[k]) for k in checked if not _same(said[k], state[k])}
        assert not wrong, f"{e['action']} on {object_id}: audit says / API reads {wrong}"
        status = said.get("status")
        if object_type == "release" and status is not None:
            # the status a user sees is the traffic the use case serves
            assert (state["serving"] is not None) == (status in ("canary", "production")), (object_id, status, state)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("command", COMMANDS, ids=[re.sub(r"[^a-z0-9]+", "-", c.name.lower()).strip("-")
                                                   for c in COMMANDS])
def test_audit_entry_matches_the_state_read_back(env, tier: str, command: Command) -> None:
    w = World(env, tier)
    command.arrange(w)
    before = last_audit_id(w)
    r = command.act(w)
    if command.refused is not None:
        assert r.status_code == command.refused, r.text
        assert audit_after(w, before) == [], "a refused command left audit entries"
        return
    assert r.status_code < 300, r.text
    entries = audit_after(w, before)
    assert entries, f"{command.name} changed state without an audit entry"
    check_audit_matches_state(w, entries)


def _traffic(w: World, release: str, n: int, errors: int, latency_ms: float) -> None:
    """n production calls of one release sent through the telemetry API, the first `errors` of them failed."""
    events = [{"id": uuid.uuid4().hex, "use_case": UC, "release": release, "unit_id": f"u{i % 7}",
               "ts": time.time() - 30, "latency_ms": latency_ms, "status": "error" if i < errors else "ok",
               "outcome": "success", "tokens": {"input": 100, "output": 20}, "cost_usd": 0.002}
              for i in range(n)]
    assert w.c.post("/api/v1/events", json={"events": events}, headers=w.env.engineer).status_code == 200


def test_high_tier_canary_breach_rolls_back_end_to_end(env) -> None:
    """The high tier's documented default: a canary whose traffic breaches is rolled back automatically by the
    canary analysis job, production keeps serving, an incident is opened, and every audit entry is true."""
    w = World(env, "high")
    prod, canary = w.live(), w.canary()
    settings = w.ok("GET", f"/api/v1/monitoring/usecases/{UC}")["settings"]
    assert settings["auto_rollback"] is True and "default for high tier" in settings["auto_rollback_source"]
    _traffic(w, prod, 600, errors=6, latency_ms=120)  # 1 % errors
    _traffic(w, canary, 600, errors=90, latency_ms=900)  # 15 % errors and 7x slower
    before = last_audit_id(w)
    with transaction(env.factory) as s:
        jobs.enqueue(s, "monitoring.canary", {})
    env.app.state.worker.drain()

    checks = w.ok("GET", f"/api/v1/monitoring/canary?use_case={UC}")
    assert [(c["canary_release_id"], c["verdict"], c["action"]) for c in checks] == [(canary, "breach", "rolled_back")]
    assert {b[0] for b in checks[0]["detail"]["breaches"]} >= {"error_rate", "latency_p95"}
    assert w.ok("GET", f"/api/v1/releases/{canary}")["status"] == "rolled_back"
    assert w.ok("GET", f"/api/v1/releases/{prod}")["status"] == "production"
    active = w.ok("GET", f"/api/v1/usecases/{UC}/active")["releases"]
    assert [(a["release_id"], a["weight"]) for a in active] == [(prod, 100)]  # production keeps serving
    incident = w.ok("GET", f"/api/v1/incidents/{checks[0]['incident_id']}")
    assert (incident["status"], incident["severity"], incident["source"], incident["release_id"]) == \
        ("open", 2, "canary", canary)
    assert incident["owner"] == "oncall-ana" and "rolled back" in incident["title"]
    entries = audit_after(w, before)
    assert {e["action"] for e in entries} >= {"release.rolled_back", "incident.open", "canary.breach"}
    check_audit_matches_state(w, entries)
    # nothing is left in canary: the next analysis has nothing to do and changes nothing
    env.app.state.worker.drain()
    with transaction(env.factory) as s:
        jobs.enqueue(s, "monitoring.canary", {})
    env.app.state.worker.drain()
    assert len(w.ok("GET", f"/api/v1/monitoring/canary?use_case={UC}")) == 1
