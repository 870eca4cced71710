"""Pure edge logic of ingestion and metric queries: normalise events, refuse late ones, parse times and steps."""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


MAX_RELEASE_ID = 100  # the width of telemetry_events.release (PostgreSQL refuses a longer value)
FUTURE_SKEW_S = 3600  # a client clock this far ahead is wrong; its events would land in buckets not yet shown
_STEP = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def release_key(use_case: str, release: str | None) -> str:
    """The release id stored with an event: "<use case>:<version>" (a bare version is qualified), "" for none."""
    if release is None or release == "":
        return ""
    release = str(release)
    if release.isdigit():
        return f"{use_case}:{release}"
    return release


def normalize_batch(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated events (plain dicts from schemas.EVENT_BATCH) with release ids qualified and zero tokens dropped."""
    for ev in events:
        ev["release"] = release_key(ev["use_case"], ev.get("release"))
        ev["tokens"] = {k: v for k, v in (ev.get("tokens") or {}).items() if v}
    return events


def normalize_drops(dropped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated drop reports (schemas.DropIn dicts) with release ids qualified as events' are."""
    for d in dropped:
        d["release"] = release_key(d["use_case"], d.get("release"))
    return dropped


NESTED_FIELDS = ("tokens", "scores", "features", "attributes")  # an event's objects of named entries
EVENT_TEXT_FIELDS = ("id", "use_case", "release", "unit_id", "model", "provider", "error_category", "fallback_reason")
DROP_TEXT_FIELDS = ("use_case", "release", "reason")


def nul_errors(items: Sequence[dict[str, Any]], what: str, fields: Sequence[str]) -> list[dict[str, str]]:
    """Details naming each text field that holds a NUL character: PostgreSQL's text columns cannot store one (it was
    a 500 there), so both backends refuse it. JSON-stored parts (attributes, scores, features) keep theirs escaped."""
    return [{"field": f"{what}.{i}.{f}", "message": "must not contain a NUL character (\\u0000)"}
            for i, item in enumerate(items) for f in fields if isinstance(item.get(f), str) and "\x00" in item[f]]


def release_errors(events: Sequence[dict[str, Any]], what: str = "events") -> list[dict[str, str]]:
    """Details naming each normalised event (or drop report) whose qualified release id ("<use case>:<version>") is
    too long to store."""
    return [{"field": f"{what}.{i}.release",
             "message": f"release id '{ev['release'][:40]}…' is longer than {MAX_RELEASE_ID} characters"}
            for i, ev in enumerate(events) if len(ev["release"]) > MAX_RELEASE_ID]


def timing_errors(events: Sequence[dict[str, Any]], now_s: float, late_s: int) -> list[dict[str, str]]:
    """Details naming each event older than the allowed lateness or too far in the future (empty when all fit)."""
    out: list[dict[str, str]] = []
    for i, ev in enumerate(events):
        ts = float(ev["ts"])
        if ts < now_s - late_s:
            out.append({"field": f"events.{i}.ts", "message": f"event is later than the allowed lateness of {late_s} s"})
        elif ts > now_s + FUTURE_SKEW_S:
            out.append({"field": f"events.{i}.ts", "message": "event time is more than an hour in the future"})
    return out


def parse_time(value: str | float | int, name: str) -> datetime:
    """A query time given as ISO 8601 or Unix seconds, as an aware UTC datetime; ValueError naming the parameter."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_unix(float(value), name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{name}' must be an ISO 8601 time or Unix seconds")
    text = value.strip()
    try:
        return _from_unix(float(text), name)
    except ValueError as exc:
        if "out of range" in str(exc):
            raise
    try:
        dt = datetime.fromisoformat(re.sub(r" (\d\d:?\d\d)$", r"+\1", text))  # '+' decoded as a space
    except ValueError:
        raise ValueError(f"'{name}' must be an ISO 8601 time or Unix seconds, got {value!r}") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _from_unix(x: float, name: str) -> datetime:
    if not math.isfinite(x) or not 0 <= x < 253402300800:
        raise ValueError(f"'{name}' Unix seconds out of range")
    return datetime.fromtimestamp(x, UTC)


def parse_step(value: str | int | None, default: int = 60) -> int:
    """A step in seconds from "300", "5m", "1h" or "1d" (at least 60 s, a whole number of minutes)."""
    if value is None or value == "":
        return default
    m = _STEP.match(str(value))
    if not m:
        raise ValueError(f"'step' must be seconds or a duration such as 5m, 1h, 1d; got {value!r}")
    step = int(m.group(1)) * _UNITS[m.group(2)]
    if step < 60 or step % 60:
        raise ValueError("'step' must be a whole number of minutes, at least 60 s (rollups are per minute)")
    if step > 366 * 86400:
        raise ValueError("'step' must be at most one year")
    return step
