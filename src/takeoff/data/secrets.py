"""Connection secrets at rest: Fernet with a key derived (HKDF-SHA256) from the server's secret key.

The key used by a database is remembered per engine by the API layer (which knows the settings), so
job handlers running on the same engine decrypt with the same key; a standalone worker falls back to
the settings read from its environment (`TAKEOFF_SECRET_KEY`), which is what `takeoff serve` uses too.
"""
from __future__ import annotations

import base64
import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

_INFO = b"takeoff/data/connection/v1"
_KEYS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def derive_key(secret_key: str) -> bytes:
    """The Fernet key for connection secrets, derived from the server secret (HKDF so the secret is never used raw)."""
    if not isinstance(secret_key, str) or len(secret_key) < 8:
        raise ValueError("the secret key must be text of at least 8 characters")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"takeoff-data", info=_INFO).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


def encrypt(secret_key: str, plaintext: str) -> str:
    """Encrypt a connection string; the token is ASCII text safe to store."""
    if not isinstance(plaintext, str) or not plaintext:
        raise ValueError("nothing to encrypt: the connection is empty")
    return Fernet(derive_key(secret_key)).encrypt(plaintext.encode()).decode("ascii")


def decrypt(secret_key: str, token: str) -> str:
    """Decrypt a stored connection; ValueError when the key changed or the token was altered."""
    try:
        return Fernet(derive_key(secret_key)).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError):
        raise ValueError("the stored connection cannot be decrypted (was TAKEOFF_SECRET_KEY changed?)") from None


def redact(connection: str) -> str:
    """Scheme and host only (no user, password, database path or query): what pages and the API may show."""
    if not isinstance(connection, str) or not connection.strip():
        return ""
    text = connection.strip()
    if "://" not in text:
        suffix = Path(text).suffix.lower() or "folder"
        return f"file://…{suffix}" if suffix != "folder" else "file://…/"
    try:
        url = sa.make_url(text)
    except Exception:
        return text.split("://", 1)[0] + "://…"
    host = url.host or ""
    if url.get_backend_name() == "sqlite":
        return f"{url.drivername}://…"
    return f"{url.drivername}://{host}" + (f":{url.port}" if url.port else "")


def remember(bind: Any, secret_key: str) -> None:
    """Record the secret key that goes with this engine (called by the API and page layers)."""
    try:
        _KEYS[bind] = secret_key
    except TypeError:  # not weak-referenceable: nothing to remember
        pass


def secret_for(session: Session) -> str:
    """The secret key for the session's database: the remembered one, else the environment's settings."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    found = _KEYS.get(engine)
    if found:
        return found
    from takeoff.core.config import get_settings

    return get_settings().resolved_secret_key
