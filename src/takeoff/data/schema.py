"""Schema stability: a fingerprint of a table's columns and the diff between two column sets.

A schema change (added, removed or retyped column) is what silently breaks downstream prompts and
features; a change that its owner announced ahead (with a date) is expected and does not alert.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

Column = tuple[str, str]


@dataclass(frozen=True)
class SchemaChange:
    """Columns added, removed and retyped (name, old type, new type) between two schemas."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    @property
    def columns(self) -> frozenset[str]:
        """Every column name the change touches."""
        return frozenset(self.added) | frozenset(self.removed) | frozenset(r[0] for r in self.retyped)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.retyped:
            parts.append("retyped " + ", ".join(f"{n} ({a} -> {b})" for n, a, b in self.retyped))
        return "; ".join(parts) or "no change"


@dataclass(frozen=True)
class Announcement:
    """A schema change announced by the source owner: from `date` on, changes to `columns` are expected.

    An empty `columns` tuple announces a change to any column of the table.
    """

    date: date
    description: str
    columns: tuple[str, ...] = field(default_factory=tuple)


def normalize_type(type_name: str) -> str:
    """Canonical spelling of a column type so cosmetic differences (case, spaces) do not alert."""
    return re.sub(r"\s+", " ", str(type_name)).strip().lower()


def _columns(columns: Iterable[Sequence[str]], what: str) -> dict[str, str]:
    if isinstance(columns, (str, bytes)) or columns is None:
        raise ValueError(f"{what} must be a list of (name, type) pairs")
    out: dict[str, str] = {}
    for item in columns:
        if isinstance(item, (str, bytes)) or len(item) != 2:
            raise ValueError(f"{what}: each column must be a (name, type) pair, got {item!r}")
        name, type_name = item
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: column name must be a non-empty string, got {name!r}")
        if not isinstance(type_name, str) or not type_name.strip():
            raise ValueError(f"{what}: column {name!r} has no type")
        if name in out:
            raise ValueError(f"{what}: column {name!r} appears twice")
        out[name] = normalize_type(type_name)
    return out


def fingerprint(columns: Iterable[Sequence[str]]) -> str:
    """SHA-256 over the sorted (name, type) pairs; independent of column order and type spelling."""
    cols = _columns(columns, "columns")
    text = "\n".join(f"{name}\t{cols[name]}" for name in sorted(cols))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def schema_diff(old: Iterable[Sequence[str]], new: Iterable[Sequence[str]]) -> SchemaChange:
    """Columns added, removed and retyped going from `old` to `new`."""
    a = _columns(old, "old columns")
    b = _columns(new, "new columns")
    return SchemaChange(
        added=tuple(sorted(set(b) - set(a))),
        removed=tuple(sorted(set(a) - set(b))),
        retyped=tuple(sorted((n, a[n], b[n]) for n in set(a) & set(b) if a[n] != b[n])),
    )


def _as_date(value: date | datetime | str, what: str) -> date:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an ISO date (YYYY-MM-DD)") from None
    raise ValueError(f"{what} must be a date, got {type(value).__name__}")


def is_announced(change: SchemaChange, announcements: Iterable[Announcement], now: datetime) -> bool:
    """True when every changed column is covered by an announcement dated on or before `now`.

    An announcement dated in the future does not cover a change that already happened: the change
    came earlier than promised, which consumers were not told to expect.
    """
    if not isinstance(change, SchemaChange):
        raise ValueError("change must be a SchemaChange")
    if not isinstance(now, datetime):
        raise ValueError("now must be a datetime")
    if not change.changed:
        return True
    today = _as_date(now, "now")
    due = [a for a in announcements if _as_date(a.date, "announcement date") <= today]
    if any(not a.columns for a in due):
        return True
    covered = frozenset(c for a in due for c in a.columns)
    return change.columns <= covered
