"""Figures of a model's quality: ROC and precision-recall, calibration, gain and lift, the SHAP summary.

Every function draws on axes it is given (or makes its own) and returns the figure; callers
decide whether to show it (a notebook), save it (``save``) or log it (``training.track``).
The curves are scikit-learn's displays (``RocCurveDisplay``, ``PrecisionRecallDisplay``,
``CalibrationDisplay``) and the SHAP summary is ``shap.plots.beeswarm``, so what is drawn is
what those libraries compute; only the gain and lift chart, which they do not offer, is ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

from training.evaluate import ECE_BINS, expected_calibration_error, labels_and_scores, lift_table, risk_order

DPI = 110
MODEL_COLOUR = "#1f4e79"
OTHER_COLOUR = "#d95f02"  # the second model of a comparison, or the uncalibrated scores


def save(fig: Figure, path: Path | str) -> Path:
    """Write ``fig`` as a PNG (creating the folder) and free it: training logs several plots per run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


def _axes(axes: Sequence[Axes] | None, count: int, figsize: tuple[float, float]) -> list[Axes]:
    """The caller's ``count`` axes, or those of a new figure with ``count`` side by side."""
    if axes is None:
        _, axes = plt.subplots(1, count, figsize=figsize)
    axes = list(np.atleast_1d(axes))
    if len(axes) != count:
        raise ValueError(f"expected {count} axes, got {len(axes)}")
    return axes


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def _style(name: str, first: str) -> dict:
    """The model's curve bold in its colour; baselines thinner and dashed."""
    return {"linewidth": 2.2, "color": MODEL_COLOUR} if name == first else {"linewidth": 1.3, "linestyle": "--"}


def plot_roc_pr(
    y: np.ndarray, p: np.ndarray, baselines: dict[str, np.ndarray] | None = None, axes: Sequence[Axes] | None = None
) -> Figure:
    """ROC (left) and precision-recall (right) curves of the model, with any baselines dashed.

    Why both: with a 10-20% churn rate ROC flatters every model; PR shows how many of the accounts
    a CSM is sent to are real churn risks. Baselines (e.g. the rules health score) share the axes
    because "better than what we have" is the question that matters.
    """
    y, p = labels_and_scores(y, p)
    roc_ax, pr_ax = _axes(axes, 2, (10, 4.2))
    curves = {"model": p} | {name: labels_and_scores(y, s)[1] for name, s in (baselines or {}).items()}
    churners = int(y.sum())
    if 0 < churners < len(y):
        for name, scores in curves.items():
            RocCurveDisplay.from_predictions(y, scores, name=name, ax=roc_ax, curve_kwargs=_style(name, "model"))
            PrecisionRecallDisplay.from_predictions(y, scores, name=name, ax=pr_ax, curve_kwargs=_style(name, "model"))
        roc_ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":", label="random")
        pr_ax.axhline(y.mean(), color="grey", linewidth=0.8, linestyle=":", label=f"base rate {y.mean():.1%}")
        roc_ax.legend(fontsize=8, loc="lower right")
        pr_ax.legend(fontsize=8, loc="upper right")
    else:
        for ax in (roc_ax, pr_ax):
            _note(ax, "undefined: needs both churners and renewals")
    roc_ax.set(
        title=f"ROC curve (n={len(y):,}, churners={churners:,})",
        xlabel="false positive rate (renewals flagged)",
        ylabel="true positive rate (churners flagged)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    pr_ax.set(
        title="Precision-recall curve",
        xlabel="recall (share of churners found)",
        ylabel="precision (flagged accounts that churn)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    for ax in (roc_ax, pr_ax):
        ax.grid(alpha=0.3)
    return roc_ax.figure


def plot_calibration(
    y: np.ndarray,
    p: np.ndarray,
    p_uncalibrated: np.ndarray | None = None,
    bins: int = ECE_BINS,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Reliability diagram (observed churn rate against mean predicted, equal-width bins) over a histogram of p.

    Why: the diagonal is where probabilities can be added up into a forecast; the histogram shows
    where the bins actually hold accounts (a bad point over an empty bin matters little). The
    uncalibrated curve, when given, shows what calibration bought; each curve's ECE (same bins)
    is in the legend.
    """
    y, p = labels_and_scores(y, p)
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(5.6, 6.2), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax, hist = _axes(axes, 2, (5.6, 6.2))
    curves = {"calibrated": p}
    if p_uncalibrated is not None:
        curves["uncalibrated"] = labels_and_scores(y, p_uncalibrated)[1]
    colours = {"calibrated": MODEL_COLOUR, "uncalibrated": OTHER_COLOUR}
    if len(y) == 0:
        curves = {}
        _note(ax, "no rows")
    for name, scores in curves.items():
        ece = expected_calibration_error(y, scores, bins)
        CalibrationDisplay.from_predictions(
            y, np.clip(scores, 0, 1), n_bins=bins, strategy="uniform", name=f"{name} (ECE {ece:.3f})", ax=ax,
            ref_line=name == "calibrated", marker="o", markersize=4, color=colours[name],
        )  # fmt: skip
        hist.hist(scores, bins=40, range=(0, 1), alpha=0.55, color=colours[name], label=name)
    ax.set(title=f"Calibration (n={len(y):,}, {bins} bins)", ylabel="observed churn rate", xlabel="", xlim=(0, 1))
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    hist.set(xlabel="predicted churn probability", ylabel="contracts")
    hist.grid(alpha=0.3)
    return ax.figure


def plot_lift_gain(y: np.ndarray, p: np.ndarray, axes: Sequence[Axes] | None = None) -> Figure:
    """Cumulative gain (share of churners found against share of accounts worked, riskiest first) and lift per decile.

    Why: this is the picture a CS leader plans capacity with ("if my team calls the riskiest 20%,
    how many of the churners do we reach"), with the random line and the best possible ordering.
    """
    y, p = labels_and_scores(y, p)
    gain, lift = _axes(axes, 2, (10, 4.2))
    churners = y.sum()
    if churners > 0:
        n = len(y)
        worked = np.arange(n + 1) / n
        found = np.concatenate([[0.0], np.cumsum(y[risk_order(p)])]) / churners
        gain.plot(worked, found, linewidth=2.2, color=MODEL_COLOUR, label="model")
        gain.plot(worked, np.minimum(worked * n / churners, 1.0), color="#2ca02c", linewidth=1, label="perfect")
        gain.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="random")
        gain.legend(fontsize=8, loc="lower right")
        table = lift_table(y, p)
        bars = lift.bar(table["decile"], table["lift"], color=MODEL_COLOUR)
        lift.bar_label(bars, labels=[f"{v:.1f}×" for v in table["lift"]], fontsize=7, padding=2)
        lift.axhline(1.0, color="grey", linewidth=0.8, linestyle="--", label="average (random)")
        lift.set_xticks(table["decile"])
        lift.legend(fontsize=8, loc="upper right")
    else:
        for ax in (gain, lift):
            _note(ax, "undefined: no churners")
    gain.set(
        title="Cumulative gain",
        xlabel="share of accounts worked (riskiest first)",
        ylabel="share of churners found",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    lift.set(title="Lift by risk decile", xlabel="risk decile (1 = riskiest)", ylabel="churn rate ÷ overall churn rate")
    gain.grid(alpha=0.3)
    lift.grid(alpha=0.3, axis="y")
    return gain.figure


def plot_shap_summary(
    contributions: np.ndarray,
    features: pd.DataFrame,
    max_features: int = 20,
    *,
    max_points: int = 10_000,
    ax: Axes | None = None,
) -> Figure:
    """``shap.plots.beeswarm`` of the contributions: one row per feature, most important on top.

    ``contributions`` is LightGBM's ``pred_contrib`` without the bias column (rows × features,
    in ``features``' column order), which equals shap's TreeExplainer. Each dot is one account,
    placed by its contribution to the churn log-odds (right = riskier) and coloured by its value
    (categorical values are coloured by their category code). More than ``max_points`` rows are
    subsampled (seeded) to keep the picture readable.
    """
    import shap

    contributions = np.asarray(contributions, dtype=float)
    if contributions.ndim != 2 or contributions.shape != features.shape:
        raise ValueError(
            f"contributions {contributions.shape} must match features {features.shape}; "
            "drop pred_contrib's last (bias) column"
        )
    rows = np.arange(len(features))
    if len(rows) > max_points:
        rows = np.sort(np.random.default_rng(0).choice(rows, max_points, replace=False))
    values = _numeric_view(features.iloc[rows])
    explanation = shap.Explanation(contributions[rows], data=values.to_numpy(), feature_names=list(features.columns))
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 0.38 * min(max_features, features.shape[1]) + 1.6))
    shap.plots.beeswarm(
        explanation, max_display=max_features, ax=ax, show=False, plot_size=None, group_remaining_features=False,
        color_bar_label="feature value",
    )  # fmt: skip
    ax.set_title(f"What drives churn risk (SHAP, {len(rows):,} accounts)")
    ax.set_xlabel("contribution to churn log-odds (right = riskier)")
    return ax.figure


def _numeric_view(features: pd.DataFrame) -> pd.DataFrame:
    """Numbers shap can colour by: categories as their codes (missing stays missing)."""
    columns = {}
    for name in features.columns:
        values = features[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy(dtype=float)
            columns[name] = np.where(codes < 0, np.nan, codes)
        else:
            columns[name] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return pd.DataFrame(columns, index=features.index)


def shap_ranking(contributions: np.ndarray, names: Sequence[str]) -> list[str]:
    """Features by mean |contribution|, most important first: the order the beeswarm draws them in."""
    strength = np.nan_to_num(np.abs(np.asarray(contributions, dtype=float)).mean(axis=0))
    return [names[j] for j in np.argsort(-strength, kind="stable")]
