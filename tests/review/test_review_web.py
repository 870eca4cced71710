"""Review pages over HTTP: the queue list, a queue with agreement, the review page (claim, a score off its scale
refused beside its field, submit, skip), and "send to review" from a request page; a viewer cannot post."""
from __future__ import annotations

from tests.conftest import csrf_of, web_login


def test_review_pages_and_forms(app, client, admin, users, queue):  # type: ignore[no-untyped-def]
    users.create("product_owner", username="pam")
    users.create("viewer", username="vic")
    c = web_login(app, "pam")
    r = c.get("/requests/r6")
    assert "/review/add?request=r6" in r.text
    r = c.get("/review/add", params={"request": "r6"})
    assert r.status_code == 200 and "replies" in r.text
    r = c.post("/review/add", data={"csrf_token": csrf_of(r.text), "request": "r6", "queue_id": queue["id"]},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/review/items/")
    item_url = r.headers["location"]
    page = c.get(item_url)
    assert "Take this item" in page.text and "Policy violations" in page.text
    r = c.post(f"{item_url}/claim", data={"csrf_token": csrf_of(page.text)}, follow_redirects=True)
    assert 'class="rubric"' in r.text and "The policy violation is handled" in r.text
    token = csrf_of(r.text)
    bad = c.post(f"{item_url}/review", data={"csrf_token": token, "score_helpful": "7", "score_correct": "1"})
    assert bad.status_code == 422 and 'id="scores.helpful-error"' in bad.text and "from 1 to 5" in bad.text
    ok = c.post(f"{item_url}/review", data={"csrf_token": token, "score_helpful": "4", "score_correct": "1",
                                            "labels": "made_up", "violation_handled": "on", "comment": "fine"},
                follow_redirects=False)
    assert ok.status_code == 303, ok.text
    assert client.get("/api/v1/requests/r6", headers=admin).json()["scores"]["review_helpful"] == 4.0
    q = c.get(f"/review/queues/{queue['id']}", params={"status": "all"})
    assert q.status_code == 200 and 'data-score="helpful"' in q.text and "1 review(s)" in q.text
    assert "replies" in c.get("/review").text
    v = web_login(app, "vic")
    assert v.get(item_url).status_code == 200
    assert v.post(f"/review/queues/{queue['id']}/next", data={"csrf_token": csrf_of(v.get(item_url).text)}
                  ).status_code == 403


def test_a_too_long_comment_is_refused_beside_its_field(app, client, admin, users, queue):  # type: ignore[no-untyped-def]
    item = client.post(f"/api/v1/review/queues/{queue['id']}/items", json={"request_ids": ["r1"]},
                       headers=admin).json()["items"][0]
    users.create("ai_engineer", username="al")
    c = web_login(app, "al")
    page = c.get(f"/review/items/{item}")
    r = c.post(f"/review/items/{item}/claim", data={"csrf_token": csrf_of(page.text)}, follow_redirects=True)
    bad = c.post(f"/review/items/{item}/review", data={"csrf_token": csrf_of(r.text), "score_helpful": "3",
                                                       "score_correct": "1", "comment": "x" * 5000})
    assert bad.status_code == 422 and 'id="comment-error"' in bad.text
