"""Fixtures of the release tests: a use case with targets, a catalog model, an eval set, a python target."""
from __future__ import annotations

import json
from typing import Any

import pytest

from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase


def make_use_case(factory, key: str = "support-reply", tier: str = "low", min_rate: float = 0.5,
                  **extra: Any) -> None:
    with transaction(factory) as s:
        s.add(UseCase(key=key, name=key, purpose="answer tickets", risk_tier=tier, data_sources=["crm"],
                      expected_users=10, targets={"min_eval_pass_rate": min_rate}, **extra))


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def cases(n: int, wrong: int = 0) -> list[dict[str, Any]]:
    """n cases whose input carries the answer the echo target returns; the first `wrong` expect another one."""
    return [{"id": f"c{i}", "input": {"answer": f"a{i}"}, "expected": f"a{i}" if i >= wrong else "nope",
             "tags": ["even" if i % 2 == 0 else "odd"]} for i in range(n)]


def echo(inp: dict[str, Any]) -> str:
    """Target: returns the answer carried in the input."""
    return inp["answer"]


class Env:
    def __init__(self, client, users, admin, factory) -> None:
        self.client, self.users, self.admin, self.factory = client, users, admin, factory
        self.engineer = users.headers("ai_engineer", username="eng")

    def model(self, provider: str = "openai", model: str = "gpt-4o-mini", tiers: tuple[str, ...] = ("low",),
              **extra: Any) -> dict[str, Any]:
        body = {"provider": provider, "model": model, "approved_tiers": list(tiers),
                "price": {"input": 0.15, "output": 0.6, "effective_from": "2026-01-01T00:00:00Z"},
                "data_retention": "30 days", "contract_terms": {"availability_sla_pct": 99.9}, **extra}
        r = self.client.post("/api/v1/catalog/models", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()

    def evalset(self, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        r = self.client.post(f"/api/v1/evalsets/{name}/versions?create=true", content=jsonl(rows),
                             headers=self.engineer)
        assert r.status_code == 201, r.text
        return r.json()

    def release(self, use_case: str = "support-reply", model: str = "openai/gpt-4o-mini", eval_set: str = "golden",
                headers: dict[str, str] | None = None, **extra: Any):
        body = {"use_case": use_case, "model": model, "prompts": {"system": "Be brief."},
                "parameters": {"temperature": 0.2}, "eval_set": {"name": eval_set},
                "eval": {"target": {"type": "python", "ref": "tests.eval_targets:echo"},
                         "scorers": [{"type": "exact"}], "concurrency": 2}, **extra}
        return self.client.post("/api/v1/releases", json=body, headers=headers or self.engineer)

    def evaluate(self, release_id: str, **body: Any) -> dict[str, Any]:
        r = self.client.post(f"/api/v1/releases/{release_id}/evaluate", json=body or None, headers=self.engineer)
        assert r.status_code == 202, r.text
        self.app.state.worker.drain()
        return r.json()


@pytest.fixture
def env(client, users, admin, factory, app) -> Env:
    e = Env(client, users, admin, factory)
    e.app = app
    return e
