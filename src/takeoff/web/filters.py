"""Jinja filters that turn the figures pages show into numbers and words a person reads: money with its currency
and a sensible precision, token counts by kind, durations in human units, payback periods, data SLA checks and
alert rules as sentences, and small inline SVG sparklines (no script). Pure functions, registered on the templates
by `install`."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

OPS = {">": "is above", ">=": "reaches", "<": "is below", "<=": "falls to", "==": "equals", "!=": "differs from"}
METRIC_WORDS = {"latency_p95": "p95 latency", "latency_p50": "median latency", "latency_p99": "p99 latency",
                "error_rate": "error rate", "fallback_rate": "fallback rate", "cost_per_task": "cost per task",
                "throughput": "throughput", "pass_rate": "eval pass rate", "escalation_rate": "escalation rate",
                "override_rate": "override rate", "quality_errors": "quality errors"}


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def money(x: Any, currency: str = "USD") -> str:
    """$1,234 / $12.30 / $0.0042: whole units from 100 up, cents from 0.01, two significant digits below (never
    scientific notation); "—" when there is no figure."""
    v = _finite(x)
    if v is None:
        return "—"
    sign, a = ("-" if v < 0 else ""), abs(v)
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    if a == 0:
        body = "0.00"
    elif a >= 100:
        body = f"{a:,.0f}"
    elif a >= 0.01:
        body = f"{a:,.2f}"
    else:  # small unit costs: two significant digits, as many decimals as that takes
        decimals = min(12, -math.floor(math.log10(a)) + 1)
        body = f"{a:.{decimals}f}"
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}"


def number(x: Any, digits: int = 3) -> str:
    """A readable figure: thousands separated from 100 up, `digits` significant digits below, never 1e-05."""
    v = _finite(x)
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(v))))
    return f"{v:.{min(decimals, 12)}f}".rstrip("0").rstrip(".") if decimals else f"{v:.0f}"


def percent(x: Any, digits: int = 1) -> str:
    """A fraction (0.123) as "12.3 %"."""
    v = _finite(x)
    return "—" if v is None else f"{v * 100:.{digits}f} %"


def duration(seconds: Any) -> str:
    """Seconds as "850 ms", "12 s", "4 min 10 s", "3 h 5 min", "2 d 4 h"."""
    v = _finite(seconds)
    if v is None:
        return "—"
    if v < 0:
        return "-" + duration(-v)
    if v < 1:
        return f"{v * 1000:.0f} ms"
    if v < 60:
        return f"{v:.0f} s" if v >= 10 else f"{v:.1f} s".replace(".0 s", " s")
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts, rest = [], int(round(v))
    for name, size in units:
        if rest >= size:
            parts.append(f"{rest // size} {name}")
            rest %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def duration_ms(ms: Any) -> str:
    """Milliseconds in human units (see `duration`)."""
    v = _finite(ms)
    return "—" if v is None else duration(v / 1000)


def payback(months: Any, horizon_months: Any = None) -> str:
    """A payback period: "never" when it does not pay back, "not within N years" beyond the horizon (or 10 years),
    else months (or years and months from two years up)."""
    if months is None:
        return "—"
    if isinstance(months, str):
        return "never" if months == "never" else months
    v = _finite(months)
    if v is None or v < 0:
        return "never"
    limit = _finite(horizon_months) or 120.0
    if v > limit:
        years = max(1, math.ceil(limit / 12))
        return f"not within {years} year{'s' if years != 1 else ''}"
    if v < 24:
        return f"{v:.1f} months"
    return f"{int(v // 12)} years {int(round(v % 12))} months".replace(" 0 months", "")


def tokens_table(tokens: Any) -> Markup:
    """Token counts by kind ({"input": 500, "output": 80}) as a small table with a total."""
    if not isinstance(tokens, Mapping) or not tokens:
        return Markup('<span class="muted">—</span>')
    rows = "".join(f"<tr><th scope=\"row\">{escape(str(k).replace('_', ' '))}</th><td>{number(v)}</td></tr>"
                   for k, v in tokens.items())
    total = sum(v for v in tokens.values() if isinstance(v, (int, float)))
    return Markup(f'<table class="tokens compact"><tbody>{rows}<tr><th scope="row">total</th>'
                  f"<td><strong>{number(total)}</strong></td></tr></tbody></table>")


def rule_sentence(metric: str, op: str, threshold: Any, window_s: Any = None, severity: Any = None) -> str:
    """An alert rule as a sentence: "Alert (severity 2) when the error rate is above 5 % over 5 min"."""
    m = METRIC_WORDS.get(metric, str(metric).replace("_", " "))
    t = _finite(threshold)
    if t is None:
        shown = str(threshold)
    elif metric.endswith("_rate"):
        shown = percent(t, 1).replace(".0 %", " %")
    elif metric.startswith("latency"):
        shown = duration_ms(t)
    elif metric.startswith("cost"):
        shown = money(t)
    else:
        shown = number(t)
    head = f"Alert (severity {severity})" if severity is not None else "Alert"
    window = f" over {duration(window_s)}" if _finite(window_s) else ""
    return f"{head} when the {m} {OPS.get(op, op)} {shown}{window}"


def _check_sentence(c: Mapping[str, Any]) -> str:
    kind = str(c.get("kind", "check"))
    if kind == "freshness":
        return f"The newest row by {c.get('column', 'its timestamp')} is at most {duration(c.get('max_age_s'))} old"
    if kind == "completeness":
        fields = c.get("fields") if isinstance(c.get("fields"), Mapping) else {}
        parts = [f"{f} in at least {percent(r, 0)} of rows" for f, r in fields.items()]
        return "Filled in: " + ("; ".join(parts) if parts else "no field named")
    if kind == "rule":
        share = _finite(c.get("min_share"))
        who = "every row" if share in (None, 1.0) else f"at least {percent(share, 0)} of rows"
        return f"Rule “{c.get('name', 'rule')}”: {who} satisfies {c.get('expression', '?')}"
    if kind == "reconciliation":
        tol = [f"±{number(c['tolerance_abs'])}" if c.get("tolerance_abs") is not None else "",
               f"±{percent(c['tolerance_rel'], 1)}" if c.get("tolerance_rel") is not None else ""]
        within = " or ".join(t for t in tol if t)
        return (f"{c.get('measure', 'the measure')} matches {c.get('other_measure') or c.get('measure', 'it')} in "
                f"{c.get('other_source', '?')}.{c.get('other_table', '?')}" + (f" within {within}" if within else " exactly"))
    if kind == "schema":
        cols = c.get("expected_columns") or []
        n = f" ({len(cols)} columns)" if cols else ""
        return f"The columns and their types stay as recorded{n}; announced changes are allowed"
    return kind.replace("_", " ").capitalize()


def sla_sentence(check: Any) -> str:
    """A data SLA check (freshness, completeness, schema, reconciliation, rule) as a readable sentence."""
    if not isinstance(check, Mapping):
        return str(check)
    return _check_sentence(check)


def sparkline(values: Sequence[Any], label: str = "", width: int = 96, height: int = 24) -> Markup:
    """A tiny inline SVG line of the values (oldest first) with an accessible label; a flat line when all zero."""
    pts = [_finite(v) or 0.0 for v in values or []]
    if len(pts) < 2:
        return Markup('<span class="muted">—</span>')
    lo, hi = min(pts), max(pts)
    span = (hi - lo) or 1.0
    step = (width - 2) / (len(pts) - 1)
    coords = " ".join(f"{1 + i * step:.1f},{height - 2 - (p - lo) / span * (height - 4):.1f}"
                      for i, p in enumerate(pts))
    last_x, last_y = coords.rsplit(" ", 1)[-1].split(",")
    return Markup(f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
                  f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/>'
                  f'<circle cx="{last_x}" cy="{last_y}" r="2" fill="currentColor"/></svg>')


def trend(values: Sequence[Any]) -> str:
    """"up", "down" or "flat": the last week against the average of the ones before it (10 % either way)."""
    pts = [_finite(v) or 0.0 for v in values or []]
    if len(pts) < 2:
        return "flat"
    before = sum(pts[:-1]) / (len(pts) - 1)
    if before == 0:
        return "up" if pts[-1] > 0 else "flat"
    change = (pts[-1] - before) / before
    return "up" if change > 0.1 else "down" if change < -0.1 else "flat"


def p_value(x: Any) -> str:
    """A p-value as statisticians write it: "< 0.0001" when smaller (not 5.9e-57), two significant digits above."""
    v = _finite(x)
    if v is None:
        return "—"
    return "< 0.0001" if v < 0.0001 else number(v, 2)


def json_text(value: Any, indent: int | None = None) -> str:
    """A value as JSON a person reads ("a > b", "café"), not `tojson`'s HTML-safe escapes (\\u003e); the page's
    autoescaping still escapes it as text."""
    return json.dumps(value, ensure_ascii=False, default=str, indent=indent)


def words(text: Any) -> str:
    """snake_case identifiers as words ("awaiting_approval" → "awaiting approval")."""
    return "" if text is None else str(text).replace("_", " ")


FILTERS = {"money": money, "number": number, "percent": percent, "duration": duration, "duration_ms": duration_ms,
           "payback": payback, "tokens_table": tokens_table, "sla_sentence": sla_sentence, "sparkline": sparkline,
           "trend": trend, "words": words, "json_text": json_text,
           "p_value": p_value}


def install(env: Environment) -> None:
    """Register the filters (and rule_sentence as a global: it takes several fields) on a Jinja environment."""
    env.filters.update(FILTERS)
    env.globals["rule_sentence"] = rule_sentence
