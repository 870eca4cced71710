"""The vendors' documented payload shapes, as JSON Schemas the local receivers check every request against.

- Slack incoming webhooks with Block Kit: https://api.slack.com/messaging/webhooks and
  https://api.slack.com/reference/block-kit/blocks (section: text or up to 10 fields, text objects of 1-3000
  characters, a field at most 2000; header: plain_text of at most 150; context: up to 10 elements; at most 50 blocks).
- Microsoft Teams workflow webhooks ("Post to a channel when a webhook request is received"): a message whose
  attachments hold an Adaptive Card (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/
  how-to/connectors-using; https://adaptivecards.io/explorer/: AdaptiveCard needs type and version, TextBlock needs
  text, FactSet needs facts of {title, value}).
- PagerDuty Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ and
  .../resolve-events/ (routing_key, event_action, dedup_key up to 255; a trigger's payload needs summary up to 1024,
  source and severity critical|error|warning|info; timestamp ISO 8601).
"""
from __future__ import annotations

TEXT_OBJECT = {"type": "object", "required": ["type", "text"],
               "properties": {"type": {"enum": ["plain_text", "mrkdwn"]},
                              "text": {"type": "string", "minLength": 1, "maxLength": 3000}}}

SLACK = {
    "type": "object", "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {"type": "array", "maxItems": 50, "items": {"oneOf": [
            {"type": "object", "required": ["type"], "additionalProperties": False,
             "properties": {"type": {"const": "section"}, "block_id": {"type": "string"}, "text": TEXT_OBJECT,
                            "fields": {"type": "array", "minItems": 1, "maxItems": 10, "items": {
                                **TEXT_OBJECT, "properties": {**TEXT_OBJECT["properties"],
                                                              "text": {"type": "string", "maxLength": 2000}}}}},
             "anyOf": [{"required": ["text"]}, {"required": ["fields"]}]},
            {"type": "object", "required": ["type", "text"], "additionalProperties": False,
             "properties": {"type": {"const": "header"}, "text": {
                 "type": "object", "required": ["type", "text"],
                 "properties": {"type": {"const": "plain_text"}, "text": {"type": "string", "maxLength": 150}}}}},
            {"type": "object", "required": ["type", "elements"], "additionalProperties": False,
             "properties": {"type": {"const": "context"},
                            "elements": {"type": "array", "minItems": 1, "maxItems": 10, "items": TEXT_OBJECT}}},
            {"type": "object", "required": ["type"], "additionalProperties": False,
             "properties": {"type": {"const": "divider"}}},
        ]}},
    },
}

ADAPTIVE_ELEMENT = {"oneOf": [
    {"type": "object", "required": ["type", "text"],
     "properties": {"type": {"const": "TextBlock"}, "text": {"type": "string"}, "wrap": {"type": "boolean"},
                    "weight": {"enum": ["Default", "Lighter", "Bolder"]},
                    "size": {"enum": ["Default", "Small", "Medium", "Large", "ExtraLarge"]},
                    "isSubtle": {"type": "boolean"}}},
    {"type": "object", "required": ["type", "facts"],
     "properties": {"type": {"const": "FactSet"}, "facts": {"type": "array", "items": {
         "type": "object", "required": ["title", "value"], "additionalProperties": False,
         "properties": {"title": {"type": "string"}, "value": {"type": "string"}}}}}},
]}

TEAMS = {
    "type": "object", "required": ["type", "attachments"],
    "properties": {
        "type": {"const": "message"},
        "attachments": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["contentType", "content"],
            "properties": {
                "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                "contentUrl": {"type": ["string", "null"]},
                "content": {"type": "object", "required": ["type", "version", "body"],
                            "properties": {"type": {"const": "AdaptiveCard"},
                                           "version": {"type": "string", "pattern": r"^1\.[0-6]$"},
                                           "$schema": {"type": "string"},
                                           "body": {"type": "array", "items": ADAPTIVE_ELEMENT}}}}}},
    },
}

PAGERDUTY = {
    "type": "object", "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "client": {"type": "string"}, "client_url": {"type": "string"},
        "payload": {"type": "object", "required": ["summary", "source", "severity"],
                    "properties": {"summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                                   "source": {"type": "string", "minLength": 1},
                                   "severity": {"enum": ["critical", "error", "warning", "info"]},
                                   "timestamp": {"type": "string", "format": "date-time"},
                                   "component": {"type": "string"}, "group": {"type": "string"},
                                   "class": {"type": "string"}, "custom_details": {"type": "object"}}},
    },
    "allOf": [
        {"if": {"properties": {"event_action": {"const": "trigger"}}}, "then": {"required": ["payload"]}},
        {"if": {"properties": {"event_action": {"enum": ["acknowledge", "resolve"]}}},
         "then": {"required": ["dedup_key"]}},
    ],
}

# Jira REST API v2 create issue (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/
# #api-rest-api-2-issue-post): fields.project by key or id, fields.issuetype by name or id, summary (a single line of
# at most 255 characters), description plain text in v2, labels without spaces.
JIRA = {
    "type": "object", "required": ["fields"], "additionalProperties": False,
    "properties": {"fields": {
        "type": "object", "required": ["project", "issuetype", "summary"],
        "properties": {
            "project": {"type": "object", "anyOf": [{"required": ["key"]}, {"required": ["id"]}],
                        "properties": {"key": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]+$"}}},
            "issuetype": {"type": "object", "anyOf": [{"required": ["name"]}, {"required": ["id"]}],
                          "properties": {"name": {"type": "string", "minLength": 1}}},
            "summary": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\\n]*$"},
            "description": {"type": "string"},
            "labels": {"type": "array", "items": {"type": "string", "pattern": "^[^ ]+$", "maxLength": 255}},
        }}},
}
