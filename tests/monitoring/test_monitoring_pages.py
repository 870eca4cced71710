"""Pages: /monitoring, /incidents, /incidents/{id} (forms), the use-case page's monitoring section fragment."""
from __future__ import annotations

import re

from .conftest import ev, make_use_case, post_events


def login(client, users, *roles: str) -> str:  # type: ignore[no-untyped-def]
    name = users.create(*roles)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": name, "password": "password123", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/monitoring").text).group(1)


def test_incident_pages_open_add_entry_resolve(client, users, factory) -> None:
    make_use_case(factory, on_call="oncall-ana")
    csrf = login(client, users, "ai_engineer")
    r = client.post("/incidents", data={"csrf_token": csrf, "use_case": "support-reply", "title": "Bad answers",
                                        "severity": "2", "started_at": "2026-01-05T08:00"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    page = client.get(url).text
    assert "Bad answers" in page and "oncall-ana" in page and "SEV2" in page
    r = client.post(f"{url}/entries", data={"csrf_token": csrf, "text": "Looking at prompt v4"},
                    follow_redirects=False)
    assert r.status_code == 303 and "Looking at prompt v4" in client.get(url).text
    r = client.post(f"{url}/entries", data={"csrf_token": "wrong", "text": "x"}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post(f"{url}/resolve", data={"csrf_token": csrf, "resolution": "Restored v3",
                                            "root_cause_category": "prompt"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(url).text
    assert "resolved" in page and "Restored v3" in page
    listing = client.get("/incidents").text
    assert "support-reply" in listing and "MTTD" in listing and "SEV2 1" in listing
    bad = client.post("/incidents", data={"csrf_token": csrf, "use_case": "support-reply", "title": "",
                                          "severity": "2"})
    assert bad.status_code == 422 and "needs a title" in bad.text


def test_monitoring_page_and_use_case_section(client, users, factory) -> None:
    make_use_case(factory, tier="high", targets={"max_error_rate": 0.05, "latency_p95_ms": 2000})
    csrf = login(client, users, "platform_engineer")
    h = users.headers("ai_engineer")
    post_events(client, h, [ev(error_category="wrong_answer" if i < 3 else None) for i in range(40)])
    r = client.post("/monitoring/rules", data={"csrf_token": csrf, "use_case": "support-reply", "metric": "vibes",
                                               "threshold": "1"})
    assert r.status_code == 422 and "unknown metric" in r.text
    r = client.post("/monitoring/rules", data={"csrf_token": csrf, "use_case": "support-reply",
                                               "metric": "error_rate", "op": ">", "threshold": "0.2",
                                               "window": "10m"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/monitoring/channels", data={"csrf_token": csrf, "name": "slack-ops", "kind": "slack",
                                                  "url": "https://hooks.example.com/x", "secret": "0123456789"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/monitoring").text
    for text in ("SLOs and error budgets", "availability", "error_rate &gt; 0.2", "slack-ops", "Deliveries"):
        assert text in page, text
    section = client.get("/monitoring/usecase/support-reply/section").text
    assert 'data-slo="availability"' in section and 'data-slo="latency_p95"' in section
    assert "wrong_answer" in section  # the error-category chart
    assert "rolls the canary back automatically" in section and "default for high tier" in section
    r = client.post("/monitoring/usecase/support-reply/auto-rollback", data={"csrf_token": csrf, "enabled": "off"})
    assert r.status_code == 200 and "automatic rollback is off" in r.text
    usecase_page = client.get("/usecases/support-reply/monitoring").text
    assert "/monitoring/usecase/support-reply/section" in usecase_page
