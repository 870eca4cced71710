"""What each vendor expects, built from one notification (event, use case, payload): a Microsoft Teams Adaptive
Card for a workflow webhook, a PagerDuty Events API v2 event, a Jira issue (REST API v2 create-issue) and an e-mail's
subject and text (Slack's Block Kit body is in monitoring/webhooks.py).

Pure: no I/O. Secrets are not part of any document built here (the PagerDuty routing key is added when the event is
sent, so delivery bodies stored in the database never hold it; so are Jira's project and issue type, which live in
the channel's URL).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

TITLES = {"alert.firing": "Alert firing", "alert.resolved": "Alert resolved", "incident.opened": "Incident opened",
          "incident.resolved": "Incident resolved", "canary.breach": "Canary breach",
          "canary.rollback": "Canary rolled back", "drift.detected": "Drift detected", "data.breach": "Data SLA breach",
          "gate.judged": "Eval gate judged", "approval.requested": "Approval requested",
          "scorecard.weekly": "Weekly scorecard", "test": "Test notification"}
PD_SEVERITY = {1: "critical", 2: "error", 3: "warning", 4: "info"}
PD_SUMMARY_MAX = 1024
SKIPPED_FIELDS = {"title", "name"}


def headline(event: str, use_case_key: str, payload: dict[str, Any]) -> str:
    """One line: what happened, where, how bad."""
    title = payload.get("title") or payload.get("name") or ""
    parts = [TITLES.get(event, event), f"use case {use_case_key}"]
    if isinstance(payload.get("severity"), int):
        parts.append(f"SEV{payload['severity']}")
    if title:
        parts.append(str(title))
    return " · ".join(parts)


def facts(payload: dict[str, Any], limit: int = 12) -> list[tuple[str, str]]:
    """The payload's non-empty fields as (name, text) pairs, short enough for any card."""
    out = []
    for key, value in payload.items():
        if key in SKIPPED_FIELDS or value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        out.append((key.replace("_", " "), text[:300]))
    return out[:limit]


def teams(event: str, use_case_key: str, payload: dict[str, Any], at: str) -> dict[str, Any]:
    """A Teams workflow-webhook message: one Adaptive Card (1.4) attachment with a title and a fact set."""
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
            "body": [{"type": "TextBlock", "text": headline(event, use_case_key, payload), "weight": "Bolder",
                      "size": "Medium", "wrap": True},
                     {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts(payload)]},
                     {"type": "TextBlock", "text": f"takeoff · {event} · {at}", "isSubtle": True, "size": "Small",
                      "wrap": True}]}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def dedup_key(event: str, use_case_key: str, payload: dict[str, Any]) -> str:
    """One key per incident or alert, so its resolve closes the PagerDuty incident its trigger opened."""
    if isinstance(payload.get("incident_id"), int) and event.startswith("incident."):
        return f"takeoff-incident-{payload['incident_id']}"
    if isinstance(payload.get("alert_id"), int) and event.startswith("alert."):
        return f"takeoff-alert-{payload['alert_id']}"
    digest = hashlib.sha256(json.dumps([event, use_case_key, payload], default=str, sort_keys=True).encode())
    return f"takeoff-{event}-{digest.hexdigest()[:16]}"


def pagerduty(event: str, use_case_key: str, payload: dict[str, Any], at: str) -> dict[str, Any]:
    """A PagerDuty Events API v2 event: resolve for a resolved incident or alert, else trigger; no routing key yet."""
    key = dedup_key(event, use_case_key, payload)
    if event in ("incident.resolved", "alert.resolved"):
        return {"routing_key": "", "event_action": "resolve", "dedup_key": key}
    severity = payload.get("severity")
    return {"routing_key": "", "event_action": "trigger", "dedup_key": key, "client": "takeoff",
            "payload": {"summary": headline(event, use_case_key, payload)[:PD_SUMMARY_MAX],
                        "source": f"takeoff/{use_case_key}",
                        "severity": PD_SEVERITY.get(severity, "warning") if isinstance(severity, int) else "warning",
                        "timestamp": at, "component": use_case_key, "class": event,
                        "custom_details": {k: v for k, v in payload.items() if v not in (None, "", [], {})}}}


def email(event: str, use_case_key: str, payload: dict[str, Any], at: str) -> dict[str, Any]:
    """An e-mail's subject and plain text (the SMTP channel adds sender and recipients when it sends)."""
    lines = [headline(event, use_case_key, payload), ""]
    lines += [f"{k}: {v}" for k, v in facts(payload, limit=30)]
    lines += ["", f"-- takeoff · {event} · {at}"]
    return {"subject": f"[takeoff] {headline(event, use_case_key, payload)}"[:250], "text": "\n".join(lines)}


JIRA_SUMMARY_MAX = 255
JIRA_DESCRIPTION_MAX = 30_000


def jira_label(text: str) -> str:
    """A Jira label: no spaces (Jira refuses them), at most 255 characters."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:255]


def jira(event: str, use_case_key: str, payload: dict[str, Any], at: str) -> dict[str, Any]:
    """A Jira create-issue body (REST API v2: plain-text description); project and issue type are filled in when it
    is sent, from the channel URL's `project` and `issuetype`."""
    lines = [headline(event, use_case_key, payload), ""]
    if payload.get("link"):
        lines += [f"Open in takeoff: {payload['link']}", ""]
    lines += [f"{k}: {v}" for k, v in facts(payload, limit=30)]
    lines += ["", f"-- filed by takeoff · {event} · {at}"]
    return {"fields": {"project": {"key": ""}, "issuetype": {"name": ""},
                       "summary": headline(event, use_case_key, payload)[:JIRA_SUMMARY_MAX],
                       "description": "\n".join(lines)[:JIRA_DESCRIPTION_MAX],
                       "labels": ["takeoff", jira_label(f"takeoff-{use_case_key}"), jira_label(event)]}}


BUILDERS = {"teams": teams, "pagerduty": pagerduty, "email": email, "jira": jira}
