"""Who may edit the catalog, write eval sets, run evals, create, approve, promote and roll back releases."""
from __future__ import annotations


def test_permission_matrix(assert_matrix):
    assert_matrix({
        "catalog.write": ("POST", "/api/v1/catalog/models", {}),
        "evalset.write": ("POST", "/api/v1/evalsets", {"name": "Bad Name"}),
        "eval.run": ("POST", "/api/v1/evalruns", {}),
        "release.create": ("POST", "/api/v1/releases", {}),
        "release.approve": ("POST", "/api/v1/releases/nope:1/approve", {}),
        "release.promote": ("POST", "/api/v1/releases/nope:1/promote", {"to": "production"}),
        "release.rollback": ("POST", "/api/v1/usecases/nope/rollback", {}),
    })


def test_reading_needs_a_token(client):
    assert client.get("/api/v1/releases").status_code == 401
    assert client.get("/api/v1/usecases/x/active").status_code == 401
