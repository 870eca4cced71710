"""Each cause of issue 16.2's server errors, refused at the edge with a 4xx in the one error shape (both backends);
and the OpenAPI document as a contract (error responses declared, a 405 names what is allowed)."""
from __future__ import annotations

import json
import re

import pytest

from takeoff.core.db import transaction
from takeoff.portfolio.models import UseCase
from takeoff.core.types import MAX_JSON_DEPTH, json_too_deep

ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "422", "429")


def _error(resp, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"code", "message", "details", "request_id"}  # the request id names the server's log lines
    assert err["request_id"] == resp.headers["x-request-id"]
    if code:
        assert err["code"] == code, err
    return err


@pytest.mark.parametrize("path", ["/api/v1/jobs/2147483648", "/api/v1/jobs/9223372036854775808",
                                  "/api/v1/incidents/0", "/api/v1/evalruns/99999999999999999999/failures",
                                  "/api/v1/evalsets/x/diff?from=1&to=2147483648"])
def test_ids_beyond_the_integer_column_are_422(client, admin, path) -> None:  # type: ignore[no-untyped-def]
    _error(client.get(path, headers=admin), 422, "invalid")


def test_nul_in_the_url_or_a_body_is_422(client, admin) -> None:  # type: ignore[no-untyped-def]
    _error(client.get("/api/v1/usecases/a%00b", headers=admin), 422, "invalid")
    _error(client.get("/api/v1/incidents?use_case=a%00", headers=admin), 422, "invalid")
    err = _error(client.post("/api/v1/catalog/models", headers=admin, json={"provider": "p", "model": "m\x00"}), 422)
    assert "NUL" in json.dumps(err)
    err = _error(client.put("/api/v1/usecases/x/roi", headers=admin, json={"note": {"deep": ["a\x00"]}}), 422)
    assert "NUL" in json.dumps(err)


def test_model_name_longer_than_its_identity_column_is_422(client, admin) -> None:  # type: ignore[no-untyped-def]
    err = _error(client.post("/api/v1/catalog/models", headers=admin, json={"provider": "p", "model": "m" * 199}), 422)
    assert "200" in err["details"][0]["message"]
    r = client.post("/api/v1/catalog/models", headers=admin, json={"provider": "p", "model": "m" * 198})
    assert r.status_code == 201, r.text


def test_explicit_null_for_a_required_column_in_a_patch_is_422(client, admin, factory) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        s.add(UseCase(key="uc", name="uc", purpose="p", risk_tier="low", data_sources=["crm"], status="production"))
    inc = client.post("/api/v1/incidents", headers=admin, json={"use_case": "uc", "title": "t", "severity": 2}).json()
    err = _error(client.patch(f"/api/v1/incidents/{inc['id']}", headers=admin, json={"severity": None}), 422)
    assert err["details"][0]["field"] == "severity"
    _error(client.patch("/api/v1/usecases/uc", headers=admin, json={"name": None}), 422)
    r = client.patch(f"/api/v1/incidents/{inc['id']}", headers=admin, json={"release_id": None, "severity": 3})
    assert r.status_code == 200 and r.json()["severity"] == 3, r.text  # a nullable column may still be cleared


def test_unix_time_beyond_year_9999_is_422(client, admin) -> None:  # type: ignore[no-untyped-def]
    for ts in (1e12, 2.5e307):
        err = _error(client.post("/api/v1/feedback", headers=admin, json={"id": "f1", "ts": ts}), 422)
        assert err["details"][0]["field"] == "ts"
    r = client.post("/api/v1/feedback", headers=admin, json={"id": "f1", "ts": 1765000000})
    assert r.status_code < 300, r.text


def test_time_overflowing_its_utc_conversion_is_422(client, admin, factory) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        s.add(UseCase(key="uc", name="uc", purpose="p", risk_tier="low", data_sources=["crm"], status="production"))
    for t in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"):
        err = _error(client.post("/api/v1/incidents", headers=admin,
                                 json={"use_case": "uc", "title": "t", "severity": 2, "started_at": t}), 422)
        assert err["details"][0]["field"] == "started_at"
    _error(client.get("/api/v1/access-log?since=9999-12-31T23:59:59-05:00", headers=admin), 422)


def test_json_nested_too_deep_is_400_before_parsing(client, admin) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 10_000 + "]" * 10_000
    for path in ("/api/v1/frameworks", "/api/v1/incidents", "/api/v1/events", "/v1/traces"):
        r = client.post(path, headers={**admin, "content-type": "application/json"}, content=deep)
        assert _error(r, 400, "too_deep")
    ok = {"yaml": "x", "n": json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))}
    r = client.post("/api/v1/frameworks", headers=admin, json=ok)
    assert r.status_code < 500 and "too_deep" not in r.text, r.text


def test_json_depth_bound() -> None:
    nest = lambda n: ("[" * n + "]" * n).encode()  # noqa: E731
    assert not json_too_deep(nest(MAX_JSON_DEPTH)) and json_too_deep(nest(MAX_JSON_DEPTH + 1))
    assert json_too_deep(b'{"a":' * 200 + b"1" + b"}" * 200)
    assert not json_too_deep(json.dumps({"s": "[{" * 500, "l": [[1]] * 1000}).encode())  # brackets in strings
    assert not json_too_deep(b'{"a": [1, 2' + b"," * 100)  # malformed but shallow: the JSON parser's to refuse (400)
    assert json_too_deep(b"[" * 500)  # unclosed, still nested too deep


def test_database_refusal_is_a_4xx_safety_net(client, admin, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import DataError, IntegrityError

    from takeoff.jobs import api as jobs_api

    for exc, status in ((DataError("SELECT", {}, Exception("integer out of range")), 422),
                        (IntegrityError("INSERT", {}, Exception("duplicate key")), 409),
                        (OverflowError("Python int too large to convert to SQLite INTEGER"), 422)):
        def refuse(*a, exc=exc, **k):  # type: ignore[no-untyped-def]
            raise exc

        monkeypatch.setattr(jobs_api.service, "get", refuse)
        _error(client.get("/api/v1/jobs/1", headers=admin), status)
    assert sum("lacks its bound" in r.getMessage() for r in caplog.records) == 3  # logged: the gap gets fixed


@pytest.mark.one_backend
def test_openapi_declares_errors_and_resolves(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs <= set(spec["components"]["schemas"]), refs - set(spec["components"]["schemas"])
    for path, item in spec["paths"].items():
        if not path.startswith(("/api/v1/", "/v1/")):
            continue
        for method, op in item.items():
            for status in ERROR_STATUSES:
                content = op["responses"].get(status, {}).get("content", {})
                assert content.get("application/json", {}).get("schema") == {"$ref": "#/components/schemas/ErrorBody"}, \
                    f"{method} {path} {status}"
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's 422 is not the shape we send


def test_405_carries_allow(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.delete("/api/v1/frameworks", headers=admin)
    err = _error(r, 405, "method_not_allowed")
    assert err and set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_pages_bound_their_ids_too(app, admin) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import web_login  # noqa: PLC0415

    c = web_login(app, "root")
    for path in ("/incidents/2147483648", "/incidents/9223372036854775808"):
        assert c.get(path).status_code == 422


def test_audit_offset_beyond_the_integer_range_is_422(client, admin) -> None:  # type: ignore[no-untyped-def]
    """A huge offset is refused where it is declared, not by the database's safety net."""
    r = client.get(f"/api/v1/audit?offset={2**63}", headers=admin)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"].endswith("offset"), r.text
