"""Inline SVG charts drawn on the server: no chart library, nothing fetched by the browser.

Colours are the Okabe–Ito palette (distinguishable with every common colour-vision deficiency)
and viridis for heatmaps; every chart has a title, a legend and axis labels with units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
from markupsafe import Markup

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
VIRIDIS = (
    "#440154",
    "#482878",
    "#3e4989",
    "#31688e",
    "#26828e",
    "#1f9e89",
    "#35b779",
    "#6ece58",
    "#b5de2b",
    "#fde725",
)
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Series:
    """One named series of a chart, drawn in one colour."""

    label: str
    colour: str
    values: dict[str, float]


@dataclass(frozen=True)
class Interval:
    """A point estimate with an optional uncertainty interval and decision threshold."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    threshold: float | None = None


def _fmt(value: float) -> str:
    """A short number for axis ticks and tooltips."""
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.3g}"


def _svg(width: int, height: int, title: str, body: list[str], desc: str = "") -> Markup:
    """An accessible SVG element (role img, title and description)."""
    text = escape(title)
    description = f"<desc>{escape(desc)}</desc>" if desc else ""
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}><title>{text}</title>{description}'
        + "".join(body)
        + "</svg>"
    )


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    """A row of colour swatches with labels."""
    parts, offset = [], x
    for label, colour in items:
        parts.append(
            f'<rect x="{offset:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{offset + 16:.1f}" y="{y}">{escape(label)}</text>'
        )
        offset += 28 + 7 * len(label)
    return parts


def weight_bars(series: Sequence[Series], features: Sequence[str], *, title: str) -> Markup:
    """Grouped horizontal bars of feature weights, each series divided by its largest |weight|."""
    label_w, plot_w, bar_h = 120, 380, 14
    group_h = bar_h * len(series) + 10
    top = 40
    height = top + group_h * len(features) + 50
    width = label_w + plot_w + 30
    zero = label_w + plot_w / 2
    body = _legend([(s.label, s.colour) for s in series], label_w, 18)
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        x = zero + tick * plot_w / 2
        bottom = height - 38
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="{"#333" if tick == 0 else "#ccc"}"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{tick:g}</text>'
        )
    for i, feature in enumerate(features):
        y0 = top + i * group_h
        body.append(
            f'<text x="{label_w - 8}" y="{y0 + group_h / 2}" text-anchor="end">'
            f"{escape(feature)}</text>"
        )
        for j, s in enumerate(series):
            scale = max((abs(v) for v in s.values.values()), default=0.0) or 1.0
            raw = s.values.get(feature, 0.0)
            share = raw / scale
            x = min(zero, zero + share * plot_w / 2)
            w = abs(share) * plot_w / 2
            body.append(
                f'<rect x="{x:.1f}" y="{y0 + j * bar_h:.1f}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{s.colour}"><title>{escape(s.label)}: {escape(feature)} = '
                f"{_fmt(raw)} ({share:+.2f} of largest)</title></rect>"
            )
    body.append(
        f'<text x="{zero:.1f}" y="{height - 6}" text-anchor="middle">'
        "weight ÷ largest |weight| of the same reward (unitless)</text>"
    )
    return _svg(width, height, title, body)


def _viridis(share: float) -> str:
    """The viridis colour at `share` in [0, 1]."""
    index = min(len(VIRIDIS) - 1, max(0, round(share * (len(VIRIDIS) - 1))))
    return VIRIDIS[index]


def heatmap(
    values: np.ndarray,
    cells: np.ndarray,
    rows: int,
    cols: int,
    *,
    title: str,
    unit: str,
    visits: np.ndarray | None = None,
    paths: Sequence[Sequence[int]] = (),
) -> Markup:
    """Per-state values on the grid (viridis), visited cells and sample trajectories on top."""
    cell = max(14, min(44, 360 // max(rows, cols)))
    left, top = 10, 10
    grid_w, grid_h = cols * cell, rows * cell
    width = max(left + grid_w + 90, 300)
    height = top + grid_h + 62
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo or 1.0
    body = []
    for s, (r, c) in enumerate(cells):
        x, y = left + c * cell, top + r * cell
        colour = _viridis((float(values[s]) - lo) / span)
        body.append(
            f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{colour}" '
            f'stroke="#fff" stroke-width="0.5"><title>cell ({r}, {c}): {_fmt(float(values[s]))} '
            f"{escape(unit)}</title></rect>"
        )
    if visits is not None and visits.max() > 0:
        peak = float(visits.max())
        for s, (r, c) in enumerate(cells):
            if visits[s] <= 0:
                continue
            radius = 0.42 * cell * math.sqrt(float(visits[s]) / peak)
            body.append(
                f'<circle cx="{left + (c + 0.5) * cell:.1f}" cy="{top + (r + 0.5) * cell:.1f}" '
                f'r="{max(radius, 1.5):.1f}" fill="none" stroke="#fff" stroke-width="1.5">'
                f"<title>visited {int(visits[s])} times</title></circle>"
            )
    for k, path in enumerate(paths):
        points = " ".join(
            f"{left + (cells[s][1] + 0.5) * cell:.1f},{top + (cells[s][0] + 0.5) * cell:.1f}"
            for s in path
        )
        colour = OKABE_ITO[(k + 1) % len(OKABE_ITO)]
        body.append(
            f'<polyline points="{points}" fill="none" stroke="#000" stroke-width="4" '
            f'stroke-linejoin="round" opacity="0.6"/><polyline points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>'
        )
    bar_x = left + grid_w + 16
    steps = len(VIRIDIS)
    for i, colour in enumerate(reversed(VIRIDIS)):
        body.append(
            f'<rect x="{bar_x}" y="{top + i * grid_h / steps:.1f}" width="14" '
            f'height="{grid_h / steps + 0.5:.1f}" fill="{colour}"/>'
        )
    body.append(
        f'<text x="{bar_x + 18}" y="{top + 10}">{_fmt(hi)}</text>'
        f'<text x="{bar_x + 18}" y="{top + grid_h}">{_fmt(lo)}</text>'
        f'<text x="{left}" y="{top + grid_h + 18}">colour: {escape(unit)} per cell</text>'
    )
    legend_y = top + grid_h + 38
    if visits is not None:
        body.append(
            f'<circle cx="{left + 6}" cy="{legend_y - 4}" r="5" fill="#777" stroke="#fff" '
            f'stroke-width="1.5"/><text x="{left + 16}" y="{legend_y}">visited cell '
            "(area ∝ visits)</text>"
        )
    if paths:
        body.append(
            f'<line x1="{left}" y1="{legend_y + 14}" x2="{left + 14}" y2="{legend_y + 14}" '
            f'stroke="{OKABE_ITO[1]}" stroke-width="3"/><text x="{left + 18}" '
            f'y="{legend_y + 18}">sample trajectories ({len(paths)})</text>'
        )
    return _svg(width, height, title, body)


def intervals(items: Sequence[Interval], *, title: str, axis: str) -> Markup:
    """Point estimates on [0, 1] with uncertainty whiskers and dashed decision thresholds."""
    label_w, plot_w, row_h, top = 220, 360, 34, 34
    height = top + row_h * len(items) + 44
    width = label_w + plot_w + 90
    body = _legend(
        [
            ("estimate", OKABE_ITO[0]),
            ("uncertainty interval", OKABE_ITO[5]),
            ("verdict threshold", OKABE_ITO[4]),
        ],
        label_w - 200,
        16,
    )
    bottom = top + row_h * len(items)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{tick:g}</text>'
        )
    for i, item in enumerate(items):
        y = top + i * row_h + row_h / 2

        def at(v: float) -> float:
            return label_w + min(max(v, 0.0), 1.0) * plot_w

        body.append(
            f'<text x="{label_w - 8}" y="{y + 4}" text-anchor="end">{escape(item.label)}</text>'
        )
        if item.threshold is not None:
            body.append(
                f'<line x1="{at(item.threshold):.1f}" y1="{y - 12}" x2="{at(item.threshold):.1f}" '
                f'y2="{y + 12}" stroke="{OKABE_ITO[4]}" stroke-width="2" stroke-dasharray="4 3">'
                f"<title>threshold {_fmt(item.threshold)}</title></line>"
            )
        if item.low is not None and item.high is not None:
            body.append(
                f'<line x1="{at(item.low):.1f}" y1="{y}" x2="{at(item.high):.1f}" y2="{y}" '
                f'stroke="{OKABE_ITO[5]}" stroke-width="6"><title>interval '
                f"{_fmt(item.low)} – {_fmt(item.high)}</title></line>"
            )
        if item.value is not None:
            body.append(
                f'<circle cx="{at(item.value):.1f}" cy="{y}" r="6" fill="{OKABE_ITO[0]}">'
                f"<title>{escape(item.label)} = {_fmt(item.value)}</title></circle>"
            )
    body.append(
        f'<text x="{width / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(axis)}</text>'
    )
    return _svg(width, height, title, body)


def lines(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
) -> Markup:
    """Line chart of several series over a shared x axis; log y when values span decades."""
    left, top, plot_w, plot_h = 84, 34, 460, 200
    width, height = left + plot_w + 20, top + plot_h + 50
    points = [(x, y) for _, pts in series for x, y in pts if math.isfinite(y)]
    if not points:
        return _svg(width, 40, title, ['<text x="10" y="24">no curve recorded</text>'])
    positive = all(y > 0 for _, y in points)
    ys = [y for _, y in points]
    log_y = positive and max(ys) / min(ys) > 100

    def fy(y: float) -> float:
        return math.log10(y) if log_y else y

    x_lo, x_hi = min(x for x, _ in points), max(x for x, _ in points)
    y_lo, y_hi = min(fy(y) for y in ys), max(fy(y) for y in ys)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0

    def px(x: float) -> float:
        return left + (x - x_lo) / x_span * plot_w

    def py(y: float) -> float:
        return top + plot_h - (fy(y) - y_lo) / y_span * plot_h

    body = _legend(
        [(name, OKABE_ITO[i % len(OKABE_ITO)]) for i, (name, _) in enumerate(series)], left, 16
    )
    for k in range(5):
        t = y_lo + y_span * k / 4
        y = top + plot_h - plot_h * k / 4
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(10**t if log_y else t)}</text>"
        )
        xv = x_lo + x_span * k / 4
        body.append(
            f'<text x="{px(xv):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_fmt(xv)}</text>'
        )
    body.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#555"/>'
    )
    for i, (name, pts) in enumerate(series):
        good = [(x, y) for x, y in pts if math.isfinite(y) and (y > 0 or not log_y)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in good)
        dash = ' stroke-dasharray="6 3"' if i % 2 else ""
        body.append(
            f'<polyline points="{coords}" fill="none" stroke="{OKABE_ITO[i % len(OKABE_ITO)]}" '
            f'stroke-width="2"{dash}><title>{escape(name)}</title></polyline>'
        )
    scale = " (log scale)" if log_y else ""
    body.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label + scale)}</text>'
    )
    return _svg(width, height, title, body)


def count_bars(series: Series, *, title: str, x_label: str, y_label: str) -> Markup:
    """Vertical bars of counts per category (e.g. trajectories per length)."""
    left, top, plot_w, plot_h = 60, 34, 420, 160
    width, height = left + plot_w + 20, top + plot_h + 50
    keys = list(series.values)
    peak = max(series.values.values(), default=0.0) or 1.0
    slot = plot_w / max(len(keys), 1)
    body = _legend([(series.label, series.colour)], left, 16)
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(peak * k / 4)}</text>'
        )
    every = max(1, len(keys) // 12)
    for i, key in enumerate(keys):
        h = series.values[key] / peak * plot_h
        x = left + i * slot
        body.append(
            f'<rect x="{x + slot * 0.1:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.8:.1f}" '
            f'height="{h:.1f}" fill="{series.colour}"><title>{escape(key)}: '
            f"{_fmt(series.values[key])}</title></rect>"
        )
        if i % every == 0:
            body.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{escape(key)}</text>"
            )
    body.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label)}</text>'
    )
    return _svg(width, height, title, body)
