"""Who is acting: passed from the edge (API, web, CLI) to every service call."""
from __future__ import annotations

from dataclasses import dataclass, field

from takeoff.core.permissions import allowed
from takeoff.core.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    """An authenticated person (through a token or a session) or the system itself."""

    username: str
    roles: tuple[str, ...]
    user_id: int | None = None
    via: str = "system"  # token | session | system | cli
    token_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def can(self, permission: str) -> bool:
        """True when this actor holds the permission."""
        return allowed(self.roles, permission)

    def require(self, permission: str) -> None:
        """Raise 403 naming the permission when the actor lacks it."""
        if not self.can(permission):
            raise Forbidden(
                f"permission '{permission}' is required; your roles: {', '.join(self.roles) or 'none'}",
                code="permission_denied",
                details=[{"permission": permission}],
            )

    def require_any(self, permissions: tuple[str, ...], action: str) -> None:
        """Raise 403 naming the permissions and the action when the actor holds none of them."""
        if not any(self.can(p) for p in permissions):
            names = " or ".join(f"'{p}'" for p in permissions)
            raise Forbidden(f"permission {names} is required to {action}", code="permission_denied",
                            details=[{"permission": p} for p in permissions])


SYSTEM = Actor(username="system", roles=("admin",), via="system")
