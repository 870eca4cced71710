"""Pure rules for release bundles: canonical content hash and a readable diff between two bundles.

A bundle names its eval set by name and content hash, never by the per-server version number, so the same content
gives the same bundle hash on any server. Bundles written before that carry `eval_set.version` too; their stored hash
still verifies against them (`verifies`), and `reproducible` gives the bundle a reproduction creates today.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical(bundle: Mapping[str, Any]) -> str:
    """Key-sorted compact JSON: equal bundles give equal text, whatever the key order."""
    return json.dumps(bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(bundle: Mapping[str, Any]) -> str:
    """sha256 of the canonical bundle, so anyone can check a release was not altered."""
    if not isinstance(bundle, Mapping):
        raise ValueError("a release bundle must be a mapping")
    return hashlib.sha256(canonical(bundle).encode()).hexdigest()


def eval_set_ref(name: str, content_hash: str) -> dict[str, str]:
    """How a bundle names the eval set version it is judged on: by content, the same on every server."""
    return {"name": name, "content_hash": content_hash}


def reproducible(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """The bundle as a reproduction creates it: a legacy eval set version number (a per-server label) dropped."""
    out = dict(bundle)
    es = out.get("eval_set")
    if isinstance(es, Mapping) and "version" in es:
        out["eval_set"] = eval_set_ref(str(es.get("name")), str(es.get("content_hash")))
    return out


def verifies(bundle: Mapping[str, Any], stored_hash: str) -> bool:
    """Whether a stored bundle still hashes to the hash recorded when it was created (it was not altered)."""
    return content_hash(bundle) == stored_hash


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k in sorted(value):
            out.update(_flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
        if not value and prefix:
            out[prefix] = {}
        return out
    return {prefix: value}


def diff_bundles(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Changed leaves as [{path, change: added|removed|changed, old, new}], sorted by path."""
    if old is not None and not isinstance(old, Mapping) or not isinstance(new, Mapping):
        raise ValueError("diff_bundles expects mappings")
    a, b = _flatten(old or {}), _flatten(new)
    rows = []
    for path in sorted(set(a) | set(b)):
        if path not in a:
            rows.append({"path": path, "change": "added", "old": None, "new": b[path]})
        elif path not in b:
            rows.append({"path": path, "change": "removed", "old": a[path], "new": None})
        elif a[path] != b[path]:
            rows.append({"path": path, "change": "changed", "old": a[path], "new": b[path]})
    return rows
