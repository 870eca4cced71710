"""Fixtures of the eval service tests: a use case with a minimum pass rate and an eval set importer."""
from __future__ import annotations

import json
from typing import Any

import pytest

from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def rows(n: int) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "input": {"answer": f"a{i}"}, "expected": f"a{i}", "tags": ["t"]} for i in range(n)]


@pytest.fixture
def eng(users) -> dict[str, str]:
    return users.headers("ai_engineer", username="eng")


@pytest.fixture
def use_case(factory) -> str:
    with transaction(factory) as s:
        s.add(UseCase(key="faq", name="faq", purpose="answer", risk_tier="low",
                      targets={"min_eval_pass_rate": 0.5}))
    return "faq"


@pytest.fixture
def importer(client, eng):
    def put(name: str, data: list[dict[str, Any]] | bytes, fmt: str = "jsonl"):
        body = data if isinstance(data, bytes) else jsonl(data)
        return client.post(f"/api/v1/evalsets/{name}/versions?create=true&format={fmt}", content=body, headers=eng)

    return put
