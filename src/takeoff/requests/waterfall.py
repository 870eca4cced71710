"""The span tree of a request laid out as a waterfall (pure): each span's depth in the tree, and its start and width
as percentages of the request's time span, children right under their parent in start order."""
from __future__ import annotations

from datetime import datetime
from typing import Any


def layout(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans (dicts with span_id, parent_span_id, start as ISO text, duration_ms) in tree order, each with `depth`,
    `left` and `width` (percent of the whole, width at least 0.5 so an instant span stays visible). A span whose
    parent is not among them is a root; a cycle (bad input) cannot loop: each span is placed once."""
    if not spans:
        return []
    starts = {s["span_id"]: datetime.fromisoformat(s["start"]).timestamp() * 1000 for s in spans}
    ends = {k: starts[k] + float(s.get("duration_ms") or 0) for k, s in ((s["span_id"], s) for s in spans)}
    t0, t1 = min(starts.values()), max(ends.values())
    total = max(t1 - t0, 1e-9)
    ids = set(starts)
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_span_id")
        children.setdefault(parent if parent in ids and parent != s["span_id"] else None, []).append(s)
    for kids in children.values():
        kids.sort(key=lambda s: (starts[s["span_id"]], s["span_id"]))
    out: list[dict[str, Any]] = []
    placed: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for s in children.get(parent, []):
            if s["span_id"] in placed:
                continue
            placed.add(s["span_id"])
            left = (starts[s["span_id"]] - t0) / total * 100
            width = max((ends[s["span_id"]] - starts[s["span_id"]]) / total * 100, 0.5)
            out.append({**s, "depth": depth, "left": round(left, 2), "width": round(min(width, 100 - left + 0.5), 2),
                        "offset_ms": round(starts[s["span_id"]] - t0, 1)})
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    for s in spans:  # spans only reachable through a cycle: shown flat at the end
        if s["span_id"] not in placed:
            placed.add(s["span_id"])
            out.append({**s, "depth": 0, "left": round((starts[s["span_id"]] - t0) / total * 100, 2), "width": 0.5,
                        "offset_ms": round(starts[s["span_id"]] - t0, 1)})
    return out
