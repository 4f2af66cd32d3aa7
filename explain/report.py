"""The HTML pages customer-success managers read: one per account, and the portfolio of renewals.

Both renderers are pure functions from the typed records in ``explain.records`` to one
self-contained HTML5 document (inline CSS and SVG, no scripts, no external assets), so a page
can be mailed, archived, printed or served by the web service without anything else alongside it.
Every piece of text that comes from customer data is escaped; charts degrade to a short note
rather than failing when the data is thin (one point, no history, NaN).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from explain.formats import (
    DASH,
    calendar_date,
    days_from_now,
    money,
    percent,
    risk_points,
    short_number,
)
from explain.records import (
    AccountPage,
    Change,
    Explanation,
    GroupShare,
    MetricSeries,
    Play,
    Portfolio,
    PortfolioRow,
    Reason,
    TrendPoint,
)
from features.snapshots import RISK_MEANINGS

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
SEGMENT_NAMES = {"smb": "SMB", "mid_market": "Mid-market", "enterprise": "Enterprise"}


# ---------------------------------------------------------------- formatting


def _e(text: object) -> str:
    """Escape anything for HTML text and attribute values alike."""
    return escape(str(text), quote=True)


def _ok(x: float | None) -> bool:
    """A number we can draw or print: not None, not NaN, not infinite."""
    return isinstance(x, numbers.Real) and math.isfinite(x)


def _short(text: str, limit: int) -> str:
    """Cut a label that would not fit in a chart (the full text stays in the SVG title)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _colour(group: str) -> str:
    return GROUP_COLOURS.get(group, OTHER_COLOUR)


def _band_chip(band: str, suffix: str = " risk") -> str:
    return f'<span class="chip band band-{_e(band)}">{_e(band.capitalize() + suffix)}</span>'


def _group_chip(group: str) -> str:
    return f'<span class="chip group" style="--c:{_colour(group)}">{_e(group)}</span>'


# ---------------------------------------------------------------- SVG helpers


def _svg(width: int, height: int, body: str, label: str, cls: str = "chart") -> str:
    """A responsive SVG: shrinks to its container (never grows past its drawn size), has an accessible name."""
    return (
        f'<svg class="{cls}" viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" role="img" '
        f'aria-label="{_e(label)}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{_e(text)}</text>'


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Split (x, y) points into runs of drawable values, so a missing value leaves a gap in the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if _ok(y):
            runs[-1].append((x, float(y)))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _path(run: Sequence[tuple[float, float]]) -> str:
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


def _empty_chart(message: str) -> str:
    return f'<p class="chart-empty">{_e(message)}</p>'


def _line_chart(trend: Sequence[TrendPoint], bands: tuple[float, float]) -> str:
    """Churn risk over the monthly snapshots, on shaded low/medium/high zones, each point labelled."""
    values = [p.churn_risk if _ok(p.churn_risk) else None for p in trend]
    drawable = [v for v in values if v is not None]
    if not drawable:
        return _empty_chart("No risk history yet: the trend appears after the first monthly snapshot.")
    width, height, left, right, top, bottom = 720, 250, 44, 64, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = min(1.0, math.ceil(max(max(drawable), bands[1], 0.05) * 1.15 * 20) / 20)  # up to a 5% step

    def sx(i: int) -> float:
        inset = 24  # keeps the first and last point labels clear of the axis and the zone names
        return left + (plot_w / 2 if len(trend) == 1 else inset + (plot_w - 2 * inset) * i / (len(trend) - 1))

    def sy(v: float) -> float:
        return top + plot_h * (1 - min(max(v, 0.0), y_max) / y_max)

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
            parts.append(
                f'<circle class="trend-point" cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="#fff" '
                f'stroke="{INK}" stroke-width="2">'
                f"<title>{_e(calendar_date(trend[i].as_of))}: {percent(v)}</title></circle>"
            )
            parts.append(_text(x, y - 10, percent(v), "middle", "point-label"))
    return _svg(width, height, "".join(parts), "Churn risk over the monthly snapshots")


@dataclass(frozen=True)
class _Step:
    """One bar of the waterfall, in percentage points of churn risk."""

    label: str
    group: str
    points: float
    start: float
    end: float


def _waterfall_steps(explanation: Explanation, top: int = 8) -> list[_Step]:
    """The waterfall as data: the page's risk drivers and protective factors by |points|, then the rest.

    The bars are the very facts the cards beside them state, with the same points, so the chart
    and the words never disagree (a per-feature view would show features the cards bar, such as
    a value on the reassuring side that still adds a little risk through interactions). The last
    bar always ends at the account's churn risk: "Everything else" is the remainder.
    """
    start = explanation.peer_churn_risk * 100
    total = explanation.churn_risk * 100 - start
    stated = [*explanation.risk_drivers, *explanation.protective]
    ranked = sorted(stated, key=lambda r: abs(r.points) if _ok(r.points) else 0.0, reverse=True)[:top]
    steps, level = [], start
    for reason in ranked:
        points = reason.points if _ok(reason.points) else 0.0
        steps.append(_Step(f"{reason.label}: {reason.display_value}", reason.group, points, level, level + points))
        level += points
    remainder = start + total - level
    if abs(remainder) > 1e-9:
        steps.append(_Step("Everything else", "other", remainder, level, start + total))
    return steps


def _waterfall(explanation: Explanation, top: int = 8) -> str:
    """From comparable accounts' risk to this account's, one floating bar per driver, coloured by group."""
    if not (_ok(explanation.peer_churn_risk) and _ok(explanation.churn_risk)):
        return _empty_chart("No driver breakdown: the score is not available.")
    steps = _waterfall_steps(explanation, top)
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
            f'<g class="{cls}"><title>{_e(tip)}</title>'
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
            bar(i, step.start, step.end, _colour(step.group), step.label, risk_points(step.points), "wf-step", tip)
        )
    band_fill = BAND_COLOURS.get(explanation.risk_band, INK)
    parts.append(bar(rows - 1, 0.0, final, band_fill, "This account", f"{final:.1f}%", "wf-total", "Churn risk"))
    return _svg(width, height, "".join(parts), "Waterfall of driver contributions to churn risk")


def _ticks(lo: float, hi: float) -> list[float]:
    """Four or five round gridline values covering [lo, hi]."""
    step = _nice_top((hi - lo) / 4 or 1.0)
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def _sparkline(values: Sequence[float | None], top: float, dot: str = INK, width: int = 84, height: int = 26) -> str:
    """A tiny churn-risk trend for a table cell, on a 0..``top`` scale shared by every row so rows compare.

    Missing values leave gaps (a lone value between gaps is a dot); the latest value is a dot in ``dot``.
    """
    drawable = [v for v in values if _ok(v)]
    if not drawable:
        return '<span class="muted">no history</span>'
    top = max(top, *drawable) if _ok(top) and top > 0 else max(max(drawable), 1e-9)
    pad = 4

    def sx(i: int) -> float:
        return width / 2 if len(values) == 1 else pad + (width - 2 * pad) * i / (len(values) - 1)

    def sy(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - max(v, 0.0) / top)

    runs = _segments([(sx(i), sy(v) if _ok(v) else None) for i, v in enumerate(values)])
    body = "".join(
        f'<path d="{_path(r)}" fill="none" stroke="{MUTED}" stroke-width="1.6"/>'
        if len(r) > 1
        else f'<circle cx="{r[0][0]:.1f}" cy="{r[0][1]:.1f}" r="1.8" fill="{MUTED}"/>'
        for r in runs
    )
    x, y = runs[-1][-1]
    body += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{dot}"/>'
    label = "Churn risk trend: " + ", ".join(percent(v) for v in values)
    return (
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def _metric_chart(series: MetricSeries) -> str:
    """One small multiple: bars for small counts (tickets, logins), a line for rates and averages."""
    values = [v if _ok(v) else None for _, v in series.points]
    drawable = [v for v in values if v is not None]
    if not drawable:
        return _empty_chart("No data in this period.")
    width, height, pad_x, top, bottom = 300, 116, 6, 20, 22
    lo, hi = min(0.0, *drawable), max(0.0, *drawable)
    span = (hi - lo) or 1.0
    colour = _colour(series.group)
    plot_h = height - top - bottom

    def sy(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / span)

    n = len(values)
    slot = (width - 2 * pad_x) / max(n, 1)
    parts = [f'<line x1="{pad_x}" x2="{width - pad_x}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="{GRID}"/>']
    if all(float(v).is_integer() and v >= 0 for v in drawable) and max(drawable) <= 30:
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
    parts.append(_text(width - pad_x, 11, f"max {short_number(max(drawable))}", "end", "axis"))
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
            f'height="{max(y1 - y0, 0.8):.1f}" rx="1" fill="{colour}"><title>{short_number(v)}</title></rect>'
        )
    return parts


def _group_bars(groups: Sequence[GroupShare]) -> str:
    """Each driver group's net push, diverging from zero: right adds risk, left protects."""
    shown = [g for g in groups if _ok(g.points)]
    if not shown:
        return _empty_chart("No driver groups to show.")
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
            f'<g class="group-bar"><title>{_e(g.group)}: {risk_points(g.points)}</title>'
            + _text(left - 10, y + row / 2 + 4, g.group, "end", "bar-label")
            + f'<rect x="{x:.1f}" y="{y + 6}" width="{max(w, 1.5):.1f}" height="{row - 12}" rx="3" '
            f'fill="{_colour(g.group)}"/>'
            + _text(value_x, y + row / 2 + 4, risk_points(g.points), anchor, "bar-value")
            + "</g>"
        )
    parts.append(f'<line x1="{zero}" x2="{zero}" y1="0" y2="{len(shown) * row}" stroke="{MUTED}"/>')
    return _svg(width, len(shown) * row + 4, "".join(parts), "Churn risk by driver group")


# ---------------------------------------------------------------- account page sections


def _header(x: Explanation) -> str:
    facts = [
        ("Segment", _segment(x.segment)),
        ("ARR", money(x.arr)),
        ("Renewal date", calendar_date(x.renewal_date)),
        ("Days to renewal", days_from_now(x.days_to_renewal)),
        ("As of", calendar_date(x.as_of)),
        ("Model", x.model_version),
    ]
    if x.contract_id:
        facts.insert(0, ("Contract", x.contract_id))
    items = "".join(f'<div class="fact"><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>' for k, v in facts)
    name = f'<p class="account-name" id="account-name">{_e(x.name)}</p>' if x.name else ""
    return (
        '<header id="account-header" class="card header">'
        '<p class="eyebrow">Renewal risk · account</p>'
        f'<h1 class="account-id">{_e(x.account_id)}</h1>{name}'
        f'<dl class="facts">{items}</dl></header>'
    )


def _risk(x: Explanation) -> str:
    return (
        '<section id="risk" class="card risk">'
        "<h2>Renewal outlook</h2>"
        f'<p class="big" id="renewal-probability">{_e(percent(x.renewal_probability))}</p>'
        '<p class="big-caption">likely to renew</p>'
        f'<p class="churn">Churn risk <strong id="churn-risk">{_e(percent(x.churn_risk))}</strong> '
        f"{_band_chip(x.risk_band)}</p>"
        f'<p class="muted meaning" id="risk-meaning">Churn risk is {_e(x.risk_meaning)}.</p>'
        + (f'<p class="note" id="horizon-note">{_e(x.horizon_note)}</p>' if x.horizon_note else "")
        + '<dl class="mini">'
        f"<div><dt>ARR at risk</dt><dd>{_e(money(x.arr_at_risk))}</dd></div>"
        f"<div><dt>Comparable accounts</dt><dd>{_e(percent(x.peer_churn_risk))} "
        f'<span class="muted">({_e(x.peer_group)})</span></dd></div>'
        "</dl>" + (f'<p class="summary">{_e(x.summary)}</p>' if x.summary else "") + "</section>"
    )


def _trend(page: AccountPage) -> str:
    low, high = page.bands
    return (
        '<section id="risk-trend" class="card">'
        "<h2>Risk over time</h2>"
        f'<p class="note">Monthly snapshots. Low below {_e(percent(low))}, high from {_e(percent(high))}.</p>'
        f"{_line_chart(page.trend, page.bands)}</section>"
    )


def _waterfall_section(x: Explanation) -> str:
    return (
        '<section id="waterfall" class="card">'
        "<h2>Why this risk: from comparable accounts to this one</h2>"
        f'<p class="note">Each bar is one driver, in percentage points of churn risk; right adds risk, '
        f"left removes it. {_legend()}</p>"
        f"{_waterfall(x)}</section>"
    )


def _legend() -> str:
    return '<span class="legend">' + "".join(_group_chip(g) for g in GROUP_COLOURS) + "</span>"


def _reason_item(r: Reason, kind: str) -> str:
    return (
        f'<li class="reason {kind}">'
        f'<span class="pts">{_e(risk_points(r.points))}</span>'
        f'<div class="reason-body"><p class="sentence">{_e(r.sentence)}</p>'
        f'<p class="reason-meta">{_group_chip(r.group)} <span class="muted">{_e(r.label)}: '
        f"{_e(r.display_value)}</span></p></div></li>"
    )


def _reasons_section(section_id: str, title: str, reasons: Sequence[Reason], kind: str, empty: str) -> str:
    body = (
        f'<ol class="reasons">{"".join(_reason_item(r, kind) for r in reasons)}</ol>'
        if reasons
        else f'<p class="muted">{_e(empty)}</p>'
    )
    return f'<section id="{section_id}" class="card"><h2>{_e(title)}</h2>{body}</section>'


def _groups_section(groups: Sequence[GroupShare]) -> str:
    return f'<section id="groups" class="card"><h2>By driver group</h2>{_group_bars(groups)}</section>'


def _change_section(change: Change) -> str:
    direction = "up" if change.points > 0 else "down" if change.points < 0 else "flat"
    movers = "".join(
        f'<li class="mover"><span class="pts">{_e(risk_points(m.points))}</span> '
        f"<span>{_e(m.phrase)}</span> {_group_chip(m.group)}</li>"
        for m in change.movers
    )
    return (
        f'<section id="change" class="card change change-{direction}">'
        f"<h2>What changed since {_e(calendar_date(change.as_of_then))}</h2>"
        f'<p class="change-line"><span class="from">{_e(percent(change.churn_risk_then))}</span> → '
        f'<span class="to">{_e(percent(change.churn_risk_now))}</span> '
        f'<span class="delta">{_e(risk_points(change.points))}</span></p>'
        f'<p class="summary">{_e(change.summary)}</p>'
        + (f'<ul class="movers">{movers}</ul>' if movers else "")
        + "</section>"
    )


def _metric_card(series: MetricSeries) -> str:
    latest = next((v for _, v in reversed(series.points) if _ok(v)), None)
    return (
        f'<figure class="metric" data-metric="{_e(series.name)}">'
        f'<figcaption><span class="metric-label">{_e(series.label)}</span>'
        f'<span class="metric-latest">{_e(short_number(latest))} <small>{_e(series.unit)}</small></span>'
        f"{_group_chip(series.group)}</figcaption>{_metric_chart(series)}</figure>"
    )


def _metrics_section(series: Sequence[MetricSeries]) -> str:
    body = (
        f'<div class="metrics-grid">{"".join(_metric_card(s) for s in series)}</div>'
        if series
        else '<p class="muted">No weekly metrics for this account.</p>'
    )
    return f'<section id="metrics" class="card"><h2>Weekly signals</h2>{body}</section>'


def _play_row(p: Play) -> str:
    status_class = p.status.replace(" ", "-")
    return (
        f'<tr class="play status-{_e(status_class)}">'
        f'<td><p class="play-title">{_e(p.title)}</p><p class="play-action">{_e(p.action)}</p>'
        f'<p class="because muted">Because: {_e(p.because)}</p>{_event_line(p)}</td>'
        f"<td>{_group_chip(p.group)}</td><td>{_e(p.owner)}</td>"
        f'<td class="num">{_e(p.timing)}</td><td class="nowrap">{_e(calendar_date(p.due))}</td>'
        f'<td><span class="chip status">{_e(p.status)}</span></td></tr>'
    )


def _event_line(p: Play) -> str:
    """ "Within 7 days of the event on 14 Oct 2026": why a play is due earlier than its renewal timing."""
    if p.within_days is None or p.event_date is None:
        return ""
    return f'<p class="event muted">Within {p.within_days} days of the event on {_e(calendar_date(p.event_date))}</p>'


def _plays_section(plays: Sequence[Play]) -> str:
    if not plays:
        return '<section id="plays" class="card"><h2>Plays</h2><p class="muted">No plays suggested.</p></section>'
    head = "".join(f"<th>{h}</th>" for h in ("Play", "Driver", "Owner", "Timing", "Due", "Status"))
    rows = "".join(_play_row(p) for p in plays)
    return (
        '<section id="plays" class="card"><h2>Plays on the renewal calendar</h2>'
        f'<div class="table-wrap"><table class="plays"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _footer(model_version: str, generated_at: str) -> str:
    when = f" · generated {_e(generated_at)}" if generated_at else ""
    return f'<footer class="footer">Model {_e(model_version)}{when}</footer>'


def render_account_page(page: AccountPage) -> str:
    """One account's renewal risk, why, how it moved and what to do, as a self-contained HTML document."""
    x = page.explanation
    sections = [
        _header(x),
        f'<div class="row two">{_risk(x)}{_trend(page)}</div>',
        _waterfall_section(x),
        '<div class="row halves">'
        + _reasons_section("reasons", "Risk drivers", x.risk_drivers, "driver", "No strong risk drivers.")
        + _reasons_section("protective", "Protective factors", x.protective, "protective", "No protective factors.")
        + "</div>",
        '<div class="row halves">'
        + _groups_section(x.groups)
        + (_change_section(x.change) if x.change is not None else "")
        + "</div>",
        _metrics_section(page.series),
        _plays_section(x.plays),
        _footer(x.model_version, page.generated_at),
    ]
    title = f"{x.account_id} ({x.name})" if x.name else x.account_id
    return _document(f"{title} · renewal risk", "".join(sections))


# ---------------------------------------------------------------- portfolio page


def _totals(portfolio: Portfolio) -> str:
    """The whole renewing book's totals, even when the table below shows only its top rows."""
    totals = portfolio.totals
    arr, at_risk = totals.arr, totals.arr_at_risk
    share = f"{at_risk / arr:.0%} of ARR" if arr > 0 else ""
    mix = " ".join(f'<span class="chip band band-{b}">{n:,} {b}</span>' for b, n in totals.bands.items() if n)
    tiles = [
        ("Accounts renewing", f"{totals.accounts:,}", mix),
        ("ARR renewing", money(arr), ""),
        ("ARR at risk", money(at_risk), _e(share)),
        ("Expected renewing ARR", money(arr - at_risk), "ARR minus ARR at risk"),
    ]
    return (
        '<section id="totals" class="kpis">'
        + "".join(
            f'<div class="card kpi"><p class="kpi-label">{_e(k)}</p><p class="kpi-value">{_e(v)}</p>'
            f'<p class="kpi-note">{note}</p></div>'
            for k, v, note in tiles
        )
        + "</section>"
    )


def _shown_line(portfolio: Portfolio) -> str:
    """Which renewals the table lists: all of them, or the top by ARR at risk out of how many."""
    shown, total = len(portfolio.rows), portfolio.totals.accounts
    if portfolio.shows_all:
        return "The one renewal." if shown == 1 else f"All {shown:,} renewals, the most ARR at risk first."
    return f"The {shown:,} renewals with the most ARR at risk, of {total:,}; the totals above count all {total:,}."


def _segment(segment: str | None) -> str:
    """Segment names as words: mid_market -> Mid-market, smb -> SMB."""
    if not segment:
        return DASH
    return SEGMENT_NAMES.get(segment, segment.replace("_", " ").capitalize())


def _portfolio_row(r: PortfolioRow, href: str, trend_top: float) -> str:
    chips = " ".join(_group_chip(g) for g in r.top_groups)
    return (
        '<tr class="account-row">'
        f'<td class="account"><a href="{_e(href)}">{_e(r.account_id)}</a>'
        + (f'<br><span class="account-name">{_e(r.name)}</span>' if r.name else "")
        + "</td>"
        f'<td class="nowrap">{_e(_segment(r.segment))}</td>'
        f'<td class="num">{_e(money(r.arr))}</td>'
        f'<td class="nowrap">{_e(calendar_date(r.renewal_date))}<br>'
        f'<span class="muted days">{_e(days_from_now(r.days_to_renewal))}</span></td>'
        f'<td class="nowrap"><strong class="risk-value">{_e(percent(r.churn_risk))}</strong> '
        f"{_band_chip(r.risk_band, '')}</td>"
        f'<td class="num">{_e(money(r.arr_at_risk))}</td>'
        f"<td>{_sparkline(r.trend, trend_top, BAND_COLOURS.get(r.risk_band, INK))}</td>"
        f'<td class="reason-cell"><div class="chips">{chips}</div>'
        f'<p class="top-reason">{_e(r.top_reason)}</p></td></tr>'
    )


def render_portfolio_page(
    portfolio: Portfolio,
    account_href: Callable[[str], str] = lambda account_id: f"accounts/{account_id}.html",
) -> str:
    """The renewals due within the horizon, riskiest ARR first, each linking to its account page."""
    title = f"Renewals in the next {portfolio.horizon_days} days"
    low, high = portfolio.bands
    header = (
        '<header id="portfolio-header" class="card header">'
        f'<p class="eyebrow">Renewal risk · portfolio</p><h1>{_e(title)}</h1>'
        f'<p class="muted">As of {_e(calendar_date(portfolio.as_of))} · model {_e(portfolio.model_version)} · '
        f"low risk below {_e(percent(low))}, high from {_e(percent(high))}</p>"
        f'<p class="muted meaning">Churn risk is, for a contract of 90 days or more, {_e(RISK_MEANINGS["annual"])}; '
        f"for a monthly plan, {_e(RISK_MEANINGS['monthly'])}.</p></header>"
    )
    if not portfolio.rows:
        body = (
            f'<section class="card empty" id="empty"><p>No renewals in the next {portfolio.horizon_days} days.</p>'
            '<p class="muted">Nothing to review: check back when the next contracts come into range.</p></section>'
        )
    else:
        heads = ("Account", "Segment", "ARR", "Renewal", "Churn risk", "ARR at risk", "Trend", "Top drivers and why")
        head = "".join(f'<th class="num">{h}</th>' if h in ("ARR", "ARR at risk") else f"<th>{h}</th>" for h in heads)
        trend_top = max((v for r in portfolio.rows for v in r.trend if _ok(v)), default=1.0)
        rows = "".join(_portfolio_row(r, account_href(r.account_id), trend_top) for r in portfolio.rows)
        body = (
            _totals(portfolio) + '<section class="card"><div class="table-wrap">'
            f'<p class="muted" id="shown">{_e(_shown_line(portfolio))}</p><table id="portfolio">'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div></section>"
        )
    return _document(title, header + body + _footer(portfolio.model_version, portfolio.generated_at))


# ---------------------------------------------------------------- document


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f'<body><main class="page">{body}</main></body></html>\n'
    )


_CSS = """
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f1f5f9;--card:#fff;--accent:#2563eb}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",
Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif;font-variant-numeric:tabular-nums}
.page{max-width:1160px;margin:0 auto;padding:28px 24px 40px;display:flex;flex-direction:column;gap:18px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px 22px;
box-shadow:0 1px 2px rgba(15,23,42,.05);min-width:0}
h1{font-size:26px;line-height:1.2;margin:2px 0 12px;overflow-wrap:anywhere}
.header .account-name{font-size:17px;font-weight:600;margin:-6px 0 12px;overflow-wrap:anywhere}
td .account-name{color:var(--muted);overflow-wrap:anywhere}
h2{font-size:15px;margin:0 0 10px;letter-spacing:.01em}
p{margin:0}
.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:11px;font-weight:600;color:var(--accent)}
.muted,.note{color:var(--muted)}
.note{font-size:12.5px;margin-bottom:10px}
.facts{display:flex;flex-wrap:wrap;gap:10px 34px;margin:0}
.fact dt,.mini dt,.kpi-label{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.fact dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.row{display:grid;gap:18px}
.row.two{grid-template-columns:minmax(240px,1fr) 2.4fr}
.row.halves{grid-template-columns:repeat(auto-fit,minmax(320px,1fr))}
.risk .big{font-size:56px;font-weight:700;line-height:1;letter-spacing:-.02em;margin-top:6px}
.big-caption{color:var(--muted);margin-bottom:14px}
.churn{display:flex;align-items:center;gap:8px;flex-wrap:wrap;font-size:15px}
.mini{display:flex;gap:26px;margin:14px 0 0}
.mini dd{margin:0;font-weight:600;font-size:16px}
.summary{margin-top:12px;padding-top:12px;border-top:1px solid var(--line);overflow-wrap:anywhere}
.chip{display:inline-block;padding:1px 9px;border-radius:999px;font-size:11.5px;font-weight:600;
line-height:1.6;white-space:nowrap;vertical-align:middle}
.chip.group{color:var(--c);background:color-mix(in srgb,var(--c) 12%,#fff);border:1px solid
color-mix(in srgb,var(--c) 30%,#fff)}
.band-low{color:#166534;background:#dcfce7}.band-medium{color:#92400e;background:#fef3c7}
.band-high{color:#991b1b;background:#fee2e2}
.legend{display:inline-flex;flex-wrap:wrap;gap:4px;margin-left:6px;vertical-align:middle}
svg.chart{display:block;height:auto;overflow:visible}
svg text{font-family:inherit;fill:var(--ink)}
svg .axis{font-size:11px;fill:var(--muted)}
svg .point-label{font-size:11.5px;font-weight:600}
svg .zone-label{font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.05em}
svg .bar-label{font-size:13px}
svg .bar-value{font-size:11.5px;font-weight:600}
svg .wf-total .bar-label,svg .wf-base .bar-label{font-weight:700}
.chart-empty{color:var(--muted);padding:24px 0;text-align:center}
ol.reasons{list-style:none;margin:0;padding:0}
.reason{display:flex;gap:14px;padding:11px 0;border-top:1px solid var(--line)}
.reason:first-child{border-top:0;padding-top:2px}
.reason .pts{flex:0 0 72px;font-weight:700;text-align:right;white-space:nowrap}
.reason.driver .pts{color:#b91c1c}.reason.protective .pts{color:#15803d}
.reason-body{min-width:0}
.sentence{overflow-wrap:anywhere}
.reason-meta{margin-top:4px;font-size:12.5px}
.change-line{font-size:22px;font-weight:700;margin-bottom:6px}
.change-line .from{color:var(--muted)}
.change-up .delta{color:#b91c1c}.change-down .delta{color:#15803d}
.delta{font-size:15px;margin-left:6px}
.change .summary{border-top:0;padding-top:0;margin-top:0}
.movers{margin:10px 0 0;padding:0;list-style:none}
.mover{padding:5px 0;border-top:1px dashed var(--line);overflow-wrap:anywhere}
.mover .pts{font-weight:700;display:inline-block;min-width:70px}
.metrics-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px}
.metric{margin:0;border:1px solid var(--line);border-radius:10px;padding:12px 14px 8px}
.metric figcaption{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 8px;margin-bottom:6px}
.metric-label{flex:1 1 100%;font-size:12.5px;color:var(--muted);overflow-wrap:anywhere}
.metric-latest{font-size:20px;font-weight:700}
.metric-latest small{font-size:12px;color:var(--muted);font-weight:400}
.table-wrap{overflow-x:auto}
table{width:100%;border-collapse:collapse}
th{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);text-align:left;
padding:8px 10px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:11px 10px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:break-word}
tr:last-child td{border-bottom:0}
.num{text-align:right;white-space:nowrap}
.nowrap{white-space:nowrap}
.play-title{font-weight:600}
.play-action{margin-top:2px}
.because{font-size:12px;margin-top:4px}
tr.status-due-now td{background:#fffbeb}
tr.status-due-now td:first-child{box-shadow:inset 3px 0 0 #d97706}
.status-due-now .chip.status{background:#fde68a;color:#78350f}
.chip.status{background:#f1f5f9;color:#334155}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:14px}
.kpi-value{font-size:28px;font-weight:700;letter-spacing:-.01em;margin:2px 0}
.kpi-note{font-size:12px;color:var(--muted);display:flex;gap:4px;flex-wrap:wrap}
#portfolio td.account{font-weight:600;min-width:110px;max-width:190px;overflow-wrap:anywhere}
#portfolio td,#portfolio th{padding-left:8px;padding-right:8px}
#portfolio a{color:var(--accent);text-decoration:none}
#portfolio a:hover{text-decoration:underline}
#portfolio .risk-value{display:inline-block;min-width:34px}
#portfolio .chips{display:flex;flex-wrap:wrap;gap:3px;margin-bottom:4px}
.reason-cell{min-width:240px;font-size:13px}
.days{font-size:12px}
tbody tr.account-row:hover td{background:#f8fafc}
.empty{text-align:center;padding:48px 20px;font-size:16px}
.footer{color:var(--muted);font-size:12px;text-align:center}
@media (max-width:760px){.row.two{grid-template-columns:1fr}}
@media print{body{background:#fff}.page{padding:0;max-width:none}.card{box-shadow:none;break-inside:avoid}
#portfolio tr{break-inside:avoid}a{color:inherit}}
"""
