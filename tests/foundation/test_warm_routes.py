"""`takeoff serve` builds FastAPI's route contexts before the first request (app.warm_routes)."""
from __future__ import annotations

from typing import Any

from fastapi import routing
from fastapi.testclient import TestClient

from takeoff.app import warm_routes


def test_the_first_request_after_warming_builds_no_route_context(app: Any, monkeypatch: Any) -> None:
    """Without the warm-up, the first request to a late route built every context before it (0.6 s for /v1/traces)."""
    built = warm_routes(app)
    assert built > 100  # every API and page route of the app
    calls: list[str] = []
    original = routing._IncludedRouter._build_effective_context

    def counting(self: Any, route: Any) -> Any:
        calls.append(getattr(route, "path", "?"))
        return original(self, route)

    monkeypatch.setattr(routing._IncludedRouter, "_build_effective_context", counting)
    with TestClient(app) as client:
        assert client.post("/v1/traces", content=b"").status_code == 401  # the last routers, walked to the end
        assert client.get("/no/such/page").status_code == 404  # every route walked
    assert calls == []
    assert warm_routes(app) == built  # idempotent: the same contexts, cached


def test_warm_routes_leaves_a_plain_asgi_app_alone() -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
        return None

    assert warm_routes(plain) == 0  # type: ignore[arg-type]
