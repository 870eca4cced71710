"""Bounded input types shared by every domain's schemas and routes: what a column can hold is checked at the edge.

An unbounded `int` let 2**63 reach SQLite (OverflowError) and 2**31 reach PostgreSQL's INTEGER columns, a NUL
character reached PostgreSQL's text columns, a Unix time of 1e12 overflowed `datetime`: each was a 500. These types
make each a 422 naming the field, and the OpenAPI document states the bounds.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from takeoff.core.errors import Invalid

INT32_MAX = 2**31 - 1  # PostgreSQL INTEGER (every id and count column but telemetry's BigInteger ones)
MAX_UNIX_S = 253402300799.0  # 9999-12-31T23:59:59Z, the last second Python's datetime holds
NUL = "\x00"

Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A non-negative number stored in an INTEGER column."""
Id = Annotated[int, Path(ge=1, le=INT32_MAX)]
"""A row id in a URL path (ids are INTEGER columns; 0 and negatives name nothing)."""
Id32 = Annotated[int, Field(ge=1, le=INT32_MAX)]
"""A row id or version number in a body or query."""


def _utc_in_range(value: datetime) -> datetime:
    """An aware time must stay within years 1-9999 once in UTC (stored times are UTC); `9999-12-31T23:00-05:00`
    overflowed the conversion (a 500). The value is kept as given: naive times are each service's to read."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range once converted to UTC (years 1-9999)") from None
    return value


BoundedDateTime = Annotated[datetime, AfterValidator(_utc_in_range)]
"""An ISO-8601 time that converts to UTC without overflowing."""
UnixTime = Annotated[float, Field(gt=0, le=MAX_UNIX_S, allow_inf_nan=False,
                                  description="Unix seconds, up to 9999-12-31T23:59:59Z")]


def nul_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where a NUL character sits in a JSON-like value (string values and object keys, however deep)."""
    found: list[tuple[str | int, ...]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [(path, value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, str):
            if NUL in v:
                found.append(where)
        elif isinstance(v, dict):
            for k, item in v.items():
                if isinstance(k, str) and NUL in k:
                    found.append((*where, k))
                stack.append(((*where, k), item))
        elif isinstance(v, list):
            stack.extend(((*where, i), item) for i, item in enumerate(v))
    return found


def _no_nul_json(value: Any) -> Any:
    bad = nul_paths(value)
    if bad:
        raise ValueError(f"must not contain a NUL character (\\u0000), at {'.'.join(map(str, bad[0])) or 'the top'}")
    return value


def _finite_json(value: Any) -> Any:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must hold finite numbers only")
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_no_nul_json), AfterValidator(_finite_json)]
"""A free JSON object stored or read as given: no NUL in any string, no NaN or Infinity."""


class Input(BaseModel):
    """Base of request bodies: unknown fields refused, and no NUL character anywhere in the body's strings (free
    JSON fields included), so no text reaches a column PostgreSQL cannot store it in."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _no_nul_json(data)
        return data


class Output(BaseModel):
    """Base of response models: the fields they declare are documented in /openapi.json and checked on the way out;
    a field a service returns that its model does not (yet) declare still reaches the client, never dropped."""

    model_config = ConfigDict(extra="allow")


MAX_JSON_DEPTH = 64  # far above any takeoff document (frameworks, eval specs, attributes nest a few levels)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON body nests arrays/objects deeper than `limit`, checked before anything parses it.

    The brackets' running depth bounds the real depth from above (brackets inside strings only add to it), so most
    bodies are cleared by one C-speed pass; only a body over the bound is parsed (pydantic-core stops at its own
    recursion limit, which also counts as too deep) and measured exactly."""
    import numpy as np
    import pydantic_core

    brackets = body.translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    steps = np.frombuffer(brackets, np.uint8)
    depth = np.cumsum(np.where((steps == 91) | (steps == 123), 1, -1), dtype=np.int64)
    if int(depth.max()) <= limit:
        return False
    try:
        value = pydantic_core.from_json(body)
    except ValueError as exc:
        return "recursion limit" in str(exc)  # malformed JSON is the parser's to refuse (400)
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            if d > limit:
                return True
            stack.extend((item, d + 1) for item in (v.values() if isinstance(v, dict) else v))
    return False


JsonBody = Annotated[JsonObject, Body()]
"""A route's whole JSON-object body, checked as JsonObject (the services validate its fields)."""


def text_body(*media_types: str, json_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """`openapi_extra` of a route that reads its raw body: the text media types it takes (and, with `json_fields`,
    a JSON object carrying that text), so the document says what to send."""
    content: dict[str, Any] = {m: {"schema": {"type": "string"}} for m in media_types}
    if json_fields:
        content["application/json"] = {"schema": {"type": "object", "required": list(json_fields), "properties": {
            f: {"type": "string"} for f in json_fields}}}
    return {"requestBody": {"required": True, "content": content}}


def parse_body(model: Any, data: Any) -> Any:
    """`data` as `model` (an instance passes through): what services called with plain dicts (jobs, `apply`, forms)
    check; a 422 listing every field that is wrong, the first named in the message."""
    if isinstance(data, model):
        return data
    if not isinstance(data, dict):
        raise Invalid(f"{model.__name__} must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e.get("loc", ())),
                    "message": str(e.get("msg", "")).removeprefix("Value error, ")} for e in exc.errors()]
        raise Invalid(f"invalid input: {details[0]['field']}: {details[0]['message']}", details=details) from None
