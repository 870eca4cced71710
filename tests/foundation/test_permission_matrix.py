"""Walks every role × a representative action of each domain over the HTTP API.

Each domain adds its representative actions to ACTIONS; the expected answer comes from the permission module,
so this test proves the routes ask the permission module and nothing else decides.
"""
from __future__ import annotations

import itertools

import pytest

from takeoff.core.permissions import MATRIX, ROLES

# permission -> (method, path, json body); bodies may be invalid: only "403 or not" is asserted.
ACTIONS: dict[str, tuple[str, str, dict | None]] = {
    "read": ("GET", "/api/v1/users", None),
    "user.admin": ("POST", "/api/v1/users", {"username": "newperson", "roles": ["viewer"]}),
    "token.self": ("GET", "/api/v1/tokens", None),
    "audit.read": ("GET", "/api/v1/audit", None),
}

_counter = itertools.count()


@pytest.mark.parametrize("role", ROLES)
def test_each_role_against_each_domain_action(role, client, users):
    headers = users.headers(role, username=f"{role.replace('_', '')}{next(_counter)}")
    for permission, (method, path, body) in ACTIONS.items():
        resp = client.request(method, path, json=body, headers=headers)
        expected = permission in MATRIX[role]
        if expected:
            assert resp.status_code != 403, f"{role} should be allowed {permission}: {resp.text}"
            assert resp.status_code < 500
        else:
            assert resp.status_code == 403, f"{role} should be refused {permission}: {resp.status_code}"
            assert permission in resp.json()["error"]["message"]
