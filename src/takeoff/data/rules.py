"""Validation of user-written SQL rules and measures: one read-only expression, nothing else.

A rule is text a data owner typed; it ends up inside our aggregate query. sqlglot parses it so that
what runs is exactly what was validated (we execute sqlglot's re-rendering, never the raw text).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot import TokenType

# Our dialect names -> sqlglot dialect names.
_SQLGLOT_DIALECT = {
    "postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite", "duckdb": "duckdb",
    "mysql": "mysql", "mariadb": "mysql",
}

MAX_RULE_LENGTH = 4000

# The one allow-list of functions a rule or measure may call: comparison, arithmetic, string, date and aggregate
# functions, by the lower-case name sqlglot gives them (its typed name, e.g. `str_position` for strpos/instr/position,
# or the name as written when sqlglot has no typed class). Anything else (pg_read_file, database_to_xml,
# current_setting, lo_import, dblink, read_csv, user-defined functions ...) is refused: a rule reads its own table's
# columns and nothing else.
ALLOWED_FUNCTIONS = frozenset(
    {
        # null handling and comparison
        "coalesce", "nullif", "greatest", "least",
        # arithmetic
        "abs", "round", "ceil", "floor", "trunc", "sqrt", "power", "sign", "ln", "log", "exp",
        # strings
        "length", "lower", "upper", "trim", "substring", "left", "right", "replace", "concat", "pad", "reverse",
        "str_position", "starts_with", "ends_with", "contains", "split_part", "regexp_like", "regexp_i_like",
        "regexp_replace", "regexp_extract", "regexp_matches", "typeof",
        # dates and times
        "current_date", "current_time", "current_timestamp", "localtimestamp", "now", "date", "datetime",
        "julianday", "strftime", "time_to_str", "ts_or_ds_to_timestamp", "ts_or_ds_to_date", "str_to_date",
        "str_to_time", "unix_to_time", "time_to_unix", "timestamp_trunc", "date_trunc", "extract", "date_part", "age",
        "date_add", "date_sub", "datediff", "date_diff", "unixepoch",
        # aggregates (measures)
        "count", "sum", "avg", "min", "max", "total", "stddev", "stddev_pop", "stddev_samp", "variance",
        "variance_pop",
    }
)

# Types a rule may cast to: scalar numbers, text, booleans and times; never a catalog type (regclass) or a
# user-defined one (a table's row type).
ALLOWED_CAST_TYPES = frozenset(
    getattr(exp.DataType.Type, name)
    for name in (
        "INT", "BIGINT", "SMALLINT", "TINYINT", "DECIMAL", "DOUBLE", "FLOAT", "TEXT", "VARCHAR", "CHAR", "NCHAR",
        "NVARCHAR", "BPCHAR", "BOOLEAN", "DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPLTZ",
        "TIMESTAMPNTZ", "DATETIME", "INTERVAL",
    )
    if hasattr(exp.DataType.Type, name)
)

# Syntax nodes (not function calls) a rule may contain; every other node type is refused.
_ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    getattr(exp, name)
    for name in (
        "Column", "Identifier", "Literal", "Boolean", "Null", "Paren", "Neg", "Not", "And", "Or", "Xor",
        "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "NullSafeEQ", "NullSafeNEQ", "Is", "In", "Between", "Like",
        "ILike", "SimilarTo", "Glob", "Escape", "Add", "Sub", "Mul", "Div", "IntDiv", "Mod", "DPipe",
        "Interval", "Var", "Star", "Distinct", "AtTimeZone", "DataType", "DataTypeParam",
    )
    if hasattr(exp, name)
)
# Function-shaped syntax judged by its parts (the branches, the cast's target type), not by a name.
_SYNTAX_FUNCS: tuple[type[exp.Expr], ...] = (exp.Case, exp.If, exp.Cast)

# Nodes that read a relation other than the rule's own row: subqueries, CTEs, joins, set operations, VALUES lists,
# table references and table functions.
_RELATION_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name)
    for name in (
        "Query", "Subquery", "SetOperation", "With", "CTE", "Join", "From", "Table", "Values", "Lateral",
        "Unnest", "Exists", "Any", "All", "TableAlias",
    )
    if hasattr(exp, name)
)

# Statement and side-effect nodes that must not appear anywhere inside an expression.
_WRITE_NODES: tuple[type[exp.Expr], ...] = tuple(
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
_BOOLEAN_NODES: tuple[type[exp.Expr], ...] = (
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


def _parse_single(text: str, dialect: str, what: str) -> exp.Expr:
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
    nodes = [p for p in parsed if p is not None]
    if len(nodes) != 1:
        raise ValueError(f"{what} must be exactly one expression, got {len(nodes)} statements")
    node = nodes[0]
    if isinstance(node, (exp.Query, *_WRITE_NODES)) and not isinstance(node, exp.Exists):
        raise ValueError(f"{what} is a statement ({type(node).__name__.upper()}), not an expression")
    return node


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _check_safe(node: exp.Expr, what: str) -> None:
    """Refuse write statements anywhere in the tree (named plainly, before the allow-list speaks)."""
    for sub in node.walk():
        if isinstance(sub, _WRITE_NODES):
            raise ValueError(f"{what} contains a {type(sub).__name__.upper()} statement: rules are read-only")
        if isinstance(sub, exp.Select) and sub.args.get("into") is not None:
            raise ValueError(f"{what} contains SELECT INTO: rules are read-only")
        if isinstance(sub, exp.Select) and sub.args.get("locks"):
            raise ValueError(f"{what} takes row locks (FOR UPDATE): rules are read-only")


class UnknownColumn(ValueError):
    """A rule names a column its table does not have: a fault of the data (or a typo), not a refusal."""


def _split(table: str) -> tuple[str | None, str]:
    parts = [p.strip().strip('"`[]') for p in table.strip().split(".")]
    return (parts[-2] if len(parts) >= 2 else None), parts[-1]


def _relation_names(node: exp.Expr, dialect: str) -> str:
    names = [t.sql(dialect=dialect) for t in node.find_all(exp.Table)]
    return ", ".join(dict.fromkeys(names)) if names else "another relation"


def _check_allowed(
    node: exp.Expr, what: str, dialect: str, table: str | None, columns: Sequence[str] | None
) -> None:
    """The allow-list: no other relation, only listed functions and casts, only `table`'s own columns.

    `table` is the source's declared table ('t' or 'schema.t'); `columns`, when given (at check time, from the
    catalog), are the columns that table has. Raises ValueError naming the first thing refused.
    """
    read = sqlglot_dialect(dialect)
    for sub in node.walk():
        if isinstance(sub, _RELATION_NODES):
            kind = ("a set operation (" + type(sub).__name__.upper() + ")" if isinstance(sub, exp.SetOperation)
                    else "a CTE (WITH)" if isinstance(sub, (exp.With, exp.CTE))
                    else "a join" if isinstance(sub, exp.Join) else "a subquery")
            raise ValueError(
                f"{what} contains {kind} reading {_relation_names(sub, read)}: a rule reads only its own table"
                + (f" {table}" if table else "") + ", row by row"
            )
    for sub in node.walk():
        if isinstance(sub, exp.Func) and not isinstance(sub, _SYNTAX_FUNCS) and type(sub) not in _ALLOWED_NODES:
            fn = _function_name(sub)
            if fn not in ALLOWED_FUNCTIONS:
                raise ValueError(
                    f"{what} calls {fn}(), which is not on the allow-list of functions a data-quality rule may call"
                )
        elif isinstance(sub, exp.Cast):
            to = sub.args.get("to")
            if not isinstance(to, exp.DataType) or to.this not in ALLOWED_CAST_TYPES or to.find(exp.Identifier):
                raise ValueError(f"{what} casts to {to.sql(dialect=read) if to else '?'}, which a rule may not use")
        elif isinstance(sub, (exp.Case, exp.If)):
            continue
        elif type(sub) not in _ALLOWED_NODES:
            raise ValueError(
                f"{what} contains {sub.sql(dialect=read)[:60]!r} ({type(sub).__name__}), "
                "which a data-quality rule may not use"
            )
    schema, name = _split(table) if table else (None, None)
    for col in node.find_all(exp.Column):
        parts = [p.name for p in col.parts[:-1]]  # the qualifiers: [catalog,] [schema,] table
        if parts and (
            name is None
            or len(parts) > 2
            or parts[-1].lower() != name.lower()
            or (len(parts) == 2 and (schema is None or parts[0].lower() != schema.lower()))
        ):
            raise ValueError(
                f"{what} reads {'.'.join(parts)}.{col.name}: a rule reads only its own table"
                + (f" {table}" if table else "")
            )
        if columns is not None and not isinstance(col.this, exp.Star):
            _resolve_column(col.name, columns, table)


def _resolve_column(name: str, columns: Sequence[str], table: str | None) -> str:
    """The table's own spelling of a column a rule names: exact, else the one equal ignoring case."""
    if name in columns:
        return name
    folded = [c for c in columns if c.lower() == name.lower()]
    if len(folded) != 1:
        raise UnknownColumn(f"column {name} does not exist in table {table}")
    return folded[0]


def _pin_columns(node: exp.Expr, columns: Sequence[str], table: str | None) -> exp.Expr:
    """Every column reference as the table's own column, quoted: the database then reads that column and never a
    keyword of the same name (PostgreSQL's `user` is current_user unless quoted)."""
    def pin(sub: exp.Expr) -> exp.Expr:
        if isinstance(sub, exp.Column) and not isinstance(sub.this, exp.Star):
            return exp.column(exp.to_identifier(_resolve_column(sub.name, columns, table), quoted=True))
        return sub

    return node.transform(pin)


def _unwrap(node: exp.Expr) -> exp.Expr:
    while isinstance(node, (exp.Paren, exp.Escape)):  # x LIKE 'a!%' ESCAPE '!' is the LIKE
        node = node.this
    return node


def _validated(
    text: str, dialect: str, what: str, table: str | None, columns: Sequence[str] | None
) -> tuple[exp.Expr, str]:
    """Parse, check and render `text`; the rendering (what runs) is parsed and checked again, so that nothing
    sqlglot adds when it renders escapes the allow-list."""
    node = _parse_single(text, dialect, what)
    _check_safe(node, what)
    _check_allowed(node, what, dialect, table, columns)
    runs = _pin_columns(node, columns, table) if columns is not None else node
    sql = runs.sql(dialect=sqlglot_dialect(dialect), comments=False)
    again = _parse_single(sql, dialect, what)
    _check_safe(again, what)
    _check_allowed(again, what, dialect, table, columns)
    return node, sql


def normalize_rule(
    expression: str, dialect: str, table: str | None = None, columns: Sequence[str] | None = None
) -> str:
    """Validate a boolean rule on `table` and return the SQL to run: sqlglot's rendering of what was validated.

    Without `table`, any table qualifier is refused; `columns` (the table's columns, when known) makes a rule that
    names another column an `UnknownColumn` error.
    """
    node, sql = _validated(expression, dialect, "rule", table, columns)
    top = _unwrap(node)
    is_bool_cast = isinstance(top, exp.Cast) and top.to.is_type(exp.DataType.Type.BOOLEAN)
    if not (isinstance(top, _BOOLEAN_NODES) or is_bool_cast):
        raise ValueError(
            f"rule {expression.strip()!r} is not a boolean expression: write a condition such as "
            "amount >= 0, status IN ('a', 'b'), email LIKE '%@%' or col IS NOT NULL"
        )
    return sql


def validate_rule(expression: str, dialect: str, table: str | None = None) -> None:
    """Raise ValueError unless `expression` is a single, read-only, boolean SQL expression on `table` alone."""
    normalize_rule(expression, dialect, table)


def normalize_measure(
    expression: str, dialect: str, table: str | None = None, columns: Sequence[str] | None = None
) -> str:
    """Validate a reconciliation measure (one read-only aggregate like sum(amount)) and return its SQL."""
    node, sql = _validated(expression, dialect, "measure", table, columns)
    if not any(isinstance(sub, exp.AggFunc) for sub in node.walk()):
        raise ValueError(
            f"measure {expression.strip()!r} is not an aggregate: write e.g. sum(amount) or count(*)"
        )
    return sql
