"""Matplotlib versions of the account page's pictures, for notebooks: waterfall, risk trend, driver groups.

The waterfall uses the same steps as the HTML page (``explain.charts.waterfall_steps``), so both tell the same
story: from comparable accounts' churn risk to this account's, one bar per top driver
(coloured by driver group), everything else in one bar. Each function returns a Figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from explain.charts import BAND_COLOURS, GROUP_COLOURS, OTHER_COLOUR, waterfall_steps
from explain.records import Explanation, TrendPoint

INK = "#0f172a"


def plot_waterfall(explanation: Explanation, top: int = 8) -> Figure:
    """From comparable accounts' churn risk to this account's: the top ``top`` drivers, then the rest.

    Needs an explanation made with ``detail=True`` (every feature's points); bars to the right
    raise the risk, to the left lower it, in percentage points.
    """
    steps = waterfall_steps(explanation, top)
    start, final = explanation.peer_churn_risk * 100, explanation.churn_risk * 100
    labels = ["Comparable accounts", *(s.label for s in steps), "This account"]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(labels) + 1.4))
    y = np.arange(len(labels))[::-1]
    ax.barh(y[0], start, color=OTHER_COLOUR, height=0.6)
    ax.text(start, y[0], f"  {start:.1f}%", va="center", fontsize=8)
    for i, step in enumerate(steps, start=1):
        left, width = min(step.start, step.end), abs(step.points)
        ax.barh(y[i], max(width, 0.05), left=left, color=GROUP_COLOURS.get(step.group, OTHER_COLOUR), height=0.6)
        ax.plot([step.start, step.start], [y[i] + 0.7, y[i] - 0.3], color="grey", linewidth=0.6, linestyle=":")
        ax.text(left + width, y[i], f"  {step.points:+.1f} pts", va="center", fontsize=8)
    ax.barh(y[-1], final, color=BAND_COLOURS.get(explanation.risk_band, INK), height=0.6)
    ax.text(final, y[-1], f"  {final:.1f}%", va="center", fontsize=8, fontweight="bold")
    ax.set_yticks(y, [_short(label) for label in labels], fontsize=8)
    ax.set_xlim(0, max(start, final, *(max(s.start, s.end) for s in steps)) * 1.18 + 1)
    ax.set(
        title=f"{explanation.account_id}: why the churn risk is {final:.1f}% ({explanation.risk_band})",
        xlabel="churn risk (%): each bar adds or removes percentage points",
    )
    ax.grid(alpha=0.3, axis="x")
    groups = list(dict.fromkeys(s.group for s in steps if s.group in GROUP_COLOURS))
    handles = [plt.Rectangle((0, 0), 1, 1, color=GROUP_COLOURS[g]) for g in groups]
    if handles:
        ax.legend(handles, groups, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="driver group",
                  title_fontsize=8)  # fmt: skip
    fig.tight_layout()
    return fig


def plot_risk_trend(trend: Sequence[TrendPoint], bands: tuple[float, float], title: str = "") -> Figure:
    """Churn risk at each monthly snapshot (``AccountPage.trend``) over the low / medium / high bands."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    trend = [p for p in trend if p.churn_risk is not None and np.isfinite(p.churn_risk)]  # a gap is not a zero
    top = max([bands[1] * 1.5, *(p.churn_risk * 1.15 for p in trend)])
    top = min(top, 1.0)
    ax.axhspan(0, bands[0], color=BAND_COLOURS["low"], alpha=0.08)
    ax.axhspan(bands[0], bands[1], color=BAND_COLOURS["medium"], alpha=0.08)
    ax.axhspan(bands[1], top, color=BAND_COLOURS["high"], alpha=0.08)
    if trend:
        ax.plot([p.as_of for p in trend], [p.churn_risk for p in trend], marker="o", color=INK)
        for p in trend:
            ax.annotate(f"{p.churn_risk:.0%}", (p.as_of, p.churn_risk), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8)  # fmt: skip
    else:
        ax.text(0.5, 0.5, "no earlier snapshots", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_ylim(0, top)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set(title=title or "Churn risk over the monthly snapshots", xlabel="snapshot date", ylabel="churn risk")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def plot_group_points(explanation: Explanation) -> Figure:
    """Percentage points of churn risk per driver group (right: towards churn, left: towards renewal)."""
    groups = sorted(explanation.groups, key=lambda g: g.points)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(groups) + 1.2))
    ax.barh([g.group for g in groups], [g.points for g in groups],
            color=[GROUP_COLOURS.get(g.group, OTHER_COLOUR) for g in groups])  # fmt: skip
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set(title=f"{explanation.account_id}: risk by driver group", xlabel="percentage points of churn risk")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
