"""Which catalog entry a reported model id is priced as: exact id, else only a snapshot suffix stripped."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from takeoff.catalog import service
from takeoff.catalog.pricing import model_id_candidates, price_in_force, resolve_model_id
from takeoff.core.db import transaction
from takeoff.core.errors import Invalid

AT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(("reported", "known", "expected"), [
    ("gpt-4o", ["gpt-4o"], "gpt-4o"),
    ("gpt-4o-2024-08-06", ["gpt-4o"], "gpt-4o"),                       # OpenAI snapshot
    ("claude-3-5-sonnet-20241022", ["claude-3-5-sonnet"], "claude-3-5-sonnet"),  # Anthropic snapshot
    ("gemini-1.5-pro-002", ["gemini-1.5-pro"], "gemini-1.5-pro"),      # Google version
    ("claude-3-5-sonnet-v2@20241022", ["claude-3-5-sonnet-v2"], "claude-3-5-sonnet-v2"),  # Vertex AI
    ("claude-3-5-sonnet-latest", ["claude-3-5-sonnet"], "claude-3-5-sonnet"),  # moving alias
    ("gemini-1.5-pro-002@latest", ["gemini-1.5-pro"], "gemini-1.5-pro"),  # suffixes strip one after another
    ("gpt-4o-mini-2024-07-18", ["gpt-4o", "gpt-4o-mini"], "gpt-4o-mini"),
    ("gpt-4o-2024-05-13", ["gpt-4o", "gpt-4o-2024-05-13"], "gpt-4o-2024-05-13"),  # a listed snapshot wins
])
def test_snapshot_suffixes_resolve_to_the_most_specific_listed_id(reported, known, expected):
    assert resolve_model_id(reported, known) == expected


@pytest.mark.parametrize(("reported", "known"), [
    ("gpt-4o-mini-2024-07-18", ["gpt-4o"]),        # another (cheaper) model, not a snapshot of gpt-4o
    ("gpt-4o", ["gpt-4"]),                         # a prefix in the middle of a word
    ("gpt-4o-2024-08-06", ["gpt-4"]),
    ("gpt-4o-audio-preview", ["gpt-4o", "gpt-4o-audio"]),  # -preview names a release with its own price
    ("gpt-3.5-turbo-0125", ["gpt-3.5-turbo"]),     # MMDD snapshots were priced apart from their alias
    ("titan-embed-text-v2", ["titan-embed-text"]),  # -v2 is another model
    ("gpt-4o-2024-13-06", ["gpt-4o"]),             # not a date
    ("gpt-4o-20241340", ["gpt-4o"]),
    ("gpt-4o-2024-08-06", []),
])
def test_anything_but_a_snapshot_suffix_stays_unresolved(reported, known):
    assert resolve_model_id(reported, known) is None


def test_candidates_are_most_specific_first_and_never_empty():
    assert model_id_candidates("gemini-1.5-pro-002@001") == ["gemini-1.5-pro-002@001", "gemini-1.5-pro-002",
                                                             "gemini-1.5-pro"]
    assert model_id_candidates("-latest") == ["-latest"]  # nothing would be left
    assert model_id_candidates("@001") == ["@001"]
    with pytest.raises(ValueError, match="non-empty"):
        model_id_candidates("")


def test_price_in_force_takes_the_latest_price_at_or_before_the_time():
    jan, jun = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    schedule = [(jan, "old"), (jun, "new")]
    assert price_in_force(schedule, datetime(2025, 12, 31, tzinfo=UTC)) is None
    assert price_in_force(schedule, jan) == "old"
    assert price_in_force(schedule, AT) == "old"
    assert price_in_force(schedule, jun) == "new"
    assert price_in_force([], AT) is None


def _add(client, admin, provider, model, price=None):
    body = {"provider": provider, "model": model}
    if price is not None:
        body["price"] = {"input": price, "output": price * 4, "effective_from": "2026-01-01T00:00:00Z"}
    r = client.post("/api/v1/catalog/models", json=body, headers=admin)
    assert r.status_code == 201, r.text


def test_price_for_resolves_dated_ids_within_the_given_provider(client, admin, factory):
    _add(client, admin, "azure", "gpt-4o", 5.0)  # listed first: a provider-less lookup takes it
    _add(client, admin, "openai", "gpt-4o", 2.5)
    _add(client, admin, "openai", "gpt-4o-mini-2024-07-18")  # listed, but no price yet
    _add(client, admin, "openai", "gpt-4o-mini", 0.15)
    with transaction(factory) as s:
        assert service.price_for(s, "openai", "gpt-4o-2024-08-06", AT)["input"] == 2.5
        assert service.price_for(s, "azure", "gpt-4o-2024-08-06", AT)["input"] == 5.0
        assert service.price_for(s, None, "gpt-4o-2024-08-06", AT)["input"] == 5.0
        assert service.price_for(s, "anthropic", "gpt-4o-2024-08-06", AT) is None
        # the most specific listed entry decides, even without a price: never the alias's price
        assert service.price_for(s, "openai", "gpt-4o-mini-2024-07-18", AT) is None
        assert service.price_for(s, "openai", "gpt-4o-mini-2099-01-01", AT)["input"] == 0.15
        assert service.price_for(s, "openai", "gpt-4o-2024-08-06", datetime(2025, 6, 1, tzinfo=UTC)) is None
        assert [p["input"] for _, p in service.price_schedule(s, "openai", "gpt-4o-2024-08-06")] == [2.5]
        assert service.price_schedule(s, "openai", "unknown-2024-08-06") == []
        assert service.find_model(s, "openai", "gpt-4o-2024-08-06") is None  # lookups by reference stay exact
        with pytest.raises(ValueError, match="timezone-aware"):
            service.price_for(s, "openai", "gpt-4o", datetime(2026, 3, 1))


def test_release_approval_does_not_resolve_snapshots(client, admin, factory):
    r = client.post("/api/v1/catalog/models", json={"provider": "openai", "model": "gpt-4o",
                                                    "approved_tiers": ["low"]}, headers=admin)
    assert r.status_code == 201, r.text
    with transaction(factory) as s:
        assert service.require_approved_for_tier(s, "openai/gpt-4o", "low").model == "gpt-4o"
        with pytest.raises(Invalid, match="not in the catalog"):
            service.require_approved_for_tier(s, "openai/gpt-4o-2024-08-06", "low")
