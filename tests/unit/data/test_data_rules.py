"""Rule validation: one read-only boolean expression, refused otherwise with a clear message."""

from __future__ import annotations

import pytest

from takeoff.data.rules import normalize_measure, normalize_rule, validate_rule


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite", "duckdb"])
@pytest.mark.parametrize(
    "expression",
    [
        "amount >= 0",
        "status IN ('open', 'closed')",
        "amount BETWEEN 0 AND 1000",
        "email IS NOT NULL AND email LIKE '%@%'",
        "NOT (amount < 0) OR refunded",
        "(amount > 0)",
        "coalesce(discount, 0) <= amount",
        "TRUE",
    ],
)
def test_boolean_expressions_accepted(expression: str, dialect: str) -> None:
    validate_rule(expression, dialect)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("amount >= 0; DROP TABLE x", "';'"),
        ("amount >= 0;", "';'"),
        ("(DELETE FROM x)", "DELETE"),
        ("amount", "not a boolean expression"),
        ("amount + 1", "not a boolean expression"),
        ("upper(name)", "not a boolean expression"),
        ("DROP TABLE x", "DROP"),
        ("SELECT 1", "statement"),
        ("UPDATE x SET a = 1", "UPDATE"),
        ("a IN (SELECT id FROM t FOR UPDATE)", "UPDATE"),
        ("a IN (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d)", "DELETE"),
        ("pg_sleep(10) IS NULL", "pg_sleep"),
        ("pg_read_file('/etc/passwd') IS NOT NULL", "pg_read_file"),
        ("nextval('s') > 0", "nextval"),
        ("customer_id IN (SELECT id FROM customers)", "subquery reading customers"),
        ("", "empty"),
        ("   ", "empty"),
        ("amount >= (", "not a valid SQL expression"),
        ("x" * 5000 + " > 1", "too long"),
    ],
)
def test_unsafe_or_non_boolean_refused(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=None) as e:
        validate_rule(expression, "postgresql")
    assert message in str(e.value)


def test_comments_stripped_and_identifiers_kept() -> None:
    assert normalize_rule('"Amount" >= 0 -- note', "postgresql") == '"Amount" >= 0'


def test_bad_dialect_and_type() -> None:
    with pytest.raises(ValueError, match="unsupported dialect"):
        validate_rule("a > 1", "oracle-ish")
    with pytest.raises(ValueError, match="empty"):
        validate_rule(None, "sqlite")  # type: ignore[arg-type]


def test_measures_must_be_aggregates() -> None:
    assert normalize_measure("sum(amount)", "sqlite") == "SUM(amount)"
    assert normalize_measure("count(*)", "postgresql") == "COUNT(*)"
    with pytest.raises(ValueError, match="not an aggregate"):
        normalize_measure("amount", "sqlite")
    with pytest.raises(ValueError, match="';'"):
        normalize_measure("sum(amount); DROP TABLE x", "sqlite")
