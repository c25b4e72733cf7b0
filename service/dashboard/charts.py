"""Inline SVG charts drawn on the server: no chart library, nothing fetched by the browser.

Colours are the Okabe–Ito palette (distinguishable with every common colour-vision deficiency)
and viridis for heatmaps; every chart has a title, a legend and axis labels with units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    """A short number for axis ticks and tooltips (never "-0")."""
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-3:
        return f"{value:.2e}"
    text = f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return "0" if text in ("-0", "0") else text


CHAR_W = 7.2
"""Generous width of one 12 px character, so labels are never clipped."""
LEGEND_ROW = 18


def text_width(text: str) -> float:
    """Estimated width of `text` in user units."""
    return CHAR_W * len(text)


def _svg(
    width: float, height: float, title: str, body: list[str], desc: str = "", kind: str = "wide"
) -> Markup:
    """An accessible, responsive SVG (role img, title, aria-label; scales to its container)."""
    text = escape(title)
    description = f"<desc>{escape(desc)}</desc>" if desc else ""
    return Markup(
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'preserveAspectRatio="xMinYMin meet" role="img" aria-label="{text}" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}><title>{text}</title>{description}'
        + "".join(body)
        + "</svg>"
    )


@dataclass(frozen=True)
class LegendItem:
    """A legend entry: a swatch (square, line or dashed line) and its label."""

    label: str
    colour: str
    shape: str = "square"


def _legend(
    items: Sequence[tuple[str, str] | LegendItem], x: float, y: float, right: float
) -> tuple[list[str], float]:
    """Legend entries from (x, y), wrapping before `right`; returns the parts and the y below."""
    parts, offset, row_y = [], x, y
    for item in items:
        entry = item if isinstance(item, LegendItem) else LegendItem(*item)
        span = 20 + text_width(entry.label) + 12
        if offset > x and offset + span > right:
            offset, row_y = x, row_y + LEGEND_ROW
        if entry.shape == "none":
            parts.append(f'<text x="{offset:.1f}" y="{row_y}">{escape(entry.label)}</text>')
            offset += span - 18
            continue
        if entry.shape == "square":
            swatch = (
                f'<rect x="{offset:.1f}" y="{row_y - 10:.1f}" width="12" height="12" '
                f'fill="{entry.colour}"/>'
            )
        else:
            dash = ' stroke-dasharray="4 3"' if entry.shape == "dashed" else ""
            swatch = (
                f'<line x1="{offset:.1f}" y1="{row_y - 4:.1f}" x2="{offset + 14:.1f}" '
                f'y2="{row_y - 4:.1f}" stroke="{entry.colour}" stroke-width="3"{dash}/>'
            )
        parts.append(
            swatch + f'<text x="{offset + 18:.1f}" y="{row_y}">{escape(entry.label)}</text>'
        )
        offset += span
    return parts, row_y + LEGEND_ROW


def nice_step(span: float, count: int, *, integer: bool = False) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about `count` ticks."""
    raw = max(span, 1e-12) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return max(1.0, round(step)) if integer else step


def integer_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Whole-number ticks covering [lo, hi]."""
    step = nice_step(hi - lo, count, integer=True)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + 1e-9:
        ticks.append(float(value))
        value += step
    return ticks or [float(round(lo))]


def weight_bars(
    series: Sequence[Series],
    features: Sequence[str],
    *,
    title: str,
    notes: Mapping[str, str] | None = None,
) -> Markup:
    """Grouped horizontal bars of feature weights, each series divided by its largest |weight|.

    `notes` adds a caveat after a feature's name (e.g. "≡ red" when the data cannot tell the
    two apart), so a weight is never shown as a finding without it.
    """
    notes = notes or {}
    labels = [f"{f} ({notes[f]})" if f in notes else f for f in features]
    label_w = max(80.0, max((text_width(label) for label in labels), default=0.0) + 16)
    plot_w, bar_h = 520, 14
    width = label_w + plot_w + 30
    group_h = bar_h * len(series) + 10
    body, top = _legend([(s.label, s.colour) for s in series], 10, 18, width - 10)
    top += 6
    height = top + group_h * len(features) + 50
    zero = label_w + plot_w / 2
    bottom = height - 38
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        x = zero + tick * plot_w / 2
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="{"#333" if tick == 0 else "#ccc"}"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{tick:g}</text>'
        )
    for i, (feature, label) in enumerate(zip(features, labels, strict=True)):
        y0 = top + i * group_h
        body.append(
            f'<text x="{label_w - 8:.1f}" y="{y0 + group_h / 2}" text-anchor="end">'
            f"{escape(label)}</text>"
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
                f"{_fmt(raw)} ({_fmt(round(share, 2))} of largest)</title></rect>"
            )
    body.append(
        f'<text x="{zero:.1f}" y="{height - 6}" text-anchor="middle">'
        "weight ÷ largest |weight| of the same reward (unitless)</text>"
    )
    return _svg(width, height, title, body)


def posterior_bars(items: Sequence[tuple[str, float, bool]], *, title: str) -> Markup:
    """Horizontal bars of posterior probabilities in [0, 1], one per (name, p, is_training);
    the training reward's bar is blue, the others orange."""
    labels = [f"{name} (training)" if training else name for name, _, training in items]
    label_w = max(80.0, max((text_width(label) for label in labels), default=0.0) + 16)
    plot_w, bar_h = 400, 18
    width = label_w + plot_w + 60
    top = 10
    height = top + bar_h * len(items) + 40
    bottom = height - 30
    body = []
    for tick in (0.0, 0.5, 1.0):
        x = label_w + tick * plot_w
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#ccc"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{tick:g}</text>'
        )
    for i, ((name, p, training), label) in enumerate(zip(items, labels, strict=True)):
        y = top + i * bar_h
        colour = OKABE_ITO[0] if training else OKABE_ITO[1]
        body.append(
            f'<text x="{label_w - 8:.1f}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w:.1f}" y="{y + 2:.1f}" width="{max(p, 0.0) * plot_w:.1f}" '
            f'height="{bar_h - 4}" fill="{colour}"><title>{escape(name)}: posterior '
            f"{_fmt(p)}</title></rect>"
            f'<text x="{label_w + max(p, 0.0) * plot_w + 4:.1f}" y="{y + bar_h / 2 + 4:.1f}">'
            f"{p:.2f}</text>"
        )
    body.append(
        f'<text x="{label_w + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        "posterior probability (uniform prior over the named goals)</text>"
    )
    return _svg(width, height, title, body)


def _viridis(share: float) -> str:
    """The viridis colour at `share` in [0, 1]."""
    index = min(len(VIRIDIS) - 1, max(0, round(share * (len(VIRIDIS) - 1))))
    return VIRIDIS[index]


@dataclass(frozen=True)
class Mark:
    """Squares to label on a grid (the start, a door, coloured squares): a letter and a legend."""

    letter: str
    label: str
    colour: str
    states: tuple[int, ...]


def trajectory_colour(k: int) -> str:
    """The colour of the k-th sample trajectory (and of its legend entry)."""
    return OKABE_ITO[(k + 1) % len(OKABE_ITO)]


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
    marks: Sequence[Mark] = (),
    scale: tuple[float, float] | None = None,
) -> Markup:
    """Per-state values on the grid (viridis), marked squares, visits and trajectories on top.

    `scale` fixes the colour range (several heatmaps on one page then share one scale).
    """
    cell = max(14, min(44, 360 // max(rows, cols)))
    left, top = 10, 10
    grid_w, grid_h = cols * cell, rows * cell
    lo, hi = scale if scale is not None else (float(values.min()), float(values.max()))
    ends = max(text_width(_fmt(lo)), text_width(_fmt(hi)))
    width = max(left + grid_w + 34 + ends + 8, 320)
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
    body += _marks(marks, cells, left, top, cell)
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
        body.append(
            f'<polyline points="{points}" fill="none" stroke="#000" stroke-width="4" '
            f'stroke-linejoin="round" opacity="0.6"/><polyline points="{points}" fill="none" '
            f'stroke="{trajectory_colour(k)}" stroke-width="2" stroke-linejoin="round">'
            f"<title>sample trajectory {k + 1}</title></polyline>"
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
    legend: list[LegendItem] = [LegendItem(f"{m.letter} {m.label}", "#fff", "none") for m in marks]
    if visits is not None:
        legend.append(LegendItem("○ visited (area ∝ visits)", "#fff", "none"))
    legend += [
        LegendItem(f"trajectory {k + 1}", trajectory_colour(k), "line") for k in range(len(paths))
    ]
    parts, bottom = _legend(legend, left, top + grid_h + 38, width - 10)
    body += parts
    return _svg(width, bottom, title, body, kind="heat")


def _marks(
    marks: Sequence[Mark], cells: np.ndarray, left: float, top: float, cell: float
) -> list[str]:
    """Letters on marked squares (several marks on one square share it: "DR")."""
    letters: dict[int, list[Mark]] = {}
    for mark in marks:
        for s in mark.states:
            letters.setdefault(s, []).append(mark)
    parts = []
    for s, here in letters.items():
        r, c = cells[s]
        x, y = left + c * cell, top + r * cell
        text = "".join(m.letter for m in here)
        names = ", ".join(m.label for m in here)
        parts.append(
            f'<rect x="{x + 1.5:.1f}" y="{y + 1.5:.1f}" width="{cell - 3:.1f}" '
            f'height="{cell - 3:.1f}" fill="none" stroke="{here[0].colour}" stroke-width="3">'
            f"<title>{escape(names)}</title></rect>"
            f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 4:.1f}" text-anchor="middle" '
            f'font-weight="700" fill="#fff" stroke="#000" stroke-width="2.5" '
            f'paint-order="stroke">{escape(text)}</text>'
        )
    return parts


def intervals(items: Sequence[Interval], *, title: str, axis: str) -> Markup:
    """Point estimates on [0, 1] with uncertainty whiskers and dashed decision thresholds."""
    label_w = max(160.0, max((text_width(i.label) for i in items), default=0.0) + 16)
    plot_w, row_h, top = 360, 34, 34
    height = top + row_h * len(items) + 44
    width = label_w + plot_w + 90
    body, _ = _legend(
        [
            ("estimate", OKABE_ITO[0]),
            ("uncertainty interval", OKABE_ITO[5]),
            LegendItem("verdict threshold", OKABE_ITO[4], "dashed"),
        ],
        10,
        16,
        width - 10,
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


@dataclass(frozen=True)
class Line:
    """One series of a line chart, with an optional stopping threshold drawn as a dashed line."""

    label: str
    points: Sequence[tuple[float, float]]
    threshold: float | None = None


def lines(
    series: Sequence[Line],
    *,
    title: str,
    x_label: str,
    y_label: str,
    integer_x: bool = True,
) -> Markup:
    """Line chart of several series over a shared x axis; log y when values span decades."""
    left, plot_w, plot_h = 84, 560, 220
    width = left + plot_w + 20
    points = [(x, y) for line in series for x, y in line.points if math.isfinite(y)]
    if not points:
        return _svg(width, 40, title, ['<text x="10" y="24">no curve recorded</text>'])
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(series))]
    legend: list[LegendItem] = []
    for line, colour in zip(series, colours, strict=True):
        legend.append(LegendItem(line.label, colour, "line"))
        if line.threshold is not None:
            legend.append(LegendItem(f"stops at ≤ {_fmt(line.threshold)}", colour, "dashed"))
    body, top = _legend(legend, 10, 16, width - 10)
    top += 4
    height = top + plot_h + 50
    ys = [y for _, y in points] + [t.threshold for t in series if t.threshold is not None]
    log_y = all(y > 0 for y in ys) and max(ys) / min(ys) > 100

    def fy(y: float) -> float:
        return math.log10(y) if log_y else y

    x_lo, x_hi = min(x for x, _ in points), max(x for x, _ in points)
    y_lo, y_hi = min(fy(y) for y in ys), max(fy(y) for y in ys)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0

    def px(x: float) -> float:
        return left + (x - x_lo) / x_span * plot_w

    def py(y: float) -> float:
        return top + plot_h - (fy(y) - y_lo) / y_span * plot_h

    for k in range(5):
        t = y_lo + y_span * k / 4
        y = top + plot_h - plot_h * k / 4
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(10**t if log_y else t)}</text>"
        )
    x_ticks = integer_ticks(x_lo, x_hi) if integer_x else [x_lo + x_span * k / 4 for k in range(5)]
    for xv in x_ticks:
        body.append(
            f'<text x="{px(xv):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_fmt(xv)}</text>'
        )
    body.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#555"/>'
    )
    for i, (line, colour) in enumerate(zip(series, colours, strict=True)):
        if line.threshold is not None and (line.threshold > 0 or not log_y):
            y = py(line.threshold)
            body.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3">'
                f"<title>{escape(line.label)}: stops at ≤ {_fmt(line.threshold)}</title></line>"
            )
        good = [(x, y) for x, y in line.points if math.isfinite(y) and (y > 0 or not log_y)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in good)
        dash = ' stroke-dasharray="6 3"' if i % 2 else ""
        body.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dash}><title>{escape(line.label)}</title></polyline>'
        )
    scale = " (log scale)" if log_y else ""
    body.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label + scale)}</text>'
    )
    return _svg(width, height, title, body)


@dataclass(frozen=True)
class Bin:
    """One histogram bin: the integer values [low, high] and how many fall in it."""

    low: int
    high: int
    count: int

    @property
    def label(self) -> str:
        """ "7" for a one-value bin, "7–9" otherwise."""
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"


def integer_bins(counts: Mapping[int, int], *, max_bins: int = 20) -> list[Bin]:
    """Equal-width bins of whole numbers covering the values (at least 5 bins, so a single
    value is seen in context rather than as one full-width bar)."""
    if not counts:
        return []
    lo, hi = min(counts), max(counts)
    width = max(1, math.ceil((hi - lo + 1) / max_bins))
    n_bins = max(5, math.ceil((hi - lo + 1) / width))
    start = max(0, lo - ((n_bins * width - (hi - lo + 1)) // 2))
    bins = [Bin(start + i * width, start + (i + 1) * width - 1, 0) for i in range(n_bins)]
    return [
        Bin(b.low, b.high, sum(n for v, n in counts.items() if b.low <= v <= b.high)) for b in bins
    ]


def histogram(
    bins: Sequence[Bin], *, title: str, label: str, colour: str, x_label: str, y_label: str
) -> Markup:
    """Vertical bars of counts per bin, with whole-number count ticks."""
    left, plot_w, plot_h = 60, 460, 160
    width = left + plot_w + 20
    body, top = _legend([(label, colour)], 10, 16, width - 10)
    top += 4
    height = top + plot_h + 50
    peak = max((b.count for b in bins), default=0)
    ticks = integer_ticks(0, max(peak, 1), 4)
    y_max = max(ticks[-1], 1.0)
    for tick in ticks:
        y = top + plot_h - plot_h * tick / y_max
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.0f}</text>'
        )
    slot = plot_w / max(len(bins), 1)
    every = max(1, math.ceil(max((text_width(b.label) for b in bins), default=0) / slot * 1.3))
    for i, b in enumerate(bins):
        h = b.count / y_max * plot_h
        x = left + i * slot
        body.append(
            f'<rect x="{x + slot * 0.08:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{slot * 0.84:.1f}" height="{h:.1f}" fill="{colour}"><title>{b.label}: '
            f"{b.count}</title></rect>"
        )
        if i % every == 0:
            body.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{b.label}</text>"
            )
    body.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label)}</text>'
    )
    return _svg(width, height, title, body)
