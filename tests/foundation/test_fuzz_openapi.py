"""Schemathesis over every operation of /openapi.json, on SQLite and PostgreSQL: no input gives a 5xx (issue 16.2).

Bounded and seeded (deterministic generation, few examples per operation) so it runs in a couple of minutes per
backend on a 2-core machine; an admin bearer token gets every operation past authentication. Every operation runs,
streaming ones included (the eval-cases download streams a finite body; nothing in the API long-polls).
TAKEOFF_FUZZ_EXAMPLES=25 gives the deeper run of the issue (several minutes per backend).
"""
from __future__ import annotations

import collections
import os
import time
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import events, from_schema

from takeoff.core.observability import Wrapper

MAX_EXAMPLES = int(os.environ.get("TAKEOFF_FUZZ_EXAMPLES", "8"))  # per operation and phase; more for a deeper run
SEED = 16


class StatusCounter(Wrapper):
    """ASGI wrapper that counts requests and server errors per route (what the run sent, whatever the engine keeps)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.server_errors: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.requests += 1

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 500:
                self.server_errors[f"{scope['method']} {scope['path']}"] += 1
            await send(message)

        await self.app(scope, receive, watch)


def run_schemathesis(app: Any, token: str, *, checks: list[str], max_examples: int = MAX_EXAMPLES,
                     path_regex: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """One engine run (the CLI's machinery) over the app; returns figures and the failing checks' descriptions."""
    counted = StatusCounter(app)
    config = schemathesis.Config(seed=SEED)
    project = config.projects.default
    project.update(headers={"Authorization": f"Bearer {token}"}, workers=1, continue_on_failure=True)
    project.generation.update(max_examples=max_examples, deterministic=True, no_shrink=True, database="none")
    project.checks.update(included_check_names=checks)
    project.phases.update(phases=["examples", "coverage", "fuzzing"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", counted, config=config)
    if path_regex:  # a narrower run while fixing one route
        schema = schema.include(path_regex=path_regex)
    operations, failures = set(), []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.recorder.label:
            operations.add(event.recorder.label)
            for case_id, nodes in event.recorder.checks.items():
                for node in nodes:
                    if node.failure_info is not None:
                        case = event.recorder.cases[case_id].value
                        failures.append(f"{event.recorder.label}: {node.name}: {node.failure_info.failure.title}: {node.failure_info.failure.message[:300]} "
                                        f"[{case.path_parameters} {case.query} {str(case.body)[:200]}]")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(f"engine error: {getattr(event, 'label', '')} {getattr(event, 'info', event)}")
    figures = {"operations": len(operations), "requests": counted.requests,
               "server_errors": sum(counted.server_errors.values()),
               "operations_with_5xx": len(counted.server_errors)}
    return figures, failures


# Server errors, and the OpenAPI document as a contract: every status, content type and header an answer carries is
# declared, and bodies match their declared schema (routes answering dict[str, Any] declare a free object, so for
# them this checks the error shape and the content type, not the fields).
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance"]


@pytest.mark.db
def test_no_server_error_on_any_operation(app, users, engine, caplog) -> None:  # type: ignore[no-untyped-def]
    name = users.create("admin", username="fuzzadmin")
    token = users.token(name)
    start = time.monotonic()
    figures, failures = run_schemathesis(app, token, checks=CHECKS)
    figures["seconds"] = round(time.monotonic() - start, 1)
    print(f"\nschemathesis on {engine.dialect.name}: {figures}")
    assert figures["operations"] >= 140, figures  # every operation of the document ran
    assert figures["server_errors"] == 0 and not failures, "\n".join(failures[:40]) + f"\n{figures}"
    # The database's refusal is a safety net, not the bound: no fuzzed input may reach it.
    assert not [r.getMessage() for r in caplog.records if "lacks its bound" in r.getMessage()]
