"""The HTML pages customer-success managers read: one per account, and the portfolio of renewals.

Both renderers are pure functions from the typed records in ``explain.records`` to one
self-contained HTML5 document (inline CSS and SVG, no scripts, no external assets), so a page
can be mailed, archived, printed or served by the web service without anything else alongside it.

The layout lives in Jinja2 templates (``explain/templates``), the styles in
``explain/templates/page.css`` (inlined at render time) and the SVG charts in ``explain.charts``.
The environment autoescapes, so customer text (account names, ids, reason sentences) is escaped
without a hand-written escape in sight, and ``StrictUndefined`` turns a misspelt variable into an
error instead of a silently empty cell. Numbers and dates are spelled by ``explain.formats``,
registered here as filters: one spelling for the pages, the CLI and the API.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from explain import charts, formats
from explain.records import AccountPage, MetricSeries, Portfolio
from features.snapshots import RISK_MEANINGS

TEMPLATES = Path(__file__).parent / "templates"
CSS_TEMPLATE = "page.css"


def latest_value(series: MetricSeries) -> float | None:
    """A metric's most recent drawable value, the big number above its chart (None when there is none)."""
    return next((v for _, v in reversed(series.points) if charts.drawable(v)), None)


FILTERS: dict[str, Callable] = {
    "percent": formats.percent,
    "money": formats.money,
    "risk_points": formats.risk_points,
    "short_number": formats.short_number,
    "whole_number": formats.count,  # not "count": that is Jinja's own alias of "length"
    "calendar_date": formats.calendar_date,
    "days_from_now": formats.days_from_now,
    "segment_name": formats.segment_name,
    "group_colour": charts.group_colour,
    "band_colour": charts.band_colour,
    "latest_value": latest_value,
}


GLOBALS: dict[str, object] = {
    "risk_trend_chart": charts.risk_trend_chart,
    "waterfall_chart": charts.waterfall_chart,
    "metric_chart": charts.metric_chart,
    "group_bars": charts.group_bars,
    "sparkline": charts.sparkline,
    "GROUP_COLOURS": charts.GROUP_COLOURS,
    "RISK_MEANINGS": RISK_MEANINGS,
}


@cache
def environment() -> Environment:
    """The one Jinja2 environment every page renders with, built on first use and kept.

    Autoescaping is on for the HTML templates; charts arrive as ``Markup`` and pass through.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    return env


@cache
def page_css() -> Markup:
    """The pages' stylesheet, read once from ``page.css``, to inline into every page (no external assets)."""
    source, _, _ = environment().loader.get_source(environment(), CSS_TEMPLATE)
    return Markup(source)


def render_page(template_name: str, title: str, **context: object) -> str:
    """Render a template that extends ``base.html.j2``: the shared layout, with the CSS inlined.

    A future page (monitoring, say) writes its own template with ``{% extends "base.html.j2" %}``
    and calls this, so it looks like the others and stays just as self-contained.
    """
    html = environment().get_template(template_name).render(title=title, css=page_css(), **context)
    return html + "\n"


def render_account_page(page: AccountPage) -> str:
    """One account's renewal risk, why, how it moved and what to do, as a self-contained HTML document."""
    x = page.explanation
    name = f"{x.account_id} ({x.name})" if x.name else x.account_id
    return render_page("account.html.j2", f"{name} · renewal risk", page=page, x=x)


def render_portfolio_page(
    portfolio: Portfolio,
    account_href: Callable[[str], str] = lambda account_id: f"accounts/{account_id}.html",
) -> str:
    """The renewals due within the horizon, riskiest ARR first, each linking to its account page."""
    trend_top = max((v for r in portfolio.rows for v in r.trend if charts.drawable(v)), default=1.0)
    return render_page(
        "portfolio.html.j2",
        f"Renewals in the next {portfolio.horizon_days} days",
        portfolio=portfolio,
        account_href=account_href,
        trend_top=trend_top,
    )
