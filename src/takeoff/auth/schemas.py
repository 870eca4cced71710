"""Auth input and output shapes."""
from __future__ import annotations

from pydantic import ConfigDict, Field

from takeoff.core.types import Input


class Strict(Input):
    """Base for inputs: unknown fields are refused, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64)
    roles: list[str] = Field(min_length=1)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    display_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    user: str | None = Field(default=None, description="Defaults to the caller; admins may name another user.")
    expires_days: int | None = Field(default=None, ge=1, le=3650)
    roles: list[str] | None = None


class Login(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class SsoMapping(Strict):
    mapping: dict[str, list[str]] = Field(description="Provider group name -> takeoff roles its members get; "
                                                      "replaces the whole mapping.", max_length=500)
