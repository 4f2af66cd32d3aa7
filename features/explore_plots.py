"""Pictures of the exploratory tables in ``features.explore``: one matplotlib Figure per function.

Each function draws a tidy frame that ``features.explore`` returns and gives the Figure back
(nothing is written or shown here), so a notebook displays it and a script can save it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.catalog import Catalog

RENEWED, CHURNED = "#2563eb", "#dc2626"
OUTCOME_COLOURS = {"renewed": RENEWED, "churned": CHURNED}
ALL_COLOUR = "#0f172a"


def _label(name: str, catalog: Catalog | None) -> str:
    if catalog is not None and name in catalog:
        feature = catalog[name]
        return feature.label or feature.description or name
    return name.replace("_", " ")


def _grid(n: int, columns: int = 3, size: tuple[float, float] = (4.4, 3.3)) -> tuple[Figure, np.ndarray]:
    columns = max(1, min(columns, n))
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(size[0] * columns, size[1] * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def plot_rows_per_month(counts: pd.DataFrame) -> Figure:
    """Rows per month per table (``explore.rows_per_month``), log scale: a gap or a jump in an export stands out."""
    fig, ax = plt.subplots(figsize=(10, 4))
    for table in counts.columns:
        ax.plot(counts.index, counts[table].where(counts[table] > 0), marker=".", label=table)
    ax.set_yscale("log")
    ax.set(title="Rows per month in each table", xlabel="month", ylabel="rows (log scale)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return fig


def plot_renewals_by_period(summary: pd.DataFrame, by: str = "segment") -> Figure:
    """Renewal rate, gross and net ARR retention per period (``explore.renewals_by_period``), a line per group."""
    measures = {
        "renewal_rate": "Renewal rate (contracts)",
        "gross_arr_retention": "Gross ARR retention",
        "net_arr_retention": "Net ARR retention",
    }
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharex=True)
    periods = sorted(summary["period"].unique())
    x = {p: i for i, p in enumerate(periods)}
    groups = [g for g in summary[by].unique() if g != "all"] + (["all"] if (summary[by] == "all").any() else [])
    for ax, (column, title) in zip(axes, measures.items(), strict=True):
        for group in groups:
            part = summary[summary[by] == group]
            style = {"color": ALL_COLOUR, "linewidth": 2.6} if group == "all" else {"linewidth": 1.4, "alpha": 0.85}
            ax.plot(part["period"].map(x), part[column], marker="o", markersize=3, label=str(group), **style)
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        ax.set(title=title, xlabel="quarter the contract ended" if "Q" in periods[0] else "period", ylabel="share")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xticks(range(len(periods)), periods, rotation=45, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, title=by)
    fig.suptitle("Renewal outcomes over time (open contracts left out)")
    fig.tight_layout()
    return fig


def plot_cohort_retention(curves: pd.DataFrame, min_accounts: int = 10) -> Figure:
    """Retention curves by signup cohort (``explore.cohort_retention``); months seen by fewer accounts are cut."""
    fig, ax = plt.subplots(figsize=(9, 4.6))
    for cohort, part in curves.groupby("cohort", sort=True):
        part = part[part["accounts"] >= min_accounts]
        if part.empty:
            continue
        size = int(part["accounts"].iloc[0])
        ax.step(part["months_since_signup"], part["retention"], where="post", label=f"{cohort} ({size} accounts)")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set(
        title="Retention by signup cohort",
        xlabel="months since signup",
        ylabel="accounts still customers",
        ylim=(0, 1.02),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="cohort")
    fig.tight_layout()
    return fig


def plot_signal_comparison(
    frame: pd.DataFrame, signals: Sequence[str], catalog: Catalog | None = None, columns: int = 3
) -> Figure:
    """Box plots of each signal in training snapshots, renewed vs churned; missing values are counted, not drawn."""
    fig, axes = _grid(len(signals), columns)
    churned = frame["churned"].astype(bool).to_numpy()
    for ax, name in zip(axes, signals, strict=False):
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        parts, labels = [], []
        for outcome, mask in (("renewed", ~churned), ("churned", churned)):
            data = values[mask]
            known = data[np.isfinite(data)]
            parts.append(known)
            labels.append(f"{outcome}\n(n={len(data):,}, {1 - len(known) / max(len(data), 1):.0%} missing)")
        boxes = ax.boxplot(parts, tick_labels=labels, showfliers=False, patch_artist=True, widths=0.55)
        for patch, colour in zip(boxes["boxes"], (RENEWED, CHURNED), strict=True):
            patch.set(facecolor=colour, alpha=0.35, edgecolor=colour)
        for i, known in enumerate(parts, start=1):
            if len(known):
                ax.plot(i, known.mean(), marker="D", color="black", markersize=4)
        ax.set_title(_label(name, catalog), fontsize=10)
        ax.set_ylabel(name, fontsize=7)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Signals before renewal: renewed vs churned contracts (box: quartiles, ◆: mean)")
    fig.tight_layout()
    return fig


def plot_signal_trajectories(trajectories: pd.DataFrame, catalog: Catalog | None = None, columns: int = 3) -> Figure:
    """Median (line) and quartiles (band) of each signal by days before renewal (``explore.signal_trajectories``)."""
    signals = list(dict.fromkeys(trajectories["signal"]))
    fig, axes = _grid(len(signals), columns)
    for ax, name in zip(axes, signals, strict=False):
        for outcome, colour in OUTCOME_COLOURS.items():
            part = trajectories[(trajectories["signal"] == name) & (trajectories["outcome"] == outcome)]
            part = part.sort_values("days_before_renewal")
            if part.empty:
                continue
            days = part["days_before_renewal"]
            ax.plot(days, part["median"], marker="o", color=colour, label=outcome)
            ax.fill_between(days, part["p25"], part["p75"], color=colour, alpha=0.12)
        ax.invert_xaxis()  # time runs towards the renewal
        ax.set_title(_label(name, catalog), fontsize=10)
        ax.set_xlabel("days before renewal", fontsize=8)
        ax.grid(alpha=0.3)
    if len(signals):
        axes[0].legend(fontsize=8)
    fig.suptitle("How the signals move towards the renewal date (median and quartiles)")
    fig.tight_layout()
    return fig
