"""Small inline SVG charts for the printable reports and the pages that show them: no JavaScript, so they print and
archive as they are.

Every chart is a `<figure class="chart" data-chart=...>` holding one `<svg>`. Each drawn value is a
`<rect class="bar ...">` with a `<title>` naming it and its figure; a missing value is never drawn as zero but as
a `<text class="nodata">` marker saying "no data". Pure functions of their inputs (strings in, a string out).
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

BLUE, GREY, GREEN, RED, AMBER, LIGHT = "#1565c0", "#9e9e9e", "#2e7d32", "#c62828", "#f9a825", "#e0e0e0"
STATUS_COLOURS: dict[str, str] = {"pass": GREEN, "fail": RED, "no_evidence": GREY}
FONT = "font-family='system-ui,sans-serif'"


@dataclass(frozen=True)
class Series:
    """One named series of a grouped or stacked chart (None: no data for that category)."""

    name: str
    values: Sequence[float | None]
    colour: str = BLUE


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def fmt(v: float) -> str:
    """A number as a chart label: whole numbers without decimals, others with up to 3 significant digits."""
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.3g}"


def _finite(values: Sequence[float | None]) -> list[float]:
    out = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"chart values must be finite numbers or None, got {v!r}")
        out.append(float(v))
    return out


def _wrap(label: str, width: int = 18, lines: int = 2) -> list[str]:
    """A label split at spaces into at most `lines` lines of about `width` characters (the last one cut with …)."""
    out: list[str] = []
    for word in label.split():
        if out and len(out[-1]) + 1 + len(word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return [x if len(x) <= width + 2 else x[: width + 1] + "…" for x in out] or [""]


def _label(x: float, y: float, text: str, size: int = 9, width: int = 18) -> str:
    """A centred label of up to two lines."""
    spans = "".join(f"<tspan x='{x:.1f}' dy='{0 if i == 0 else size + 1}'>{_e(t)}</tspan>"
                    for i, t in enumerate(_wrap(text, width)))
    return f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='middle'>{spans}</text>"


def _figure(name: str, title: str, w: float, h: float, inner: str, caption: str) -> str:
    return (f"<figure class='chart' data-chart='{_e(name)}'><svg xmlns='http://www.w3.org/2000/svg' role='img' "
            f"aria-label='{_e(title)}' width='{w:.0f}' height='{h:.0f}' viewBox='0 0 {w:.0f} {h:.0f}' {FONT}>"
            f"{inner}</svg><figcaption>{_e(caption)}</figcaption></figure>")


def _legend(series: Sequence[Series], x: float, y: float) -> str:
    out = []
    for s in series:
        out.append(f"<rect class='legend' x='{x:.1f}' y='{y - 9:.1f}' width='10' height='10' fill='{_e(s.colour)}'/>"
                   f"<text x='{x + 14:.1f}' y='{y:.1f}' font-size='10'>{_e(s.name)}</text>")
        x += 24 + 6.2 * len(s.name)
    return "".join(out)


def bars(labels: Sequence[str], values: Sequence[float | None], title: str, *, name: str = "bars",
         tick: Callable[[str], str] | None = None, target: float | None = None, unit: str = "",
         colour: str = BLUE) -> str:
    """A vertical bar per label (e.g. a week or a date), an optional dashed target line; None shows "no data"."""
    if len(labels) != len(values):
        raise ValueError("bars needs one value per label")
    nums = _finite(values)
    w, h, left, top, bottom = 540.0, 170.0, 8.0, 22.0, 24.0
    right = 8.0 if target is None else 62.0  # room for the target's label
    top_v = max(nums + ([target] if target is not None else []), default=0.0)
    top_v = top_v if top_v > 0 else 1.0
    plot_h = h - top - bottom
    bw = (w - left - right) / max(1, len(values))
    out = [f"<line x1='{left}' y1='{h - bottom}' x2='{w - right}' y2='{h - bottom}' stroke='#777'/>"]
    u = f" {unit}" if unit else ""
    for i, (lab, v) in enumerate(zip(labels, values)):
        x = left + i * bw
        short = tick(lab) if tick else lab
        out.append(f"<text x='{x + bw / 2:.1f}' y='{h - 8}' font-size='9' text-anchor='middle'>{_e(short)}</text>")
        if v is None:
            out.append(f"<text class='nodata' x='{x + bw / 2:.1f}' y='{h - bottom - 4}' font-size='8' "
                       f"text-anchor='middle' fill='#777'><title>{_e(lab)}: no data</title>no data</text>")
            continue
        bh = plot_h * max(0.0, v) / top_v
        out.append(f"<rect class='bar' data-value='{v:g}' x='{x + 2:.1f}' y='{h - bottom - bh:.1f}' "
                   f"width='{max(1.0, bw - 4):.1f}' height='{bh:.1f}' fill='{_e(colour)}'>"
                   f"<title>{_e(lab)}: {fmt(v)}{_e(u)}</title></rect>")
        if bw >= 28:
            out.append(f"<text x='{x + bw / 2:.1f}' y='{h - bottom - bh - 3:.1f}' font-size='9' "
                       f"text-anchor='middle'>{fmt(v)}</text>")
    if target is not None:
        ty = h - bottom - plot_h * max(0.0, target) / top_v
        out.append(f"<line class='target' x1='{left}' y1='{ty:.1f}' x2='{w - right}' y2='{ty:.1f}' stroke='{RED}' "
                   f"stroke-dasharray='5,3'><title>target {fmt(target)}{_e(u)}</title></line>"
                   f"<text x='{w - right + 4:.1f}' y='{ty + 3:.1f}' font-size='9' fill='{RED}'>"
                   f"target {fmt(target)}</text>")
    caption = f"{title} (max {fmt(top_v)}{u})" if nums else f"{title}: no data"
    return _figure(name, title, w, h, "".join(out), caption)


def grouped_bars(categories: Sequence[str], series: Sequence[Series], title: str, *, name: str = "grouped",
                 max_value: float | None = None, unit: str = "") -> str:
    """Per category, one bar per series side by side (e.g. last quarter beside this quarter); None shows "n/a"."""
    if not series or any(len(s.values) != len(categories) for s in series):
        raise ValueError("grouped_bars needs at least one series with one value per category")
    nums = [v for s in series for v in _finite(s.values)]
    top_v = max_value if max_value is not None else max(nums, default=0.0)
    top_v = top_v if top_v > 0 else 1.0
    group_w = max(110.0, 18.0 * len(series) + 24.0)
    w = max(360.0, 16 + group_w * len(categories))
    h, top, bottom = 200.0, 30.0, 40.0
    plot_h = h - top - bottom
    bw = (group_w - 16) / len(series)
    u = f" {unit}" if unit else ""
    out = [_legend(series, 8, 14),
           f"<line x1='8' y1='{h - bottom}' x2='{w - 8}' y2='{h - bottom}' stroke='#777'/>"]
    for ci, cat in enumerate(categories):
        gx = 8 + ci * group_w + 8
        out.append(_label(gx + (group_w - 16) / 2, h - bottom + 13, cat, width=int(group_w / 5.6)))
        for si, s in enumerate(series):
            v = s.values[ci]
            x = gx + si * bw
            if v is None:
                out.append(f"<text class='nodata' x='{x + bw / 2:.1f}' y='{h - bottom - 4}' font-size='7' "
                           f"text-anchor='middle' fill='#777'><title>{_e(cat)} · {_e(s.name)}: no data</title>n/a</text>")
                continue
            bh = plot_h * max(0.0, min(v, top_v)) / top_v
            out.append(f"<rect class='bar' data-series='{_e(s.name)}' data-value='{v:g}' x='{x + 1:.1f}' "
                       f"y='{h - bottom - bh:.1f}' width='{max(1.0, bw - 2):.1f}' height='{bh:.1f}' "
                       f"fill='{_e(s.colour)}'><title>{_e(cat)} · {_e(s.name)}: {fmt(v)}{_e(u)}</title></rect>"
                       f"<text x='{x + bw / 2:.1f}' y='{h - bottom - bh - 2:.1f}' font-size='8' "
                       f"text-anchor='middle'>{fmt(v)}</text>")
    return _figure(name, title, w, h, "".join(out), f"{title} (scale 0 to {fmt(top_v)}{u})")


def status_matrix(rows: Sequence[str], columns: Sequence[str], cells: Sequence[Sequence[str]], title: str, *,
                  name: str = "matrix", labels: Mapping[str, str] | None = None,
                  colours: Mapping[str, str] = STATUS_COLOURS, notes: Sequence[str] | None = None) -> str:
    """A grid of coloured cells, rows × columns (e.g. use cases × readiness items), each cell a status; `notes`
    are written at the right of each row (e.g. the verdict)."""
    if len(cells) != len(rows) or any(len(r) != len(columns) for r in cells):
        raise ValueError("status_matrix needs one status per row and column")
    if notes is not None and len(notes) != len(rows):
        raise ValueError("status_matrix needs one note per row")
    labels = labels or {}
    left, cell, head = 220.0, 74.0, 92.0
    note_w = 8 + 6.0 * max((len(n) for n in notes or []), default=0)
    w = left + cell * len(columns) + note_w + 8
    h = head + 26.0 * len(rows) + 26
    out = []
    for ci, col in enumerate(columns):
        x = left + ci * cell + cell / 2
        out.append(f"<text x='{x:.1f}' y='{head - 8}' font-size='10' text-anchor='start' "
                   f"transform='rotate(-30 {x:.1f} {head - 8})'>{_e(col)}</text>")
    for ri, (row, statuses) in enumerate(zip(rows, cells)):
        y = head + ri * 26.0
        out.append(f"<text x='{left - 6}' y='{y + 16:.1f}' font-size='10' text-anchor='end'>{_e(row[:38])}</text>")
        if notes is not None:
            out.append(f"<text class='note' x='{left + cell * len(columns) + 8:.1f}' y='{y + 16:.1f}' font-size='10' "
                       f"font-weight='bold'>{_e(notes[ri])}</text>")
        for ci, (col, st) in enumerate(zip(columns, statuses)):
            if st not in colours:
                raise ValueError(f"unknown status {st!r}; known: {', '.join(colours)}")
            x = left + ci * cell
            out.append(f"<rect class='cell {_e(st)}' data-status='{_e(st)}' x='{x + 2:.1f}' y='{y + 2:.1f}' "
                       f"width='{cell - 4:.1f}' height='22' rx='3' fill='{_e(colours[st])}'>"
                       f"<title>{_e(row)} · {_e(col)}: {_e(labels.get(st, st))}</title></rect>"
                       f"<text x='{x + cell / 2:.1f}' y='{y + 17:.1f}' font-size='9' text-anchor='middle' "
                       f"fill='#fff'>{_e(labels.get(st, st))}</text>")
    legend = [Series(labels.get(k, k), [], c) for k, c in colours.items()]
    out.append(_legend(legend, 8, h - 8))
    return _figure(name, title, w, h, "".join(out), title)


def stacked_bars(categories: Sequence[str], series: Sequence[Series], title: str, *, name: str = "stacked") -> str:
    """A horizontal bar per category split into the series' counts (e.g. pass / fail / no evidence per item)."""
    if not series or any(len(s.values) != len(categories) for s in series):
        raise ValueError("stacked_bars needs at least one series with one value per category")
    totals = [sum(_finite([s.values[i] for s in series])) for i in range(len(categories))]
    top_v = max(totals, default=0.0) or 1.0
    left, bar_w, row_h = 150.0, 340.0, 22.0
    w = left + bar_w + 60
    h = 26.0 + row_h * len(categories) + 10
    out = [_legend(series, 8, 14)]
    for ci, cat in enumerate(categories):
        y = 26.0 + ci * row_h
        out.append(f"<text x='{left - 6}' y='{y + 14:.1f}' font-size='10' text-anchor='end'>{_e(cat[:28])}</text>")
        x = left
        for s in series:
            v = s.values[ci]
            if not v:
                continue
            sw = bar_w * v / top_v
            out.append(f"<rect class='bar' data-series='{_e(s.name)}' data-value='{v:g}' x='{x:.1f}' y='{y + 2:.1f}' "
                       f"width='{sw:.1f}' height='{row_h - 5:.1f}' fill='{_e(s.colour)}'>"
                       f"<title>{_e(cat)} · {_e(s.name)}: {fmt(v)}</title></rect>")
            if sw >= 14:
                out.append(f"<text x='{x + sw / 2:.1f}' y='{y + 15:.1f}' font-size='9' text-anchor='middle' "
                           f"fill='#fff'>{fmt(v)}</text>")
            x += sw
        out.append(f"<text x='{x + 4:.1f}' y='{y + 15:.1f}' font-size='9'>{fmt(totals[ci])}</text>")
    return _figure(name, title, w, h, "".join(out), title)
