"""The pure SSO rules: groups from a claim, roles from a mapping, what a returning user keeps, user names."""
from __future__ import annotations

from takeoff.auth.ssorules import groups_from, mapped_roles, next_roles, numbered, username_from


def test_groups_roles_and_what_a_returning_user_keeps() -> None:
    assert groups_from({"groups": ["b", "a", "a", 3, ""]}, "groups") == ["a", "b"]
    assert groups_from({"roles": "admins"}, "roles") == ["admins"]
    assert groups_from({"groups": {"not": "a list"}}, "groups") == []
    mapping = {"a": ["viewer", "admin"], "b": ["ai_engineer"]}
    assert mapped_roles(["a", "b", "zzz"], mapping) == ["admin", "ai_engineer", "viewer"]  # in the order of ROLES
    # SSO granted admin last time; an admin gave risk_partner by hand; today the groups grant viewer only.
    assert next_roles(["admin", "risk_partner"], ["admin"], ["viewer"]) == ["risk_partner", "viewer"]
    assert next_roles(["admin"], ["admin"], []) == []


def test_user_names_from_claims() -> None:
    assert username_from({"preferred_username": "Dana.Scully@corp.example"}, "preferred_username") == "dana.scully"
    assert username_from({"preferred_username": "Jean Luc"}, "preferred_username") == "jean-luc"
    assert username_from({"email": "fox@x.example"}, "preferred_username") == "fox"
    odd = username_from({"sub": "abc", "preferred_username": "!!"}, "preferred_username")
    assert odd.startswith("sso-") and len(odd) == 16
    assert numbered("a" * 64, 12) == "a" * 61 + "-12"
