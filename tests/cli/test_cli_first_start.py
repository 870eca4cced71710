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


def test_a_server_losing_the_first_admin_race_goes_on(factory, settings, monkeypatch):
    """Two servers started together (compose's server-a and server-b) both saw no user: the insert of the one that
    lost the race hits the unique username; it must start anyway (it crashed before) and leave the winner's admin."""
    from takeoff import cli

    with transaction(factory) as s:
        assert auth.ensure_admin(s, "winner-password-1") is None

    def saw_no_user(session, password):  # what the losing server did: its checks ran before the winner's commit
        from takeoff.auth.models import User

        session.add(User(username="admin", display_name="Administrator", roles=["admin"], active=True))
        session.flush()
        return None

    monkeypatch.setattr(auth, "ensure_admin", saw_no_user)
    assert cli._first_admin(settings.model_copy(update={"admin_password": "loser-password-1"}), factory) is None
    with transaction(factory) as s:
        assert auth.authenticate(s, "admin", "winner-password-1").username == "admin"
