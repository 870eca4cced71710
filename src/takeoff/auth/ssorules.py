"""Pure rules of single sign-on: the groups and the name an ID token gives, the roles a group mapping grants, and
how a returning user's roles change (only the roles SSO granted are taken back)."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from takeoff.core.permissions import ROLES

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MAX_GROUPS = 1000


def groups_from(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The group names in the claim (a list of strings, or one string); anything else is no group."""
    value = claims.get(claim)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({g for g in value[:MAX_GROUPS] if isinstance(g, str) and 0 < len(g) <= 255})


def mapped_roles(groups: Iterable[str], mapping: Mapping[str, Iterable[str]]) -> list[str]:
    """The roles the mapping grants to members of these groups, in the order of ROLES."""
    granted = {role for g in groups for role in mapping.get(g, ())}
    return [r for r in ROLES if r in granted]


def next_roles(current: Iterable[str], granted_before: Iterable[str], granted_now: Iterable[str]) -> list[str]:
    """A returning user's roles: the ones an admin gave by hand stay, SSO's grant is replaced by today's."""
    before, now = set(granted_before), set(granted_now)
    kept = set(current) - before
    return [r for r in ROLES if r in kept or r in now]


def username_from(claims: Mapping[str, Any], claim: str) -> str:
    """A takeoff user name from the claim (its local part when it is an address; else the e-mail's local part, else
    the subject), lower-cased and cleaned."""
    raw = claims.get(claim)
    if not isinstance(raw, str) or not raw.strip():
        email = claims.get("email")
        raw = email.split("@", 1)[0] if isinstance(email, str) else ""
    raw = raw.split("@", 1)[0]  # a UPN or e-mail ("dana@corp.example", Entra's preferred_username) names "dana"
    name = re.sub(r"[^a-z0-9._-]+", "-", raw.strip().lower()).strip("-._")[:64]
    if _USERNAME_RE.match(name):
        return name
    digest = hashlib.sha256(str(claims.get("sub", "")).encode()).hexdigest()[:12]
    return f"sso-{digest}"


def numbered(name: str, n: int) -> str:
    """The n-th alternative of a taken user name ('alice-2'), still at most 64 characters."""
    suffix = f"-{n}"
    return name[: 64 - len(suffix)] + suffix
