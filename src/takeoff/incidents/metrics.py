"""Pure incident metrics: MTTD (detected − started) and MTTR (resolved − detected), per group and per month."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4)
ROOT_CAUSES: tuple[str, ...] = ("data", "model", "prompt", "retrieval", "vendor", "infrastructure", "code",
                                "configuration", "human", "unknown")


@dataclass(frozen=True)
class IncidentTimes:
    """The facts the metrics need from one incident."""

    use_case_key: str
    severity: int
    started_at: datetime
    detected_at: datetime
    resolved_at: datetime | None


def check_severity(value: object) -> int:
    """Severity 1 (worst) to 4; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in SEVERITIES:
        raise ValueError(f"severity must be 1, 2, 3 or 4 (1 is the worst), got {value!r}")
    return value


def check_times(started_at: datetime, detected_at: datetime, resolved_at: datetime | None = None) -> None:
    """An incident starts before it is detected and is detected before it is resolved."""
    for name, t in (("started_at", started_at), ("detected_at", detected_at), ("resolved_at", resolved_at)):
        if t is not None and t.tzinfo is None:
            raise ValueError(f"{name} must carry a timezone (use UTC)")
    if started_at > detected_at:
        raise ValueError("started_at must not be after detected_at")
    if resolved_at is not None and resolved_at < detected_at:
        raise ValueError("resolved_at must not be before detected_at")


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def summarize(items: Iterable[IncidentTimes]) -> dict[str, object]:
    """Count, open count, mean MTTD and MTTR in seconds (MTTR only over resolved incidents), counts by severity."""
    rows = list(items)
    ttd = [(i.detected_at - i.started_at).total_seconds() for i in rows]
    ttr = [(i.resolved_at - i.detected_at).total_seconds() for i in rows if i.resolved_at is not None]
    by_sev = {s: 0 for s in SEVERITIES}
    for i in rows:
        by_sev[i.severity] = by_sev.get(i.severity, 0) + 1
    return {"count": len(rows), "open": sum(1 for i in rows if i.resolved_at is None), "mttd_s": _mean(ttd),
            "mttr_s": _mean(ttr), "by_severity": by_sev}


def grouped(items: Iterable[IncidentTimes]) -> dict[str, object]:
    """Summaries overall, per use case and per month of detection (YYYY-MM), newest month first."""
    rows = list(items)
    per_uc: dict[str, list[IncidentTimes]] = defaultdict(list)
    per_month: dict[str, list[IncidentTimes]] = defaultdict(list)
    for i in rows:
        per_uc[i.use_case_key].append(i)
        per_month[i.detected_at.strftime("%Y-%m")].append(i)
    return {"overall": summarize(rows),
            "by_use_case": [{"use_case": k, **summarize(v)} for k, v in sorted(per_uc.items())],
            "by_month": [{"month": k, **summarize(v)} for k, v in sorted(per_month.items(), reverse=True)]}


def human_duration(seconds: float | None) -> str:
    """A short readable duration ('3h 05m', '42s'); '—' when unknown."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h:02d}h"
