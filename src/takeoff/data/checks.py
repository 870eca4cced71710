"""Data-quality SLA checks, each run as SQL aggregates inside the source (DuckDB for files).

Over ~400 lines on purpose: each check kind beside its SQL aggregate and result, so freshness and completeness keep
sharing one query.

No check pulls rows into Python: freshness and completeness of a table share ONE aggregate query
(`count(*)`, `max(ts)`, `count(field)` ...), so the cost stays close to a bare `count(*)`; each rule
is `count(CASE WHEN rule THEN 1 END)`; a reconciliation is one aggregate on each side; schema
stability reads the catalog only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from takeoff.data import schema as schema_mod
from takeoff.data.connect import SourceConn, SourceError, open_source
from takeoff.data.rules import UnknownColumn, normalize_measure, normalize_rule

Status = Literal["pass", "breach", "error"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Freshness(_Spec):
    """The newest row (max of `column`) must be at most `max_age_s` seconds old."""

    kind: Literal["freshness"] = "freshness"
    column: str = Field(min_length=1)
    max_age_s: float = Field(gt=0)


class Completeness(_Spec):
    """Each required field's non-null rate must reach its minimum (0..1)."""

    kind: Literal["completeness"] = "completeness"
    fields: dict[str, float]

    @field_validator("fields")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("completeness needs at least one field")
        for name, rate in v.items():
            if not name or not (0.0 <= rate <= 1.0):
                raise ValueError(f"minimum non-null rate of {name!r} must be between 0 and 1")
        return v


class Rule(_Spec):
    """Accuracy proxy: the share of rows for which a boolean SQL expression holds must reach `min_share`."""

    kind: Literal["rule"] = "rule"
    name: str = Field(min_length=1)
    expression: str = Field(min_length=1)
    min_share: float = Field(default=1.0, ge=0.0, le=1.0)


class Reconciliation(_Spec):
    """Accuracy proxy: an aggregate here and in another source must agree within a tolerance.

    `other_source` is a key of `run_checks(..., others=)` or a URL/path opened for the check.
    With neither tolerance given the two figures must be equal.
    """

    kind: Literal["reconciliation"] = "reconciliation"
    name: str = Field(min_length=1)
    other_source: str = Field(min_length=1)
    other_table: str = Field(min_length=1)
    measure: str = Field(min_length=1)
    other_measure: str | None = None
    tolerance_abs: float | None = Field(default=None, ge=0)
    tolerance_rel: float | None = Field(default=None, ge=0)


class AnnouncedChange(_Spec):
    """A schema change announced ahead by the source owner."""

    date: date
    description: str = ""
    columns: tuple[str, ...] = ()


class Schema(_Spec):
    """Stability: the table's columns must match the expected ones, unless the change was announced."""

    kind: Literal["schema"] = "schema"
    expected_columns: tuple[tuple[str, str], ...] | None = None
    expected_fingerprint: str | None = None
    announced_changes: tuple[AnnouncedChange, ...] = ()

    @model_validator(mode="after")
    def _something_expected(self) -> Schema:
        if self.expected_columns is None and self.expected_fingerprint is None:
            raise ValueError("schema check needs expected_columns or expected_fingerprint")
        return self


CheckSpec = Annotated[Freshness | Completeness | Rule | Reconciliation | Schema, Field(discriminator="kind")]
_SPEC_LIST = TypeAdapter(list[CheckSpec])


class CheckResult(BaseModel):
    """Outcome of one check: pass, breach (the data misses the SLA) or error (the check could not run)."""

    kind: str
    name: str
    status: Status
    observed: dict[str, Any] = Field(default_factory=dict)
    threshold: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    duration_ms: float = 0.0


def parse_checks(raw: Iterable[Any]) -> list[CheckSpec]:
    """Typed specs from dicts (e.g. YAML) or spec objects; one readable ValueError on bad input."""
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable):
        raise ValueError("checks must be a list of check specs")
    try:
        return _SPEC_LIST.validate_python([r.model_dump() if isinstance(r, BaseModel) else r for r in raw])
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"invalid check spec at {where}: {err['msg']}") from None


def to_utc(value: Any) -> datetime | None:
    """Interpret a max(timestamp) as it comes back from any driver: datetime, date, ISO text or epoch."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)  # epoch in ms vs s
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        try:
            return to_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _resolve(name: str, columns: Sequence[tuple[str, str]]) -> str | None:
    """Actual column name for `name`: exact match first, else a unique case-insensitive one."""
    names = [c for c, _ in columns]
    if name in names:
        return name
    folded = [c for c in names if c.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 3)


def _result_names(spec: Any) -> list[tuple[str, str]]:
    if isinstance(spec, Freshness):
        return [("freshness", spec.column)]
    if isinstance(spec, Completeness):
        return [("completeness", f) for f in spec.fields]
    if isinstance(spec, Schema):
        return [("schema", "schema")]
    return [(spec.kind, spec.name)]


def _errors(spec: Any, reason: str, duration_ms: float = 0.0) -> list[CheckResult]:
    return [CheckResult(kind=k, name=n, status="error", reason=reason, duration_ms=duration_ms) for k, n in _result_names(spec)]


def run_checks(
    source: SourceConn,
    table: str,
    checks: Iterable[Any],
    now: datetime,
    *,
    others: Mapping[str, SourceConn] | None = None,
) -> list[CheckResult]:
    """Run the SLA checks against `table` of `source`; every fault becomes an `error` result, never an exception.

    Bad arguments (not a source, naive `now`, malformed specs) raise ValueError: they are caller bugs.
    """
    if not isinstance(source, SourceConn):
        raise ValueError("source must be a SourceConn from open_source()")
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    specs = parse_checks(checks)
    source.split_table(table)  # validates the name
    now = now.astimezone(UTC)

    t0 = time.perf_counter()
    try:
        columns = source.columns(table)
    except SourceError as e:
        elapsed = _ms(t0)
        return [r for s in specs for r in _errors(s, e.reason, elapsed)]

    results: dict[int, list[CheckResult]] = {}
    results.update(_freshness_completeness(source, table, specs, columns, now))
    for i, spec in enumerate(specs):
        if isinstance(spec, Rule):
            results[i] = [_rule(source, table, spec, [c for c, _ in columns])]
        elif isinstance(spec, Reconciliation):
            results[i] = [_reconcile(source, table, spec, others or {})]
        elif isinstance(spec, Schema):
            results[i] = [_schema(spec, columns, now)]
    return [r for i in range(len(specs)) for r in results.get(i, [])]


def _freshness_completeness(
    source: SourceConn, table: str, specs: Sequence[Any], columns: Sequence[tuple[str, str]], now: datetime
) -> dict[int, list[CheckResult]]:
    """Freshness and completeness of every spec in ONE aggregate scan of the table."""
    selects = ["count(*) AS n"]
    aliases: dict[tuple[int, str], str] = {}  # (spec index, requested column) -> result alias
    for i, spec in enumerate(specs):
        wanted = [spec.column] if isinstance(spec, Freshness) else list(spec.fields) if isinstance(spec, Completeness) else []
        for name in wanted:
            col = _resolve(name, columns)
            if col is None:
                continue
            alias = f"a{len(aliases)}"
            func = "max" if isinstance(spec, Freshness) else "count"
            selects.append(f"{func}({source.quote(col)}) AS {alias}")
            aliases[(i, name)] = alias
    row: dict[str, Any] = {}
    failure: str | None = None
    elapsed = 0.0
    if aliases:
        t0 = time.perf_counter()
        try:
            row = source.aggregate(f"SELECT {', '.join(selects)} FROM {source.quote_table(table)}", table=table)
        except SourceError as e:
            failure = e.reason
        elapsed = _ms(t0)
    n = int(row.get("n") or 0)

    def one(i: int, kind: str, name: str, spec: Any) -> CheckResult:
        alias = aliases.get((i, name))
        if alias is None:
            return CheckResult(kind=kind, name=name, status="error", reason=f"column {name} does not exist in table {table}")
        if failure is not None:
            return CheckResult(kind=kind, name=name, status="error", reason=failure, duration_ms=elapsed)
        if kind == "freshness":
            return _freshness_result(spec, row.get(alias), n, now, elapsed, table)
        return _completeness_result(name, spec.fields[name], row.get(alias), n, elapsed)

    out: dict[int, list[CheckResult]] = {}
    for i, spec in enumerate(specs):
        if isinstance(spec, Freshness):
            out[i] = [one(i, "freshness", spec.column, spec)]
        elif isinstance(spec, Completeness):
            out[i] = [one(i, "completeness", f, spec) for f in spec.fields]
    return out


def _freshness_result(spec: Freshness, raw: Any, n: int, now: datetime, elapsed: float, table: str) -> CheckResult:
    threshold = {"max_age_s": spec.max_age_s}
    if n == 0 or raw is None:
        why = "table is empty" if n == 0 else f"column {spec.column} is NULL in every row"
        return CheckResult(
            kind="freshness", name=spec.column, status="breach", observed={"rows": n, "latest": None},
            threshold=threshold, reason=f"{why}: no timestamp to measure freshness", duration_ms=elapsed,
        )
    latest = to_utc(raw)
    if latest is None:
        return CheckResult(
            kind="freshness", name=spec.column, status="error", observed={"rows": n}, threshold=threshold,
            reason=f"column {spec.column} in table {table} does not hold timestamps (latest value {str(raw)[:40]!r})",
            duration_ms=elapsed,
        )
    age = (now - latest).total_seconds()
    ok = age <= spec.max_age_s
    note = " (latest timestamp is in the future: clock skew?)" if age < 0 else ""
    return CheckResult(
        kind="freshness", name=spec.column, status="pass" if ok else "breach",
        observed={"rows": n, "latest": latest.isoformat(), "age_s": round(age, 3)}, threshold=threshold,
        reason=(f"newest row is {_human(age)} old, SLA {_human(spec.max_age_s)}" + note)
        + ("" if ok else f": stale by {_human(age - spec.max_age_s)}"),
        duration_ms=elapsed,
    )


def _completeness_result(field: str, min_rate: float, non_null: Any, n: int, elapsed: float) -> CheckResult:
    threshold = {"min_rate": min_rate}
    if n == 0:
        return CheckResult(
            kind="completeness", name=field, status="breach", observed={"rows": 0}, threshold=threshold,
            reason="table is empty: completeness cannot be shown", duration_ms=elapsed,
        )
    nn = int(non_null or 0)
    rate = nn / n
    ok = rate >= min_rate
    return CheckResult(
        kind="completeness", name=field, status="pass" if ok else "breach",
        observed={"rows": n, "non_null": nn, "rate": round(rate, 6)}, threshold=threshold,
        reason=f"{rate:.2%} of {n} rows have {field}, minimum {min_rate:.2%}", duration_ms=elapsed,
    )


def _rule(source: SourceConn, table: str, spec: Rule, columns: Sequence[str]) -> CheckResult:
    t0 = time.perf_counter()
    threshold = {"min_share": spec.min_share, "expression": spec.expression}
    try:
        # Checked against the table's own columns before anything runs: a rule reads that table and nothing else.
        sql_expr = normalize_rule(spec.expression, source.dialect, table, columns)
    except UnknownColumn as e:
        return CheckResult(kind="rule", name=spec.name, status="error", threshold=threshold, reason=str(e), duration_ms=_ms(t0))
    except ValueError as e:
        return CheckResult(kind="rule", name=spec.name, status="error", threshold=threshold, reason=f"refused: {e}", duration_ms=_ms(t0))
    # NULL counts as "not satisfied": an unknown value is not evidence of accuracy.
    sql = (
        f"SELECT count(*) AS n, count(CASE WHEN ({source.escape_text(sql_expr)}) THEN 1 END) AS ok "
        f"FROM {source.quote_table(table)}"
    )
    try:
        row = source.aggregate(sql, table=table)
    except SourceError as e:
        return CheckResult(kind="rule", name=spec.name, status="error", threshold=threshold, reason=e.reason, duration_ms=_ms(t0))
    n, ok = int(row.get("n") or 0), int(row.get("ok") or 0)
    if n == 0:
        return CheckResult(
            kind="rule", name=spec.name, status="breach", observed={"rows": 0}, threshold=threshold,
            reason="table is empty: the rule cannot be shown to hold", duration_ms=_ms(t0),
        )
    share = ok / n
    return CheckResult(
        kind="rule", name=spec.name, status="pass" if share >= spec.min_share else "breach",
        observed={"rows": n, "satisfied": ok, "share": round(share, 6)}, threshold=threshold,
        reason=f"{share:.2%} of {n} rows satisfy {sql_expr}, minimum {spec.min_share:.2%}", duration_ms=_ms(t0),
    )


def _measure(source: SourceConn, table: str, expression: str) -> float | None:
    columns = [c for c, _ in source.columns(table)]
    try:
        sql_expr = normalize_measure(expression, source.dialect, table, columns)
    except UnknownColumn as e:
        raise SourceError(str(e)) from None
    row = source.aggregate(f"SELECT {source.escape_text(sql_expr)} AS m FROM {source.quote_table(table)}", table=table)
    value = row.get("m")
    return None if value is None else float(value)


def _reconcile(source: SourceConn, table: str, spec: Reconciliation, others: Mapping[str, SourceConn]) -> CheckResult:
    t0 = time.perf_counter()
    threshold = {"tolerance_abs": spec.tolerance_abs, "tolerance_rel": spec.tolerance_rel, "measure": spec.measure}

    def err(reason: str) -> CheckResult:
        return CheckResult(kind="reconciliation", name=spec.name, status="error", threshold=threshold, reason=reason, duration_ms=_ms(t0))

    opened: SourceConn | None = None
    try:
        here = _measure(source, table, spec.measure)
        other = others.get(spec.other_source)
        if other is None:
            opened = other = open_source(spec.other_source)
        try:
            there = _measure(other, spec.other_table, spec.other_measure or spec.measure)
        except SourceError as e:  # say which side failed: the owner must know where to look
            return err(f"other side {spec.other_source}: {e.reason}")
    except SourceError as e:
        return err(e.reason)
    except ValueError as e:
        return err(f"refused: {e}")
    finally:
        if opened is not None:
            opened.close()
    if here is None or there is None:
        return CheckResult(
            kind="reconciliation", name=spec.name, status="breach", observed={"here": here, "other": there},
            threshold=threshold, reason="one side has no value (empty table or all NULL)", duration_ms=_ms(t0),
        )
    diff = abs(here - there)
    rel = diff / max(abs(here), abs(there)) if max(abs(here), abs(there)) > 0 else 0.0
    limits = []
    if spec.tolerance_abs is not None:
        limits.append(diff <= spec.tolerance_abs)
    if spec.tolerance_rel is not None:
        limits.append(rel <= spec.tolerance_rel)
    ok = any(limits) if limits else diff == 0  # within either tolerance given
    return CheckResult(
        kind="reconciliation", name=spec.name, status="pass" if ok else "breach",
        observed={"here": here, "other": there, "diff": diff, "rel_diff": round(rel, 9)}, threshold=threshold,
        reason=f"{spec.measure} is {here:g} here and {there:g} in {spec.other_table}: difference {diff:g} ({rel:.4%})",
        duration_ms=_ms(t0),
    )


def _schema(spec: Schema, columns: Sequence[tuple[str, str]], now: datetime) -> CheckResult:
    t0 = time.perf_counter()
    actual_fp = schema_mod.fingerprint(columns)
    observed: dict[str, Any] = {"fingerprint": actual_fp, "columns": [list(c) for c in columns]}
    threshold: dict[str, Any] = {"fingerprint": spec.expected_fingerprint}
    announcements = [schema_mod.Announcement(a.date, a.description, a.columns) for a in spec.announced_changes]
    if spec.expected_columns is not None:
        threshold["fingerprint"] = schema_mod.fingerprint(spec.expected_columns)
        change = schema_mod.schema_diff(spec.expected_columns, columns)
        observed.update(added=list(change.added), removed=list(change.removed), retyped=[list(r) for r in change.retyped])
        if not change.changed:
            return CheckResult(kind="schema", name="schema", status="pass", observed=observed, threshold=threshold,
                               reason="schema unchanged", duration_ms=_ms(t0))
        if schema_mod.is_announced(change, announcements, now):
            return CheckResult(kind="schema", name="schema", status="pass", observed=observed, threshold=threshold,
                               reason=f"announced change: {change.describe()}", duration_ms=_ms(t0))
        return CheckResult(kind="schema", name="schema", status="breach", observed=observed, threshold=threshold,
                           reason=f"unannounced schema change: {change.describe()}", duration_ms=_ms(t0))
    if actual_fp == spec.expected_fingerprint:
        return CheckResult(kind="schema", name="schema", status="pass", observed=observed, threshold=threshold,
                           reason="schema unchanged", duration_ms=_ms(t0))
    # Only a fingerprint to compare: a blanket announcement (no columns) is the only one that can cover it.
    due = [a for a in announcements if a.date <= now.date() and not a.columns]
    status: Status = "pass" if due else "breach"
    return CheckResult(kind="schema", name="schema", status=status, observed=observed, threshold=threshold,
                       reason=("announced change: " + due[0].description) if due else
                       "schema fingerprint changed (no expected column list to say which columns)", duration_ms=_ms(t0))


def _human(seconds: float) -> str:
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}min"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


__all__ = [
    "AnnouncedChange", "CheckResult", "CheckSpec", "Completeness", "Freshness", "Reconciliation", "Rule",
    "Schema", "parse_checks", "run_checks", "to_utc",
]
