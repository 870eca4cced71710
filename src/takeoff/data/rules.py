"""Validation of user-written SQL rules and measures: one read-only expression, nothing else.

A rule is text a data owner typed; it ends up inside our aggregate query. sqlglot parses it so that
what runs is exactly what was validated (we execute sqlglot's re-rendering, never the raw text).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

# Our dialect names -> sqlglot dialect names.
_SQLGLOT_DIALECT = {
    "postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite", "duckdb": "duckdb",
    "mysql": "mysql", "mariadb": "mysql",
}

MAX_RULE_LENGTH = 4000

# Functions that sleep, touch files or the network, change settings or sequences, or signal other
# sessions: none belongs in a data-quality rule, and a read-only transaction does not stop all of them.
DENIED_FUNCTIONS = frozenset(
    {
        "sleep", "pg_sleep", "pg_sleep_for", "pg_sleep_until", "pg_read_file", "pg_read_binary_file",
        "pg_ls_dir", "pg_stat_file", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
        "pg_rotate_logfile", "pg_notify", "set_config", "nextval", "setval", "currval", "lo_import",
        "lo_export", "lo_unlink", "dblink", "dblink_exec", "query_to_xml", "query_to_json",
        "load_extension", "readfile", "writefile", "randomblob", "zeroblob", "edit", "fts3_tokenizer",
        "glob_files", "read_csv", "read_csv_auto", "read_parquet", "read_json", "read_json_auto",
        "read_text", "read_blob", "parquet_scan", "sniff_csv", "getenv", "current_setting", "system",
        "shell", "http_get", "http_post", "copy",
    }
)
_DENIED_PREFIXES = ("pg_", "lo_", "dblink", "read_", "http", "xp_")

# Statement and side-effect nodes that must not appear anywhere inside an expression.
_WRITE_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "Insert", "Update", "Delete", "Merge", "Drop", "Create", "Alter", "TruncateTable", "Command",
        "Copy", "Grant", "Revoke", "Set", "Transaction", "Commit", "Rollback", "Pragma", "Use", "Into",
        "Lock", "Attach", "Detach", "Install", "Load", "Analyze", "Describe", "Summarize", "Cache",
        "Uncache", "Refresh", "Kill", "Execute", "Export",
    )
    if hasattr(exp, name)
)

# Keywords that only begin or belong to statements; caught before parsing so the message is plain.
_WRITE_TOKENS = frozenset(
    getattr(TokenType, name)
    for name in (
        "INSERT", "UPDATE", "DELETE", "DROP", "CREATE", "ALTER", "TRUNCATE", "MERGE", "GRANT", "REVOKE",
        "COPY", "COMMAND", "PRAGMA", "INTO", "ATTACH", "DETACH", "EXECUTE", "LOCK", "COMMIT", "ROLLBACK",
        "INSTALL",
    )
    if hasattr(TokenType, name)
)

# Top-level node types that yield a boolean.
_BOOLEAN_NODES: tuple[type[exp.Expression], ...] = (
    exp.Predicate,  # comparisons, IN, BETWEEN, IS, LIKE, ILIKE, regexp match, EXISTS ...
    exp.Connector,  # AND, OR, XOR
    exp.Not,
    exp.Boolean,
)


def sqlglot_dialect(dialect: str) -> str:
    """Map a SQLAlchemy/our dialect name to sqlglot's; refuse unknown ones so rules never run unparsed."""
    if not isinstance(dialect, str) or dialect.lower() not in _SQLGLOT_DIALECT:
        raise ValueError(f"unsupported dialect {dialect!r}: expected one of postgresql, sqlite, duckdb, mysql")
    return _SQLGLOT_DIALECT[dialect.lower()]


def _parse_single(text: str, dialect: str, what: str) -> exp.Expression:
    """Parse `text` as exactly one expression, refusing statement separators and empty input."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what} is empty: write one SQL expression, e.g. amount >= 0")
    if len(text) > MAX_RULE_LENGTH:
        raise ValueError(f"{what} is too long ({len(text)} characters, at most {MAX_RULE_LENGTH})")
    read = sqlglot_dialect(dialect)
    try:
        tokens = sqlglot.Dialect.get_or_raise(read).tokenize(text)
    except TokenError as e:
        raise ValueError(f"{what} is not valid SQL: {e}") from None
    if any(t.token_type == TokenType.SEMICOLON for t in tokens):
        raise ValueError(f"{what} contains ';': a rule is one expression, never several statements")
    for t in tokens:
        if t.token_type in _WRITE_TOKENS:
            raise ValueError(
                f"{what} contains {t.text.upper()!r}: rules are read-only expressions, never statements"
            )
    try:
        parsed = sqlglot.parse(text, read=read)
    except (ParseError, TokenError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{what} is not a valid SQL expression ({first})") from None
    parsed = [p for p in parsed if p is not None]
    if len(parsed) != 1:
        raise ValueError(f"{what} must be exactly one expression, got {len(parsed)} statements")
    node = parsed[0]
    if isinstance(node, (exp.Query, *_WRITE_NODES)) and not isinstance(node, exp.Exists):
        raise ValueError(f"{what} is a statement ({type(node).__name__.upper()}), not an expression")
    return node


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _check_safe(node: exp.Expression, what: str) -> None:
    """Refuse write statements and denied functions anywhere in the tree."""
    for sub in node.walk():
        if isinstance(sub, _WRITE_NODES):
            raise ValueError(f"{what} contains a {type(sub).__name__.upper()} statement: rules are read-only")
        if isinstance(sub, exp.Select) and sub.args.get("into") is not None:
            raise ValueError(f"{what} contains SELECT INTO: rules are read-only")
        if isinstance(sub, exp.Select) and sub.args.get("locks"):
            raise ValueError(f"{what} takes row locks (FOR UPDATE): rules are read-only")
        if isinstance(sub, exp.Func):
            name = _function_name(sub)
            if name in DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
                raise ValueError(f"{what} calls {name}(), which is not allowed in a data-quality rule")


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def normalize_rule(expression: str, dialect: str) -> str:
    """Validate a boolean rule and return the SQL to run: sqlglot's rendering of what was validated."""
    node = _parse_single(expression, dialect, "rule")
    _check_safe(node, "rule")
    top = _unwrap(node)
    is_bool_cast = isinstance(top, exp.Cast) and top.to.is_type(exp.DataType.Type.BOOLEAN)
    if not (isinstance(top, _BOOLEAN_NODES) or is_bool_cast):
        raise ValueError(
            f"rule {expression.strip()!r} is not a boolean expression: write a condition such as "
            "amount >= 0, status IN ('a', 'b'), email LIKE '%@%' or col IS NOT NULL"
        )
    return node.sql(dialect=sqlglot_dialect(dialect), comments=False)


def validate_rule(expression: str, dialect: str) -> None:
    """Raise ValueError unless `expression` is a single, read-only, boolean SQL expression."""
    normalize_rule(expression, dialect)


def normalize_measure(expression: str, dialect: str) -> str:
    """Validate a reconciliation measure (one read-only aggregate like sum(amount)) and return its SQL."""
    node = _parse_single(expression, dialect, "measure")
    _check_safe(node, "measure")
    if not any(isinstance(sub, exp.AggFunc) for sub in node.walk()):
        raise ValueError(
            f"measure {expression.strip()!r} is not an aggregate: write e.g. sum(amount) or count(*)"
        )
    return node.sql(dialect=sqlglot_dialect(dialect), comments=False)
