"""An OTLP AnyValue from a Python value, for tests that build spans by hand."""
from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(v: Any) -> AnyValue:
    """str, bool, int, float, a dict (kvlist) or a list of them (bool before int: True is an int too)."""
    out = AnyValue()
    if isinstance(v, str):
        out.string_value = v
    elif isinstance(v, bool):
        out.bool_value = v
    elif isinstance(v, int):
        out.int_value = v
    elif isinstance(v, float):
        out.double_value = v
    elif isinstance(v, dict):
        for k, x in v.items():
            out.kvlist_value.values.add(key=k).value.CopyFrom(any_value(x))
    else:
        out.array_value.values.extend(any_value(x) for x in v)
    return out
