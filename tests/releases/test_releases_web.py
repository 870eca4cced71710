"""Release, eval set and catalog pages: an approver approves in the browser with CSRF; pages show the evidence."""
from __future__ import annotations

import re

from .conftest import cases, make_use_case


def _login(client, users, *roles: str, username: str) -> str:
    users.create(*roles, username=username)
    html = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post("/login", data={"username": username, "password": "password123", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/releases").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_approver_approves_in_the_web_ui(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(12, wrong=1))
    env.release()
    run = env.evaluate("support-reply:1")
    csrf = _login(env.client, env.users, "product_owner", username="pat")

    page = env.client.get("/releases/support-reply:1")
    assert page.status_code == 200
    assert "awaiting_approval" in page.text and 'id="approve"' in page.text
    assert "Wilson interval" in page.text and "CL-MONITOR" in page.text
    frag = env.client.get(f"/evalruns/{run['id']}/fragment").text
    assert "c0" in frag and "wrong_answer" in frag and "Failing cases" in frag

    refused = env.client.post("/releases/support-reply:1/decide", data={"decision": "approve"})
    assert refused.status_code == 403
    assert env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()["approvals"] == []

    r = env.client.post("/releases/support-reply:1/decide",
                        data={"decision": "approve", "comment": "looks right", "csrf_token": csrf},
                        follow_redirects=False)
    assert r.status_code == 303
    detail = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()
    assert detail["status"] == "approved" and detail["approvals"][0]["username"] == "pat"
    again = env.client.post("/releases/support-reply:1/decide",
                            data={"decision": "approve", "csrf_token": csrf})
    assert again.status_code == 409 and "already decided" in again.text

    r = env.client.post("/releases/support-reply:1/attest",
                        data={"item_id": "CL-MONITOR", "statement": "dashboards exist", "csrf_token": csrf},
                        follow_redirects=False)
    assert r.status_code == 303
    assert "attested by pat" in env.client.get("/releases/support-reply:1").text

    env.evalset("golden", cases(12, wrong=3))
    env.release(eval_set="golden")
    env.evaluate("support-reply:2")
    page = env.client.get("/releases/support-reply:2").text
    assert 'id="comparison"' in page and "2 regressions" in page and "c2" in page


def test_listing_pages_render(env, factory):
    make_use_case(factory)
    env.model()
    env.evalset("golden", cases(3))
    env.evalset("golden", cases(4))
    env.release()
    _login(env.client, env.users, "viewer", username="vic")
    assert "openai/gpt-4o-mini" in env.client.get("/catalog").text
    assert "golden" in env.client.get("/evalsets").text
    s = env.client.get("/evalsets/golden").text
    assert "+1 added" in s and "v2" in s
    assert "c3" in env.client.get("/evalsets/golden/versions/2").text
    assert "support-reply:1" in env.client.get("/releases").text
    frag = env.client.get("/releases/fragment/support-reply").text
    assert "support-reply:1" in frag and "no release in production" in frag
    assert 'id="approve"' not in env.client.get("/releases/support-reply:1").text  # a viewer sees no buttons
    assert env.client.get("/releases/nope:1").status_code == 404
    uc_page = env.client.get("/usecases/support-reply/releases")
    assert uc_page.status_code == 200 and 'hx-get="/releases/fragment/support-reply"' in uc_page.text


def test_eval_runs_list_per_use_case_and_a_run_page(env, factory):
    make_use_case(factory, min_rate=0.9)
    env.model()
    env.evalset("golden", cases(20, wrong=10))
    env.release()
    run = env.evaluate("support-reply:1")
    _login(env.client, env.users, "viewer", username="vera")
    section = env.client.get("/usecases/support-reply/releases").text
    assert 'hx-get="/evalruns/fragment/usecase/support-reply"' in section
    frag = env.client.get("/evalruns/fragment/usecase/support-reply").text
    assert f'href="/evalruns/{run["id"]}"' in frag and "50.0%" in frag and "badge-fail" in frag
    assert "No eval runs yet" in env.client.get("/evalruns/fragment/usecase/other-case").text
    listing = env.client.get("/evalruns?use_case=support-reply")
    assert listing.status_code == 200 and f'data-run="{run["id"]}"' in listing.text
    page = env.client.get(f"/evalruns/{run['id']}")
    assert page.status_code == 200 and '<html' in page.text  # a page of its own, not a fragment
    assert 'id="run-release"' in page.text and 'href="/releases/support-reply:1"' in page.text
    by_tag = re.search(r'<table id="by-tag">.*?</table>', page.text, re.S).group(0)
    assert "even" in by_tag and "odd" in by_tag and "10" in by_tag
    assert page.text.count("<code>c") >= 10 and "wrong_answer" in page.text  # the failing cases
    assert env.client.get("/evalruns/999999").status_code == 404
