"""A production release reproduces on a fresh server: eval sets are named by content, so the bundle hash is the same.

The documented path: `takeoff export` / `apply -f`, `release export --cases-out`, `evalset import`,
`release create -f` with the export's create_request, on a second, empty database of the same backend.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from takeoff.app import create_app
from takeoff.cli import app as cli
from takeoff.commands import _http
from takeoff.core.config import Settings
from takeoff.core.db import make_sessionmaker, transaction
from takeoff.releases import bundle as bundles
from takeoff.releases.models import Release

from ..conftest import TEST_EVAL_CODE, TEST_OUTBOUND_ALLOW, Users, database_at
from .conftest import cases, make_use_case

runner = CliRunner()


@contextmanager
def _cli_on(app, token: str, monkeypatch) -> Iterator:  # type: ignore[no-untyped-def]
    """`takeoff ...` against one app with one token (the client commands' TAKEOFF_URL/TAKEOFF_TOKEN)."""
    with monkeypatch.context() as m:
        m.setattr(_http, "client", lambda timeout=60.0: TestClient(app, headers={"Authorization": f"Bearer {token}"}))
        yield lambda *args: runner.invoke(cli, list(args))


def _promote_to_production(env, takeoff, rid: str) -> None:
    env.evaluate(rid)
    po = env.users.headers("product_owner")
    assert env.client.post(f"/api/v1/releases/{rid}/approve", json={}, headers=po).status_code == 200
    detail = env.client.get(f"/api/v1/releases/{rid}", headers=env.engineer).json()
    assert detail["gate"]["status"] == "pass" and detail["gate"]["on_bundle_eval_set"]
    for item in detail["checklist"]["items"]:
        if item["mandatory"] and not item["satisfied"]:
            assert takeoff("release", "attest", rid, item["id"], "--statement", "checked").exit_code == 0
    r = takeoff("release", "promote", rid, "--production")
    assert r.exit_code == 0, r.output


def test_production_release_on_eval_set_version_3_reproduces_on_an_empty_server(env, factory, users, app, engine,
                                                                                   tmp_path, monkeypatch):
    make_use_case(factory, min_rate=0.8)
    env.model()
    for n in (10, 15, 20):  # three versions; the release is judged on version 3
        env.evalset("golden", cases(n))
    assert env.release().status_code == 201
    rid = "support-reply:1"
    admin_a = users.token(users.create("admin", username="admin-a"))
    with _cli_on(app, admin_a, monkeypatch) as takeoff:
        _promote_to_production(env, takeoff, rid)
        shown = json.loads(takeoff("release", "show", rid).stdout)
        assert shown["status"] == "production" and shown["eval_set"]["version"] == 3
        gov = tmp_path / "governance.yaml"
        assert takeoff("export", "-o", str(gov)).exit_code == 0
        cases_file = tmp_path / "cases.jsonl"
        r = takeoff("release", "export", rid, "--format", "json", "--cases-out", str(cases_file))
        assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["hash_verifies"] and doc["reproduces_as"] == doc["content_hash"]
    request = tmp_path / "release.yaml"
    request.write_text(yaml.safe_dump(doc["create_request"]))

    backend = "postgres" if engine.dialect.name == "postgresql" else "sqlite"
    (tmp_path / "b").mkdir()
    with database_at(backend, tmp_path / "b", "heads") as (eng_b, _):
        settings_b = Settings(data_dir=tmp_path / "b", database_url=eng_b.url.render_as_string(hide_password=False),
                              secret_key="test-secret-key-other-server", embedded_worker=False,
                              rollup_compaction=False, max_body_bytes=1_000_000,
                              eval_python_modules=TEST_EVAL_CODE, outbound_allow_hosts=TEST_OUTBOUND_ALLOW)
        app_b = create_app(settings_b, engine=eng_b, start_worker=False)
        users_b = Users(make_sessionmaker(eng_b))
        admin_b = users_b.token(users_b.create("admin", username="admin-b"))
        with TestClient(app_b) as client_b, _cli_on(app_b, admin_b, monkeypatch) as takeoff_b:
            r = takeoff_b("apply", "-f", str(gov))
            assert r.exit_code == 0, r.output
            r = client_b.post("/api/v1/catalog/models", headers={"Authorization": f"Bearer {admin_b}"}, json={
                "provider": "openai", "model": "gpt-4o-mini", "approved_tiers": ["low"],
                "price": {"input": 0.15, "output": 0.6, "effective_from": "2026-01-01T00:00:00Z"},
                "data_retention": "30 days", "contract_terms": {"availability_sla_pct": 99.9}})
            assert r.status_code == 201, r.text
            # a wrong file is refused before upload when the expected content hash is given
            other = tmp_path / "other.jsonl"
            other.write_text("\n".join(json.dumps(c) for c in cases(3)))
            r = takeoff_b("evalset", "import", "golden", str(other), "--expect-sha256", doc["eval_set"]["content_hash"])
            assert r.exit_code == 2 and "nothing imported" in r.output
            r = takeoff_b("evalset", "import", "golden", str(cases_file),
                          "--expect-sha256", doc["eval_set"]["content_hash"])
            assert r.exit_code == 0, r.output
            assert "golden@1 new version" in r.output  # version 1 here: the label is per server
            r = takeoff_b("release", "create", "-f", str(request))
            assert r.exit_code == 0, r.output
            rid_b = r.output.strip().splitlines()[-1]
            again = client_b.get(f"/api/v1/releases/{rid_b}/export", headers={"Authorization": f"Bearer {admin_b}"})
            assert again.json()["content_hash"] == doc["content_hash"]
            assert again.json()["bundle"] == doc["bundle"]
            assert again.json()["eval_set"] == {**doc["eval_set"], "version": 1}


def _create(env, ref):  # type: ignore[no-untyped-def]
    """Create a support-reply release on the eval set `ref` (a create request's eval_set)."""
    body = {"use_case": "support-reply", "model": "openai/gpt-4o-mini", "prompts": {"system": "Be brief."},
            "eval_set": ref}
    return env.client.post("/api/v1/releases", json=body, headers=env.engineer)


def test_create_names_the_eval_set_by_content_or_label_and_refuses_a_mismatch(env, factory):
    make_use_case(factory)
    env.model()
    v1 = env.evalset("golden", cases(10))
    v2 = env.evalset("golden", cases(12))
    r = _create(env, {"name": "golden", "content_hash": v1["content_hash"]})
    assert r.status_code == 201, r.text
    assert r.json()["eval_set"] == {"name": "golden", "content_hash": v1["content_hash"], "version": 1}
    r = _create(env, {"name": "golden", "version": 2, "content_hash": v2["content_hash"]})
    assert r.status_code == 201 and r.json()["eval_set"]["version"] == 2
    # contradictory label and content, unknown content, malformed hash: 422 naming eval_set, nothing created
    for ref in ({"name": "golden", "version": 1, "content_hash": v2["content_hash"]},
                {"name": "golden", "content_hash": "0" * 64}, {"name": "nope", "content_hash": "0" * 64}):
        r = _create(env, ref)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "eval_set", r.text
    r = _create(env, {"name": "golden", "content_hash": "xyz"})
    assert r.status_code == 422
    assert len(env.client.get("/api/v1/releases", headers=env.engineer).json()["items"]) == 2
    # the same content gives the same bundle hash, whichever way it was named
    a = env.client.get("/api/v1/releases/support-reply:2/export", headers=env.engineer).json()
    r = _create(env, {"name": "golden"})  # the latest, version 2
    b = env.client.get(f"/api/v1/releases/{r.json()['id']}/export", headers=env.engineer).json()
    assert a["content_hash"] == b["content_hash"]


def test_a_release_stored_before_content_naming_still_verifies_evaluates_and_reproduces(env, factory):
    """Bundles written with eval_set.version keep their stored hash (no migration); evaluation finds the version by
    content, and the export says which hash a reproduction gives today."""
    make_use_case(factory, min_rate=0.8)
    env.model()
    env.evalset("golden", cases(10))
    v2 = env.evalset("golden", cases(20))
    assert env.release().status_code == 201
    with transaction(factory) as s:
        rel = s.query(Release).one()
        legacy = {**rel.bundle, "eval_set": {"name": "golden", "version": 2, "content_hash": v2["content_hash"]}}
        s.execute(update(Release).where(Release.id == rel.id)
                  .values(bundle=legacy, content_hash=bundles.content_hash(legacy)))
    doc = env.client.get("/api/v1/releases/support-reply:1/export", headers=env.engineer).json()
    assert doc["hash_verifies"] is True
    assert doc["reproduces_as"] == bundles.content_hash(bundles.reproducible(legacy)) != doc["content_hash"]
    assert doc["create_request"]["eval_set"] == {"name": "golden", "content_hash": v2["content_hash"]}
    env.evaluate("support-reply:1")
    detail = env.client.get("/api/v1/releases/support-reply:1", headers=env.engineer).json()
    assert detail["gate"]["status"] == "pass" and detail["gate"]["on_bundle_eval_set"] is True
    assert detail["status"] == "awaiting_approval"
    # a reproduction on this server (new bundle shape) gives exactly the hash the export announced
    r = env.client.post("/api/v1/releases", json=doc["create_request"], headers=env.engineer)
    assert r.status_code == 201, r.text
    assert r.json()["content_hash"] == doc["reproduces_as"]


@pytest.mark.parametrize("text,expected", [
    ("golden", {"name": "golden"}), ("golden@3", {"name": "golden", "version": 3}),
    ("golden@" + "AB" * 32, {"name": "golden", "content_hash": "ab" * 32}),
])
def test_cli_eval_set_reference(text, expected):
    from takeoff.commands.release import eval_set_ref

    assert eval_set_ref(text) == expected
