"""Schema fingerprint, diff and announced changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from takeoff.data.schema import Announcement, SchemaChange, fingerprint, is_announced, schema_diff

OLD = [("id", "INTEGER"), ("amount", "NUMERIC(10, 2)"), ("email", "TEXT")]
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_fingerprint_ignores_order_and_type_spelling_but_not_types() -> None:
    assert fingerprint(OLD) == fingerprint(list(reversed(OLD)))
    assert fingerprint(OLD) == fingerprint([("id", "integer"), ("amount", "numeric(10,  2)"), ("email", " text")])
    assert fingerprint(OLD) != fingerprint([("id", "BIGINT"), ("amount", "NUMERIC(10, 2)"), ("email", "TEXT")])
    assert fingerprint(OLD).startswith("sha256:")


def test_diff_reports_added_removed_retyped() -> None:
    new = [("id", "BIGINT"), ("amount", "NUMERIC(10, 2)"), ("country", "TEXT")]
    change = schema_diff(OLD, new)
    assert change == SchemaChange(added=("country",), removed=("email",), retyped=(("id", "integer", "bigint"),))
    assert change.changed and change.columns == {"country", "email", "id"}
    assert "retyped id (integer -> bigint)" in change.describe()
    assert not schema_diff(OLD, OLD).changed


def test_announced_changes_cover_only_listed_columns_from_their_date() -> None:
    change = schema_diff(OLD, [("id", "INTEGER"), ("amount", "NUMERIC(10, 2)"), ("phone", "TEXT")])
    ann = [Announcement(date(2026, 11, 1), "replace email by phone", ("email", "phone"))]
    assert is_announced(change, ann, NOW)
    assert not is_announced(change, [Announcement(date(2026, 12, 1), "later", ("email", "phone"))], NOW)
    assert not is_announced(change, [Announcement(date(2026, 11, 1), "partial", ("email",))], NOW)
    assert is_announced(change, [Announcement(date(2026, 11, 1), "whole table migration")], NOW)
    assert is_announced(SchemaChange(), [], NOW)


@pytest.mark.parametrize(
    "columns",
    ["id INTEGER", [("id",)], [("", "INT")], [("id", "")], [("id", "INT"), ("id", "TEXT")], None],
)
def test_bad_columns_raise_value_error(columns: object) -> None:
    with pytest.raises(ValueError):
        fingerprint(columns)  # type: ignore[arg-type]


def test_bad_announcement_inputs() -> None:
    with pytest.raises(ValueError, match="datetime"):
        is_announced(SchemaChange(added=("x",)), [], "today")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO date"):
        is_announced(SchemaChange(added=("x",)), [Announcement("soon", "x", ("x",))], NOW)  # type: ignore[arg-type]
