"""Connection secrets: encrypted with a key derived from the server secret; redaction shows scheme + host only."""
from __future__ import annotations

import pytest

from takeoff.data import secrets


def test_round_trip_and_wrong_key():
    url = "postgresql://u:Secret-Pass-4411@h/db"
    token = secrets.encrypt("server-secret-1", url)
    # a 2-letter password could appear in the base64 token by chance (it did once): test a long one
    assert "Secret-Pass-4411" not in token and "h/db" not in token and secrets.decrypt("server-secret-1", token) == url
    with pytest.raises(ValueError, match="TAKEOFF_SECRET_KEY"):
        secrets.decrypt("another-secret", token)
    with pytest.raises(ValueError, match="TAKEOFF_SECRET_KEY"):
        secrets.decrypt("server-secret-1", token[:-4] + "AAAA")


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 8"):
        secrets.derive_key("short")
    with pytest.raises(ValueError, match="empty"):
        secrets.encrypt("server-secret-1", "")


@pytest.mark.parametrize("connection, shown", [
    ("postgresql+psycopg://reader:pw@db.example:6543/erp?sslmode=require", "postgresql+psycopg://db.example:6543"),
    ("mysql://root:pw@mysql.local/shop", "mysql://mysql.local"),
    ("sqlite:////srv/secret/path/app.db", "sqlite://…"),
    ("/data/private/customers.parquet", "file://….parquet"),
    ("/data/private/exports", "file://…/"),
    ("", ""),
])
def test_redact(connection, shown):
    assert secrets.redact(connection) == shown
