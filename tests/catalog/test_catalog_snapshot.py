"""The shipped price snapshot: a valid, dated file with its notice; `import-defaults` adds missing models approved
for no tier, prices unpriced ones marked with the snapshot's date (shown on the catalog page), keeps operators'
prices, is idempotent, and needs catalog.write."""
from __future__ import annotations

from takeoff.catalog import snapshot

from .test_catalog_prices import _model

URL = "/api/v1/catalog/import-defaults"


def test_the_shipped_snapshot_is_dated_sourced_and_says_to_check_it() -> None:
    data = snapshot.load()
    assert data["as_of"] >= "2025-01-01"
    assert "operator must check" in data["notice"]
    assert {m["provider"] for m in data["models"]} >= {"openai", "anthropic", "google", "mistral"}
    assert set(data["sources"]) >= {"openai", "anthropic", "google", "mistral"}


def test_import_defaults_prices_unpriced_models_with_the_snapshot_date_and_keeps_operator_prices(
        client, admin, users) -> None:
    assert _model(client, admin).status_code == 201  # the operator's own gpt-4o price (2.5 from 2026-01-01)
    as_of = snapshot.load()["as_of"]
    total = len(snapshot.load()["models"])
    assert client.post(URL, headers=users.headers("viewer")).status_code == 403
    r = client.post(URL, headers=admin)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["as_of"] == as_of and "openai/gpt-4o" in out["kept"] and "openai/gpt-4o" not in out["added"]
    assert len(out["added"]) == total - 1 and len(out["priced"]) == total - 1
    sonnet = client.get("/api/v1/catalog/models/anthropic/claude-sonnet-4-20250514", headers=admin).json()
    assert sonnet["approved_tiers"] == []  # importing approves nothing
    assert sonnet["price"]["input"] == 3.0 and sonnet["price_source"] == f"snapshot {as_of}"
    assert sonnet["prices"][0]["effective_from"].startswith(as_of)
    own = client.get("/api/v1/catalog/models/openai/gpt-4o", headers=admin).json()
    assert own["price_source"] is None and [p["source"] for p in own["prices"]] == [None]
    again = client.post(URL, headers=admin).json()  # idempotent
    assert again["added"] == [] and again["priced"] == [] and len(again["kept"]) == total
    from tests.monitoring.test_monitoring_pages import login

    login(client, users, "viewer")
    page = client.get("/catalog")
    assert f"snapshot {as_of}: check with the vendor" in page.text


def test_a_newer_operator_price_replaces_the_snapshot_label(client, admin) -> None:
    client.post(URL, headers=admin)
    r = client.post("/api/v1/catalog/prices/mistral/mistral-small-latest",
                    json={"input": 0.2, "output": 0.6, "effective_from": "2026-01-01T00:00:00Z"}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["price_source"] is None and r.json()["price"]["input"] == 0.2
