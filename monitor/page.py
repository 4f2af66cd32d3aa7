"""The monitoring page: the report as one self-contained HTML document (inline CSS, no scripts, no external assets).

Rendered by Jinja2 with autoescape from ``monitor/monitor.html``, so every feature name,
segment or reason that came from the data is escaped by the template engine, never by hand.
The page shows the verdict and its reasons, input drift per feature, the risk distribution
against training, and estimated against realized performance.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from explain.formats import money

_TEMPLATES = Path(__file__).parent


def _known(value) -> bool:
    """A number to show (a missing key, None or NaN shows as a dash)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _percent(value, digits: int = 1) -> str:
    return f"{value:.{digits}%}" if _known(value) else "–"


def _number(value, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if _known(value) else "–"


def _money(value) -> str:
    return money(value) if _known(value) else "–"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {"percent": _percent, "number": _number, "money": _money}
    return env


def render(report: Mapping) -> str:
    """The report (``monitor.report.build_report``) as an HTML5 page."""
    drift = sorted(report["drift"], key=lambda d: (not d["alarm"], -(d["value"] or 0)))
    return _environment().get_template("monitor.html").render(report=report, drift=drift)
