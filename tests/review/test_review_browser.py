"""In Chromium: a reviewer takes the next item of a queue, sees the request, gets a missing score refused beside
its field, then submits the review and lands back on the queue."""
from __future__ import annotations


def test_reviewer_works_an_item(live_server, page, client, admin, queue):  # type: ignore[no-untyped-def]
    r = client.post(f"/api/v1/review/queues/{queue['id']}/items", json={"request_ids": ["r4"]}, headers=admin)
    assert r.status_code == 201
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/review/queues/{queue['id']}")
    page.click("button.review-next")
    page.wait_for_url("**/review/items/*")
    assert "r4" in page.locator(".review-request").inner_text()
    page.check("input[name=score_correct][value='0']")
    page.click("button.review-submit")  # helpful is missing
    assert page.locator("[id='scores.helpful-error']").inner_text().startswith("required")
    page.check("input[name=score_helpful][value='2']")
    page.check("input[name=score_correct][value='0']")
    page.check("input[name=labels][value=made_up]")
    page.click("button.review-submit")
    page.wait_for_url("**/review/queues/*/after")
    assert page.locator("tr[data-item]").count() == 1  # still open: it wants a second review
    assert "1 review(s)" in page.locator(".review-progress").inner_text()
