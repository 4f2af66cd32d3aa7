"""The pages' pictures as inline SVG: risk trend, waterfall, sparklines, weekly metrics, driver groups.

Each builder is a pure function from the typed records in ``explain.records`` to a
``markupsafe.Markup`` string, so a Jinja template inserts it as it is while everything else
stays autoescaped. Inside, every piece of text (labels, titles, tooltips, aria names) goes
through ``markupsafe.escape``: account names and reason sentences are customer text.
Charts degrade to a short note rather than failing when the data is thin (one point, no
history, NaN). The colours live here because the charts, the chips beside them and the
notebook plots (``explain.plots``) must agree on them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from explain.formats import calendar_date, percent, risk_points, short_number
from explain.records import Explanation, GroupShare, MetricSeries, TrendPoint

GROUP_COLOURS = {
    "usage": "#2563eb",
    "adoption": "#7c3aed",
    "support": "#ea580c",
    "relationship": "#db2777",
    "commercial": "#0d9488",
    "billing": "#a16207",
}
OTHER_COLOUR = "#94a3b8"
BAND_COLOURS = {"low": "#16a34a", "medium": "#d97706", "high": "#dc2626"}
INK, MUTED, GRID = "#0f172a", "#64748b", "#e2e8f0"


def group_colour(group: str) -> str:
    """A driver group's colour; groups the palette does not know share the neutral one."""
    return GROUP_COLOURS.get(group, OTHER_COLOUR)


def band_colour(band: str) -> str:
    """A risk band's colour; an unknown band is drawn in ink rather than failing."""
    return BAND_COLOURS.get(band, INK)


def drawable(x: float | None) -> bool:
    """A number we can draw or print: not None, not NaN, not infinite."""
    return isinstance(x, numbers.Real) and math.isfinite(x)


# ---------------------------------------------------------------- SVG pieces


def _short(text: str, limit: int) -> str:
    """Cut a label that would not fit in a chart (the full text stays in the SVG title)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _svg(width: int, height: int, body: str, label: str, cls: str = "chart") -> Markup:
    """A responsive SVG: shrinks to its container (never grows past its drawn size), has an accessible name."""
    return Markup(
        f'<svg class="{cls}" viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" role="img" '
        f'aria-label="{escape(label)}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "") -> str:
    """One SVG text element; the text is escaped because labels carry customer words."""
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Split (x, y) points into runs of drawable values, so a missing value leaves a gap in the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if drawable(y):
            runs[-1].append((x, float(y)))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _path(run: Sequence[tuple[float, float]]) -> str:
    """An SVG path through the points of one run."""
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in run)


def _nice_top(value: float) -> float:
    """Round a gridline step up to one people read easily (1, 2, 2.5, 5, 10, 20 ...)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _ticks(lo: float, hi: float) -> list[float]:
    """Four or five round gridline values covering [lo, hi]."""
    step = _nice_top((hi - lo) / 4 or 1.0)
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def empty_chart(message: str) -> Markup:
    """What stands in for a chart with nothing to draw: a sentence saying why, not an empty frame."""
    return Markup(f'<p class="chart-empty">{escape(message)}</p>')


# ---------------------------------------------------------------- risk trend


def risk_trend_chart(trend: Sequence[TrendPoint], bands: tuple[float, float]) -> Markup:
    """Churn risk over the monthly snapshots, on shaded low/medium/high zones, each point labelled."""
    values = [p.churn_risk if drawable(p.churn_risk) else None for p in trend]
    shown = [v for v in values if v is not None]
    if not shown:
        return empty_chart("No risk history yet: the trend appears after the first monthly snapshot.")
    width, height, left, right, top, bottom = 720, 250, 44, 64, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = min(1.0, math.ceil(max(max(shown), bands[1], 0.05) * 1.15 * 20) / 20)  # up to a 5% step

    def sx(i: int) -> float:
        inset = 24  # keeps the first and last point labels clear of the axis and the zone names
        return left + (plot_w / 2 if len(trend) == 1 else inset + (plot_w - 2 * inset) * i / (len(trend) - 1))

    def sy(v: float) -> float:
        return top + plot_h * (1 - min(max(v, 0.0), y_max) / y_max)

    parts = _band_zones(bands, y_max, left, plot_w, sy)
    last_y = math.inf
    for tick in sorted({0.0, *(b for b in bands if 0 < b < y_max), y_max}):
        if last_y - sy(tick) >= 14:  # skip a label that would overprint the one below it
            parts.append(_text(left - 8, sy(tick) + 4, percent(tick), "end", "axis"))
            last_y = sy(tick)
    every = max(1, math.ceil(len(trend) / 8))
    for i, point in enumerate(trend):
        if i % every == 0 or i == len(trend) - 1:
            parts.append(_text(sx(i), height - 10, f"{point.as_of:%b %Y}", "middle", "axis"))
    for run in _segments([(sx(i), sy(v) if v is not None else None) for i, v in enumerate(values)]):
        parts.append(f'<path class="trend-line" d="{_path(run)}" fill="none" stroke="{INK}" stroke-width="2.5"/>')
    for i, v in enumerate(values):
        if v is not None:
            x, y = sx(i), sy(v)
            tip = f"{calendar_date(trend[i].as_of)}: {percent(v)}"
            parts.append(
                f'<circle class="trend-point" cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="#fff" '
                f'stroke="{INK}" stroke-width="2"><title>{escape(tip)}</title></circle>'
            )
            parts.append(_text(x, y - 10, percent(v), "middle", "point-label"))
    return _svg(width, height, "".join(parts), "Churn risk over the monthly snapshots")


def _band_zones(
    bands: tuple[float, float], y_max: float, left: float, plot_w: float, sy: Callable[[float], float]
) -> list[str]:
    """The shaded low / medium / high zones behind the trend, named on the right, with dashed thresholds."""
    parts = []
    for band, low, high in (("low", 0.0, bands[0]), ("medium", bands[0], bands[1]), ("high", bands[1], y_max)):
        if low < y_max and high > low:
            y_hi, y_lo = sy(min(high, y_max)), sy(low)
            parts.append(
                f'<rect class="zone zone-{band}" x="{left}" y="{y_hi:.1f}" width="{plot_w}" '
                f'height="{y_lo - y_hi:.1f}" fill="{BAND_COLOURS[band]}" fill-opacity="0.08"/>'
            )
            parts.append(
                f'<text x="{left + plot_w + 8}" y="{(y_hi + y_lo) / 2 + 4:.1f}" class="zone-label" '
                f'style="fill:{BAND_COLOURS[band]}">{band.capitalize()}</text>'
            )
    for threshold in bands:
        if 0 < threshold < y_max:
            parts.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(threshold):.1f}" y2="{sy(threshold):.1f}" '
                f'stroke="{MUTED}" stroke-dasharray="4 4" stroke-width="1"/>'
            )
    return parts


# ---------------------------------------------------------------- waterfall


@dataclass(frozen=True)
class WaterfallStep:
    """One bar of the waterfall, in percentage points of churn risk."""

    label: str
    group: str
    points: float
    start: float
    end: float


def waterfall_steps(explanation: Explanation, top: int = 8) -> list[WaterfallStep]:
    """The waterfall as data: the page's risk drivers and protective factors by |points|, then the rest.

    The bars are the very facts the cards beside them state, with the same points, so the chart
    and the words never disagree (a per-feature view would show features the cards bar, such as
    a value on the reassuring side that still adds a little risk through interactions). The last
    bar always ends at the account's churn risk: "Everything else" is the remainder. The HTML
    page and the notebook plot (``explain.plots``) both draw these steps.
    """
    start = explanation.peer_churn_risk * 100
    total = explanation.churn_risk * 100 - start
    stated = [*explanation.risk_drivers, *explanation.protective]
    ranked = sorted(stated, key=lambda r: abs(r.points) if drawable(r.points) else 0.0, reverse=True)[:top]
    steps, level = [], start
    for reason in ranked:
        points = reason.points if drawable(reason.points) else 0.0
        steps.append(
            WaterfallStep(f"{reason.label}: {reason.display_value}", reason.group, points, level, level + points)
        )
        level += points
    remainder = start + total - level
    if abs(remainder) > 1e-9:
        steps.append(WaterfallStep("Everything else", "other", remainder, level, start + total))
    return steps


def waterfall_chart(explanation: Explanation, top: int = 8) -> Markup:
    """From comparable accounts' risk to this account's, one floating bar per driver, coloured by group."""
    if not (drawable(explanation.peer_churn_risk) and drawable(explanation.churn_risk)):
        return empty_chart("No driver breakdown: the score is not available.")
    steps = waterfall_steps(explanation, top)
    start, final = explanation.peer_churn_risk * 100, explanation.churn_risk * 100
    levels = [0.0, start, final] + [s.end for s in steps]
    lo, hi = min(levels), max(levels)
    width, row, left, right, top_pad = 1080, 30, 320, 90, 28
    rows = len(steps) + 2
    height = top_pad + rows * row + 26
    plot_w = width - left - right
    span = (hi - lo) or 1.0

    def sx(v: float) -> float:
        return left + plot_w * (v - lo) / span

    def bar(i: int, a: float, b: float, fill: str, label: str, value: str, cls: str, tip: str) -> str:
        y = top_pad + i * row
        x0, x1 = sorted((sx(a), sx(b)))
        w = max(x1 - x0, 1.5)
        return (
            f'<g class="{cls}"><title>{escape(tip)}</title>'
            + _text(left - 10, y + row / 2 + 4, _short(label, 44), "end", "bar-label")
            + f'<rect x="{x0:.1f}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" rx="3" fill="{fill}"/>'
            + _text(x0 + w + 6, y + row / 2 + 4, value, "start", "bar-value")
            + "</g>"
        )

    parts = [
        f'<line x1="{sx(v):.1f}" x2="{sx(v):.1f}" y1="{top_pad - 6}" y2="{top_pad + rows * row}" '
        f'stroke="{GRID}" stroke-width="1"/>' + _text(sx(v), top_pad - 12, f"{v:.0f}%", "middle", "axis")
        for v in _ticks(lo, hi)
    ]
    parts.append(
        bar(0, 0.0, start, OTHER_COLOUR, "Comparable accounts", f"{start:.1f}%", "wf-base", explanation.peer_group)
    )
    for i, step in enumerate(steps, start=1):
        y_mid = top_pad + i * row
        parts.append(
            f'<line x1="{sx(step.start):.1f}" x2="{sx(step.start):.1f}" y1="{y_mid - row + 5}" y2="{y_mid + 5}" '
            f'stroke="{MUTED}" stroke-dasharray="2 2" stroke-width="1"/>'
        )
        tip = f"{step.label} ({step.group}): {risk_points(step.points)}"
        parts.append(
            bar(i, step.start, step.end, group_colour(step.group), step.label, risk_points(step.points), "wf-step", tip)
        )
    band_fill = band_colour(explanation.risk_band)
    parts.append(bar(rows - 1, 0.0, final, band_fill, "This account", f"{final:.1f}%", "wf-total", "Churn risk"))
    return _svg(width, height, "".join(parts), "Waterfall of driver contributions to churn risk")


# ---------------------------------------------------------------- small multiples


def sparkline(values: Sequence[float | None], top: float, dot: str = INK, width: int = 84, height: int = 26) -> Markup:
    """A tiny churn-risk trend for a table cell, on a 0..``top`` scale shared by every row so rows compare.

    Missing values leave gaps (a lone value between gaps is a dot); the latest value is a dot in ``dot``.
    """
    shown = [v for v in values if drawable(v)]
    if not shown:
        return Markup('<span class="muted">no history</span>')
    top = max(top, *shown) if drawable(top) and top > 0 else max(max(shown), 1e-9)
    pad = 4

    def sx(i: int) -> float:
        return width / 2 if len(values) == 1 else pad + (width - 2 * pad) * i / (len(values) - 1)

    def sy(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - max(v, 0.0) / top)

    runs = _segments([(sx(i), sy(v) if drawable(v) else None) for i, v in enumerate(values)])
    body = "".join(
        f'<path d="{_path(r)}" fill="none" stroke="{MUTED}" stroke-width="1.6"/>'
        if len(r) > 1
        else f'<circle cx="{r[0][0]:.1f}" cy="{r[0][1]:.1f}" r="1.8" fill="{MUTED}"/>'
        for r in runs
    )
    x, y = runs[-1][-1]
    body += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{escape(dot)}"/>'
    label = "Churn risk trend: " + ", ".join(percent(v) for v in values)
    return Markup(
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def metric_chart(series: MetricSeries) -> Markup:
    """One small multiple: bars for small counts (tickets, logins), a line for rates and averages."""
    values = [v if drawable(v) else None for _, v in series.points]
    shown = [v for v in values if v is not None]
    if not shown:
        return empty_chart("No data in this period.")
    width, height, pad_x, top, bottom = 300, 116, 6, 20, 22
    lo, hi = min(0.0, *shown), max(0.0, *shown)
    span = (hi - lo) or 1.0
    colour = group_colour(series.group)
    plot_h = height - top - bottom

    def sy(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / span)

    n = len(values)
    slot = (width - 2 * pad_x) / max(n, 1)
    parts = [f'<line x1="{pad_x}" x2="{width - pad_x}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="{GRID}"/>']
    if all(float(v).is_integer() and v >= 0 for v in shown) and max(shown) <= 30:
        parts += _bars(values, slot, pad_x, sy, colour)
    else:
        runs = _segments([(pad_x + slot * (i + 0.5), sy(v) if v is not None else None) for i, v in enumerate(values)])
        for run in runs:
            parts.append(f'<path d="{_path(run)}" fill="none" stroke="{colour}" stroke-width="2"/>')
            if len(run) == 1:
                parts.append(f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="2.5" fill="{colour}"/>')
    for i in {0, n - 1}:
        anchor = "start" if i == 0 else "end"
        x = pad_x if i == 0 else width - pad_x
        parts.append(_text(x, height - 6, calendar_date(series.points[i][0]), anchor, "axis"))
    parts.append(_text(width - pad_x, 11, f"max {short_number(max(shown))}", "end", "axis"))
    return _svg(width, height, "".join(parts), f"{series.label} per week", "chart metric-chart")


def _bars(
    values: Sequence[float | None], slot: float, pad_x: float, sy: Callable[[float], float], colour: str
) -> list[str]:
    """Vertical bars from zero, one per slot; a missing value leaves its slot empty."""
    parts = []
    for i, v in enumerate(values):
        if v is None:
            continue
        y0, y1 = sorted((sy(0), sy(v)))
        parts.append(
            f'<rect x="{pad_x + slot * i + slot * 0.15:.1f}" y="{y0:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{max(y1 - y0, 0.8):.1f}" rx="1" fill="{colour}"><title>{escape(short_number(v))}</title></rect>'
        )
    return parts


def group_bars(groups: Sequence[GroupShare]) -> Markup:
    """Each driver group's net push, diverging from zero: right adds risk, left protects."""
    shown = [g for g in groups if drawable(g.points)]
    if not shown:
        return empty_chart("No driver groups to show.")
    width, row, left, right = 520, 28, 100, 70
    extent = max(abs(g.points) for g in shown) or 1.0
    half = (width - left - right) / 2
    zero = left + half
    reach = half - 60  # the longest bar leaves room for its value label, on either side of zero
    parts = []
    for i, g in enumerate(shown):
        y = i * row
        w = reach * abs(g.points) / extent
        x = zero if g.points >= 0 else zero - w
        value_x, anchor = (zero + w + 6, "start") if g.points >= 0 else (zero - w - 6, "end")
        parts.append(
            f'<g class="group-bar"><title>{escape(f"{g.group}: {risk_points(g.points)}")}</title>'
            + _text(left - 10, y + row / 2 + 4, g.group, "end", "bar-label")
            + f'<rect x="{x:.1f}" y="{y + 6}" width="{max(w, 1.5):.1f}" height="{row - 12}" rx="3" '
            f'fill="{group_colour(g.group)}"/>'
            + _text(value_x, y + row / 2 + 4, risk_points(g.points), anchor, "bar-value")
            + "</g>"
        )
    parts.append(f'<line x1="{zero}" x2="{zero}" y1="0" y2="{len(shown) * row}" stroke="{MUTED}"/>')
    return _svg(width, len(shown) * row + 4, "".join(parts), "Churn risk by driver group")
