"""A JSON Schema subset the SDK checks without dependencies: type, enum, const, required, properties,
additionalProperties, items, min/maxItems, min/maxLength, minimum/maximum, pattern.

The server refuses a safety policy whose schema uses any other keyword (`unsupported`), so a schema that passes there
means the same thing here as in any JSON Schema validator.
"""
from __future__ import annotations

import re
from typing import Any

KEYWORDS = frozenset({"$schema", "title", "description", "type", "enum", "const", "required", "properties",
                      "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength", "minimum",
                      "maximum", "pattern"})
_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
                                       "integer": (int,), "number": (int, float), "null": (type(None),)}
MAX_REPORTED = 5


def unsupported(schema: Any, path: str = "schema") -> list[str]:
    """Paths of keywords outside the subset (and of values of the wrong shape); empty when the SDK can check it."""
    if not isinstance(schema, dict):
        return [f"{path}: must be an object"]
    out = [f"{path}.{k}: not supported" for k in schema if k not in KEYWORDS]
    types = schema.get("type")
    for t in types if isinstance(types, list) else [types] if types is not None else []:
        if t not in _TYPES:
            out.append(f"{path}.type: unknown type {t!r}")
    for name, sub in (schema.get("properties") or {}).items():
        out += unsupported(sub, f"{path}.properties.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out += unsupported(schema[key], f"{path}.{key}")
    return out


def _is(value: Any, t: str) -> bool:
    if isinstance(value, bool) and t in ("integer", "number"):
        return False
    if t == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[t])


def violations(doc: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """What in `doc` breaks `schema` (at most MAX_REPORTED, each with its JSON path); empty when it conforms."""
    out: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        if not any(_is(doc, t) for t in allowed):
            return [f"{path}: expected {' or '.join(allowed)}"]
    if "enum" in schema and doc not in schema["enum"]:
        out.append(f"{path}: not one of the allowed values")
    if "const" in schema and doc != schema["const"]:
        out.append(f"{path}: must be {schema['const']!r}")
    if isinstance(doc, dict):
        out += [f"{path}.{k}: required" for k in schema.get("required", ()) if k not in doc]
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        for k, v in doc.items():
            if k in props:
                out += violations(v, props[k], f"{path}.{k}")
            elif extra is False:
                out.append(f"{path}.{k}: not allowed")
            elif isinstance(extra, dict):
                out += violations(v, extra, f"{path}.{k}")
    if isinstance(doc, list):
        if len(doc) < schema.get("minItems", 0) or len(doc) > schema.get("maxItems", len(doc)):
            out.append(f"{path}: {len(doc)} items out of bounds")
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(doc):
                out += violations(item, schema["items"], f"{path}[{i}]")
    if isinstance(doc, str):
        if len(doc) < schema.get("minLength", 0) or len(doc) > schema.get("maxLength", len(doc)):
            out.append(f"{path}: length {len(doc)} out of bounds")
        if "pattern" in schema and re.search(schema["pattern"], doc) is None:
            out.append(f"{path}: does not match the pattern")
    if isinstance(doc, (int, float)) and not isinstance(doc, bool):
        if "minimum" in schema and doc < schema["minimum"] or "maximum" in schema and doc > schema["maximum"]:
            out.append(f"{path}: {doc} out of bounds")
    return out[:MAX_REPORTED]
