"""Form errors in plain words, by field: what the pages show beside each field when a form comes back.

Services raise one AppError whose `details` name each field; pydantic's messages in them ("String should match
pattern '^[a-z0-9]...'") are for developers. `field_errors` turns them into a field -> sentence map a person reads,
with the form's own hints for fields whose format needs explaining (e.g. a key's slug rule).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from takeoff.core.errors import AppError

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Field required$"), "is required"),
    (re.compile(r"^String should have at least 1 character"), "is required"),
    (re.compile(r"^String should have at least (\d+) characters"), r"needs at least \1 characters"),
    (re.compile(r"^String should have at most (\d+) characters"), r"must be at most \1 characters"),
    (re.compile(r"^String should match pattern"), "has the wrong format"),
    (re.compile(r"^Input should be a valid integer"), "must be a whole number"),
    (re.compile(r"^Input should be a valid number"), "must be a number"),
    (re.compile(r"^Input should be greater than or equal to (\S+)"), r"must be \1 or more"),
    (re.compile(r"^Input should be greater than (\S+)"), r"must be more than \1"),
    (re.compile(r"^Input should be less than or equal to (\S+)"), r"must be \1 or less"),
    (re.compile(r"^Input should be (('[^']*'(, | or )?)+)$"), r"choose one of \1"),
    (re.compile(r"^Input should be a valid date"), "must be a date (YYYY-MM-DD)"),
    (re.compile(r"^Extra inputs are not permitted"), "is not a field of this form"),
)


def plain(message: str) -> str:
    """A pydantic message in plain words (unchanged when it already is one)."""
    for rx, words in _RULES:
        m = rx.match(message)
        if m:
            return m.expand(words).replace("'", "")
    return message.removeprefix("Value error, ")


def field_errors(exc: AppError, hints: Mapping[str, str] | None = None, fields: Iterable[str] = ()) -> dict[str, str]:
    """Field -> plain message for every field an error names (the first message of each); a field with a hint
    (its format explained) shows the hint for a format error. Fields the form does not show go under "_form"."""
    known = set(fields)
    out: dict[str, str] = {}
    for d in getattr(exc, "details", None) or []:
        if not isinstance(d, Mapping):
            continue
        field = str(d.get("field") or "_form").split(".")[0]
        message = plain(str(d.get("message") or ""))
        if hints and field in hints and message in ("has the wrong format", "is required"):
            message = hints[field] if message != "is required" else message
        if known and field not in known:
            field, message = "_form", f"{field.replace('_', ' ')}: {message}"
        out.setdefault(field, message)
    if not out:
        out["_form"] = exc.message
    return out


def validation_errors(exc: ValidationError, fields: Iterable[str] = ()) -> dict[str, str]:
    """Field -> plain message for a pydantic ValidationError raised by a form's own model."""
    details = [{"field": ".".join(str(p) for p in e.get("loc", ())) or "_form", "message": str(e.get("msg", ""))}
               for e in exc.errors()]
    return field_errors(AppError("invalid input", details=details), fields=fields)


def merge(*maps: Mapping[str, Any]) -> dict[str, str]:
    """Several field -> message maps in one, the first message of a field kept."""
    out: dict[str, str] = {}
    for m in maps:
        for k, v in m.items():
            out.setdefault(k, str(v))
    return out
