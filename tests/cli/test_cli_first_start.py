"""First start: an admin is created once, with the given password or a generated one printed once."""
from __future__ import annotations

from takeoff.auth import service as auth
from takeoff.core.db import transaction


def test_first_admin_generated_once(factory):
    with transaction(factory) as s:
        generated = auth.ensure_admin(s, None)
    assert generated and len(generated) >= 12
    with transaction(factory) as s:
        assert auth.ensure_admin(s, None) is None  # never a second time
        assert auth.authenticate(s, "admin", generated).roles == ["admin"]


def test_first_admin_with_given_password(factory):
    with transaction(factory) as s:
        assert auth.ensure_admin(s, "correct-horse-battery") is None
        assert auth.authenticate(s, "admin", "correct-horse-battery").username == "admin"
