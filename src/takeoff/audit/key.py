"""The audit chain's key: derived from the server's secret key, remembered per engine, never stored in the database.

Whoever can write the database but does not hold TAKEOFF_SECRET_KEY (or the data folder's secret_key file) cannot
recompute a keyed entry hash, so rewriting history shows up in `takeoff audit verify`. The app and the server-side CLI
remember the key of the engine they open; anything else (a bare session factory) falls back to the environment's
settings, which is what `takeoff serve` reads too.
"""
from __future__ import annotations

import weakref
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

_INFO = b"takeoff/audit/chain/v1"
_KEYS: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


@lru_cache(maxsize=8)
def derive(secret_key: str) -> bytes:
    """The chain's HMAC key (HKDF-SHA256 of the server secret, so the secret itself is never the MAC key)."""
    if not isinstance(secret_key, str) or len(secret_key) < 8:
        raise ValueError("the secret key must be text of at least 8 characters (TAKEOFF_SECRET_KEY)")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"takeoff-audit", info=_INFO).derive(secret_key.encode())


def _root_engine(bind: Any) -> Any:
    """The Engine under a Connection or an OptionEngine (read_session binds one), so every view of a database
    finds the key remembered for it."""
    engine = getattr(bind, "engine", bind)
    while getattr(engine, "_proxied", None) is not None:
        engine = engine._proxied
    return engine


def remember(engine: Any, secret_key: str) -> None:
    """Record the key that goes with this engine (the app and the CLI call this when they open a database)."""
    _KEYS[_root_engine(engine)] = derive(secret_key)


def key_for(session: Session) -> bytes:
    """The chain key of the session's database: the remembered one, else derived from the environment's settings."""
    found = _KEYS.get(_root_engine(session.get_bind()))
    if found is not None:
        return found
    from takeoff.core.config import get_settings

    return derive(get_settings().resolved_secret_key)
