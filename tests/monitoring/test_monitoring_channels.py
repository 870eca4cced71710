"""Channels where teams work: e-mail (a local aiosmtpd server), Slack, Microsoft Teams and PagerDuty (local receivers
that check every payload against the vendor's documented schema, tests/monitoring/vendor_schemas.py); filters,
the per-channel delivery log and test API, and secrets that are never shown back, stored in bodies or logged."""
from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from takeoff.core.db import transaction
from takeoff.monitoring.models import Delivery

from . import vendor_schemas
from .conftest import make_use_case
from .receivers import HOOK_TOKEN, ROUTING_KEY, SMTP_PASSWORD


def _channel(client: Any, h: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/monitoring/channels", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def _incident(client: Any, h: dict[str, str]) -> dict[str, Any]:
    r = client.post("/api/v1/incidents", json={"use_case": "support-reply", "title": "Wrong language", "severity": 2},
                    headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_every_kind_delivers_its_vendor_shape_and_pagerduty_resolves(client: Any, users: Any, factory: Any, app: Any,
                                                                     vendor: Any, smtp_server: Any,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    make_use_case(factory)
    box, port = smtp_server
    h = users.headers("platform_engineer")
    slack, teams, pd = vendor(vendor_schemas.SLACK), vendor(vendor_schemas.TEAMS), vendor(vendor_schemas.PAGERDUTY, 202)
    _channel(client, h, name="slack", kind="slack", url=slack.url, secret="slack-signing-1")
    _channel(client, h, name="teams", kind="teams", url=teams.url, secret="teams-signing-1")
    _channel(client, h, name="pd", kind="pagerduty", url=pd.url, secret=ROUTING_KEY,
             events=["incident.opened", "incident.resolved"])
    _channel(client, h, name="mail", kind="email", secret=SMTP_PASSWORD,
             url=f"smtp://takeoff@127.0.0.1:{port}?from=takeoff@corp.example&to=ops@corp.example,ana@corp.example"
                 "&starttls=false")
    with caplog.at_level(logging.INFO):
        inc = _incident(client, h)
        app.state.worker.drain()
        r = client.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"resolution": "prompt fixed"}, headers=h)
        assert r.status_code == 200, r.text
        app.state.worker.drain()
    for rx in (slack, teams, pd):
        assert rx.errors == [] and rx.docs, rx.errors
    assert [d["event_action"] for d in pd.docs] == ["trigger", "resolve"]
    assert pd.docs[0]["dedup_key"] == pd.docs[1]["dedup_key"] == f"takeoff-incident-{inc['id']}"
    assert pd.docs[0]["routing_key"] == ROUTING_KEY and pd.docs[0]["payload"]["severity"] == "error"
    assert "Wrong language" in teams.docs[0]["attachments"][0]["content"]["body"][0]["text"]
    assert [m.rcpt_tos for m in box.messages] == [["ops@corp.example", "ana@corp.example"]] * 2
    first = email.message_from_bytes(box.messages[0].content, policy=email.policy.default)
    assert first["subject"].startswith("[takeoff] Incident opened") and "Wrong language" in first.get_content()
    # Secrets: never in a listing, a stored body or the log.
    listing = client.get("/api/v1/monitoring/channels", headers=h).text
    with transaction(factory) as s:
        bodies = " ".join(d.body for d in s.scalars(select(Delivery)))
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))  # aiosmtpd's own
    for secret in (ROUTING_KEY, SMTP_PASSWORD, HOOK_TOKEN):
        assert secret not in listing and secret not in bodies and secret not in logged
    assert "/services/" not in listing


def test_filters_log_and_test_button_per_channel(client: Any, users: Any, factory: Any, app: Any, vendor: Any,
                                                 smtp_server: Any) -> None:
    make_use_case(factory)
    box, port = smtp_server
    h = users.headers("platform_engineer")
    teams = vendor(vendor_schemas.TEAMS)
    only_alerts = _channel(client, h, name="teams-alerts", kind="teams", url=teams.url, secret="teams-signing-1",
                           events=["alert.firing", "alert.resolved"])
    mail = _channel(client, h, name="mail", kind="email", secret="wrong-password-123",
                    url=f"smtp://takeoff@127.0.0.1:{port}?from=takeoff@corp.example&to=ops@corp.example&starttls=false",
                    max_attempts=2)
    _incident(client, h)
    app.state.worker.drain()
    assert teams.docs == []  # filtered out: the channel wants alerts only
    r = client.post(f"/api/v1/monitoring/channels/{only_alerts['id']}/test", headers=h)
    assert r.status_code == 202
    app.state.worker.drain()
    assert len(teams.docs) == 1 and teams.errors == []
    assert "Test notification" in teams.docs[0]["attachments"][0]["content"]["body"][0]["text"]
    log = client.get(f"/api/v1/monitoring/channels/{only_alerts['id']}/deliveries", headers=h).json()
    assert [(d["event"], d["status"]) for d in log] == [("test", "sent")]
    # The mail channel's password is wrong: retried with backoff, its log says why, nothing else breaks.
    log = client.get(f"/api/v1/monitoring/channels/{mail['id']}/deliveries", headers=h).json()
    assert log[0]["event"] == "incident.opened" and log[0]["status"] == "retrying"
    assert "authentication failed" in log[0]["last_error"] and "wrong-password" not in log[0]["last_error"]
    assert box.messages == []
    assert client.get("/api/v1/monitoring/channels/999999/deliveries", headers=h).status_code == 404


@pytest.mark.parametrize(("patch", "says"), [
    ({"kind": "email", "url": "https://hooks.example.com/x"}, "smtp://"),
    ({"kind": "email", "url": "smtp://mail.example.com?from=a@example.com"}, "recipients"),
    ({"kind": "email", "url": "smtp://u:hunter2hunter2@mail.example.com?from=a@example.com&to=b@example.com"},
     "secret"),
    ({"kind": "email", "url": "smtp://mail.example.com?from=nobody&to=b@example.com"}, "'from'"),
    ({"kind": "teams", "url": "smtp://mail.example.com?from=a@example.com&to=b@example.com"}, "kind 'email'"),
    ({"kind": "pagerduty", "url": "https://events.pagerduty.com/v2/enqueue", "events": ["gate.exploded"]}, "unknown"),
    ({"kind": "jira", "url": "https://acme.atlassian.net/rest/api/2/search?project=OPS"}, "create-issue endpoint"),
    ({"kind": "jira", "url": "https://acme.atlassian.net/rest/api/2/issue"}, "?project=KEY"),
    ({"kind": "jira", "url": "https://acme.atlassian.net/rest/api/2/issue?project=ops"}, "?project=KEY"),
])
def test_misconfigured_channels_are_refused_with_the_reason(client: Any, users: Any, factory: Any,
                                                            patch: dict[str, Any], says: str) -> None:
    make_use_case(factory)
    h = users.headers("platform_engineer")
    body = {"name": "x", "url": "https://hooks.example.com/a", "secret": "s3cret-signing", **patch}
    r = client.post("/api/v1/monitoring/channels", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert says in r.text and "hunter2" not in r.text
    assert client.get("/api/v1/monitoring/channels", headers=h).json() == []


def test_an_eval_gate_result_reaches_the_channels_that_want_it(client: Any, users: Any, factory: Any, app: Any,
                                                               vendor: Any) -> None:
    make_use_case(factory, key="faq", targets={"min_eval_pass_rate": 0.5})
    h = users.headers("admin")
    teams = vendor(vendor_schemas.TEAMS)
    _channel(client, h, name="gates", kind="teams", url=teams.url, secret="teams-signing-1", events=["gate.judged"])
    cases = "\n".join(json.dumps({"id": f"c{i}", "input": {"answer": f"a{i}"}, "expected": f"a{i}"}) for i in range(2))
    r = client.post("/api/v1/evalsets/golden/versions?create=true&format=jsonl", content=cases.encode(), headers=h)
    assert r.status_code in (200, 201), r.text
    r = client.post("/api/v1/evalruns", json={"eval_set": "golden", "use_case": "faq", "scorers": [{"type": "exact"}],
                                              "target": {"type": "python", "ref": "tests.eval_targets:echo"}},
                    headers=h)
    assert r.status_code == 202, r.text
    app.state.worker.drain()
    assert teams.errors == [] and len(teams.docs) == 1, teams.docs
    card = teams.docs[0]["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    run = client.get(f"/api/v1/evalruns/{r.json()['id']}", headers=h).json()
    assert card["body"][0]["text"].startswith("Eval gate judged · use case faq")
    assert facts["gate"] == run["gate"]["status"] and facts["run id"] == str(run["id"])


def test_a_release_awaiting_approval_asks_its_approvers(client: Any, users: Any, admin: Any, factory: Any, app: Any,
                                                        vendor: Any) -> None:
    from tests.releases.conftest import Env, cases
    from tests.releases.conftest import make_use_case as make_release_use_case

    make_release_use_case(factory)
    env = Env(client, users, admin, factory)
    env.app = app  # type: ignore[attr-defined]
    env.model()
    env.evalset("golden", cases(20))
    slack = vendor(vendor_schemas.SLACK)
    _channel(client, admin, name="approvals", kind="slack", url=slack.url, secret="slack-signing-1",
             events=["approval.requested"])
    assert env.release().status_code == 201
    env.evaluate("support-reply:1")
    assert client.get("/api/v1/releases/support-reply:1", headers=admin).json()["status"] == "awaiting_approval"
    assert slack.errors == [] and len(slack.docs) == 1
    text = json.dumps(slack.docs[0])
    assert "approval.requested" in text and "support-reply:1 awaits approval" in text and "product_owner" in text


def test_the_page_hides_urls_and_its_test_button_queues_a_test(app: Any, users: Any, factory: Any, vendor: Any) -> None:
    from tests.conftest import web_login

    make_use_case(factory)
    users.create("platform_engineer", username="pat")
    c = web_login(app, "pat")
    teams = vendor(vendor_schemas.TEAMS)
    found = re.search(r'hx-headers=\'\{"X-CSRF-Token": "([^"]+)"', c.get("/monitoring").text)
    assert found, "the page carries its CSRF token for htmx"
    page_csrf = found.group(1)
    r = c.post("/api/v1/monitoring/channels", json={"name": "t", "kind": "teams", "url": teams.url,
                                                     "secret": "teams-signing-1"}, headers={"X-CSRF-Token": page_csrf})
    assert r.status_code == 201, r.text
    html = c.get("/monitoring").text
    assert HOOK_TOKEN not in html and "http://127.0.0.1:" in html
    button = f'hx-post="/api/v1/monitoring/channels/{r.json()["id"]}/test"'
    assert button in html
    assert c.post(f"/api/v1/monitoring/channels/{r.json()['id']}/test", headers={"X-CSRF-Token": page_csrf}).status_code == 202
    app.state.worker.drain()
    assert len(teams.docs) == 1 and teams.errors == []


def test_jira_files_an_issue_for_an_opened_incident_with_a_link_back(client: Any, users: Any, factory: Any, app: Any,
                                                                      vendor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jira gets one issue per opened incident (its default filter), in the create-issue shape, with the project and
    issue type from the channel URL, the credentials from the secret, and a link back to the incident page."""
    monkeypatch.setenv("TAKEOFF_PUBLIC_URL", "https://takeoff.corp.example")
    make_use_case(factory)
    h = users.headers("platform_engineer")
    jira = vendor(vendor_schemas.JIRA, 201)
    base = jira.url.split("/services/")[0]
    ch = _channel(client, h, name="jira", kind="jira", url=f"{base}/rest/api/2/issue?project=OPS&issuetype=Bug",
                  secret="ops@corp.example:jira-api-token-1")
    assert ch["events"] == ["incident.opened", "test"]
    inc = _incident(client, h)
    app.state.worker.drain()
    assert client.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"resolution": "fixed"},
                       headers=h).status_code == 200
    app.state.worker.drain()
    assert jira.errors == [] and len(jira.docs) == 1, (jira.errors, jira.docs)
    fields = jira.docs[0]["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Bug"}
    assert "Wrong language" in fields["summary"] and "takeoff-support-reply" in fields["labels"]
    assert f"https://takeoff.corp.example/incidents/{inc['id']}" in fields["description"]
    assert jira.paths == ["/rest/api/2/issue"]  # sent without the query that configures it
    import base64
    assert jira.auth == ["Basic " + base64.b64encode(b"ops@corp.example:jira-api-token-1").decode()]
    with transaction(factory) as s:
        assert all("jira-api-token" not in d.body for d in s.scalars(select(Delivery)))


def test_a_receiver_echoing_the_hook_token_or_secret_leaves_neither_in_the_delivery_log_or_the_logs(
        client: Any, users: Any, factory: Any, app: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A webhook URL's path carries its token: a receiver that repeats the request (as many error pages do) must not
    put it, or the channel's secret, into the delivery log, the job's error or the logs."""
    make_use_case(factory)
    h = users.headers("platform_engineer")

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(404)
            self.end_headers()
            self.wfile.write(f"no_service at {self.path}; signed {self.headers.get('X-Takeoff-Signature')} "
                             "with secret slack-signing-echo".encode())

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/services/{HOOK_TOKEN}?token=q5ecret-query"
        _channel(client, h, name="slack", kind="slack", url=url, secret="slack-signing-echo", max_attempts=1)
        with caplog.at_level(logging.INFO):
            _incident(client, h)
            app.state.worker.drain()
        log = client.get("/api/v1/monitoring/deliveries", headers=h).json()
        assert log and log[0]["status"] == "failed" and log[0]["last_error"].startswith("HTTP 404: no_service at")
        shown = json.dumps(log) + "\n".join(r.getMessage() for r in caplog.records)
        for secret in (HOOK_TOKEN, "q5ecret-query", "slack-signing-echo", "/services/"):
            assert secret not in shown, secret
    finally:
        server.shutdown()
        server.server_close()
