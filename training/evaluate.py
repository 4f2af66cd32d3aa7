"""Evaluation: the numbers and pictures that say whether a renewal-risk model is worth using.

``y`` is the churn label (1 = did not renew), ``p`` the predicted churn probability and
``arr`` each contract's ARR. Ranking (ROC/PR AUC), probability quality (Brier, log loss,
ECE) and what a CS team gets from working the riskiest accounts first (lift, churn capture,
churned ARR capture) are all reported, because a model can win on one and lose on another.
A metric that is undefined for the data (one class only, no ARR) is omitted, not NaN.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

ECE_BINS = 15


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |observed churn rate − mean predicted| over equal-width probability bins, weighted by bin size."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    which = np.clip((p * bins).astype(int), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    observed = np.bincount(which, weights=y, minlength=bins)
    predicted = np.bincount(which, weights=p, minlength=bins)
    used = counts > 0
    return float(np.sum(np.abs(observed[used] - predicted[used])) / len(y))


def _top(p: np.ndarray, share: float) -> np.ndarray:
    """Positions of the ceil(share·n) highest scores; ties keep the original order (deterministic)."""
    k = int(np.ceil(share * len(p)))
    return np.argsort(-np.asarray(p), kind="stable")[:k]


def risk_metrics(
    y: np.ndarray, p: np.ndarray, arr: np.ndarray | None = None, prefix: str = "test_"
) -> dict[str, float]:
    """Headline metrics with ``prefix``: AUCs, Brier, log loss, ECE, lift and capture at 10/20%, ARR capture."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    out: dict[str, float] = {"n": float(len(y)), "churn_rate": float(y.mean()) if len(y) else 0.0}
    if len(y) == 0:
        return {prefix + k: v for k, v in out.items()}
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    out["brier"] = float(np.mean((p - y) ** 2))
    out["log_loss"] = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
    out["ece"] = expected_calibration_error(y, p)
    if 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["pr_auc"] = float(average_precision_score(y, p))
        for share in (10, 20):
            top = _top(p, share / 100)
            out[f"lift_at_{share}"] = float(y[top].mean() / y.mean())
            out[f"capture_at_{share}"] = float(y[top].sum() / y.sum())
            if arr is not None:
                arr = np.asarray(arr, dtype=float)
                churned_arr = float(np.sum(arr * y))
                if churned_arr > 0:
                    out[f"arr_capture_at_{share}"] = float(np.sum(arr[top] * y[top]) / churned_arr)
    return {prefix + k: v for k, v in out.items()}


def metrics_by_segment(
    y: np.ndarray, p: np.ndarray, arr: np.ndarray | None, segment: np.ndarray, prefix: str = "test_", min_rows: int = 20
) -> dict[str, float]:
    """``risk_metrics`` per segment, keyed ``<metric>__<segment>``; segments under ``min_rows`` rows are skipped."""
    out: dict[str, float] = {}
    segment = np.asarray(segment).astype(str)
    for value in sorted(set(segment)):
        rows = segment == value
        if rows.sum() < min_rows:
            continue
        metrics = risk_metrics(
            np.asarray(y)[rows], np.asarray(p)[rows], None if arr is None else np.asarray(arr)[rows], prefix
        )
        out |= {f"{key}__{value}": v for key, v in metrics.items()}
    return out


# Rules of the kind customer-success teams configure in their platforms, with their weights.
HEALTH_RULES: tuple[tuple[str, float], ...] = (
    ("no login in 30 days", 2.0),
    ("usage dropped by more than 30%", 2.0),
    ("seat utilization below 30%", 1.0),
    ("two or fewer modules in use", 1.0),
    ("last NPS below 7", 1.0),
    ("urgent tickets piling up", 1.0),
    ("champion left", 1.0),
    ("failed or late invoices", 1.0),
    ("price up more than 15% at renewal", 1.0),
)


def rules_health_score(frame: pd.DataFrame) -> np.ndarray:
    """A rules-based risk score in [0, 1] (higher = riskier): weighted share of ``HEALTH_RULES`` triggered.

    A rule whose column is absent, or whose value is missing, is not triggered: that is how
    such scores behave in practice, and why they miss accounts with little data.
    """

    def column(name: str) -> pd.Series:
        return pd.to_numeric(frame[name], errors="coerce") if name in frame else pd.Series(np.nan, index=frame.index)

    idle = column("usage_logins_days_since_last").fillna(column("usage_active_users_days_since_last"))
    triggered = [
        idle > 30,
        column("usage_active_users_trend_30d") < -0.3,
        column("seat_utilization_30d") < 0.3,
        column("modules_used_30d") <= 2,
        column("nps_last_score") < 7,
        (column("tickets_urgent_30d").fillna(0) + column("tickets_high_30d").fillna(0) >= 2)
        | (column("urgent_high_open_over_14d") >= 1),
        column("has_champion") == 0,
        column("failed_or_late_invoices_90d") >= 1,
        column("arr_change_at_last_renewal") > 0.15,
    ]
    weights = np.array([w for _, w in HEALTH_RULES])
    fired = np.column_stack([t.fillna(False).to_numpy(dtype=bool) for t in triggered])
    return (fired @ weights) / weights.sum()


def lift_table(y: np.ndarray, p: np.ndarray, arr: np.ndarray | None = None, bins: int = 10) -> pd.DataFrame:
    """Per risk decile (1 = riskiest): size, churners, churn rate, lift, cumulative capture, churned ARR share."""
    y = np.asarray(y, dtype=float)
    order = np.argsort(-np.asarray(p), kind="stable")
    decile = np.empty(len(y), dtype=int)
    decile[order] = np.arange(len(y)) * bins // max(len(y), 1) + 1
    frame = pd.DataFrame({"decile": decile, "churned": y, "arr": np.zeros(len(y)) if arr is None else np.asarray(arr)})
    frame["churned_arr"] = frame["arr"] * frame["churned"]
    table = frame.groupby("decile").agg(
        n=("churned", "size"), churners=("churned", "sum"), churned_arr=("churned_arr", "sum")
    )
    table["churn_rate"] = table["churners"] / table["n"]
    table["lift"] = table["churn_rate"] / (y.mean() if y.mean() > 0 else np.nan)
    table["cumulative_capture"] = table["churners"].cumsum() / max(y.sum(), 1)
    total_arr = table["churned_arr"].sum()
    table["churned_arr_share"] = table["churned_arr"] / total_arr if total_arr > 0 else np.nan
    return table.reset_index()


def _save(fig: plt.Figure, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_roc_pr(y: np.ndarray, p: np.ndarray, path: Path | str, baselines: dict[str, np.ndarray] | None = None) -> Path:
    """ROC and precision-recall curves of the model and any baselines, side by side."""
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name, scores in {"model": p, **(baselines or {})}.items():
        fpr, tpr, _ = roc_curve(y, scores)
        precision, recall, _ = precision_recall_curve(y, scores)
        style = {"linewidth": 2.2} if name == "model" else {"linewidth": 1.2, "linestyle": "--"}
        roc_ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, scores):.3f})", **style)
        pr_ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y, scores):.3f})", **style)
    roc_ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    pr_ax.axhline(np.mean(y), color="grey", linewidth=0.8, label=f"base rate {np.mean(y):.1%}")
    roc_ax.set(title="ROC curve", xlabel="false positive rate", ylabel="true positive rate")
    pr_ax.set(title="Precision-recall curve", xlabel="recall (churners found)", ylabel="precision")
    roc_ax.legend(fontsize=8, loc="lower right")
    pr_ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def plot_calibration(
    y: np.ndarray, p: np.ndarray, path: Path | str, p_uncalibrated: np.ndarray | None = None, bins: int = ECE_BINS
) -> Path:
    """Reliability diagram (observed vs predicted churn per bin) with the predictions' histogram below."""
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.5, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    curves = {"calibrated": p} | ({"uncalibrated": p_uncalibrated} if p_uncalibrated is not None else {})
    for name, scores in curves.items():
        scores = np.asarray(scores)
        which = np.clip((scores * bins).astype(int), 0, bins - 1)
        used = np.bincount(which, minlength=bins) > 0
        mean_p = np.bincount(which, weights=scores, minlength=bins)[used] / np.bincount(which, minlength=bins)[used]
        rate = np.bincount(which, weights=y, minlength=bins)[used] / np.bincount(which, minlength=bins)[used]
        ax.plot(mean_p, rate, marker="o", label=f"{name} (ECE {expected_calibration_error(y, scores, bins):.3f})")
        hist.hist(scores, bins=40, range=(0, 1), alpha=0.6, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="perfect")
    ax.set(title="Calibration on the test window", ylabel="observed churn rate", xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8)
    hist.set(xlabel="predicted churn probability", ylabel="contracts")
    return _save(fig, path)


def plot_lift_gain(y: np.ndarray, p: np.ndarray, path: Path | str) -> Path:
    """Cumulative gain (churners found vs accounts worked, riskiest first) and lift per decile."""
    y = np.asarray(y, dtype=float)
    order = np.argsort(-np.asarray(p), kind="stable")
    worked = np.arange(1, len(y) + 1) / len(y)
    found = np.cumsum(y[order]) / max(y.sum(), 1)
    fig, (gain, lift) = plt.subplots(1, 2, figsize=(10, 4.2))
    gain.plot(worked, found, linewidth=2.2, label="model")
    gain.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="random")
    gain.set(
        title="Cumulative gain", xlabel="share of accounts worked (riskiest first)", ylabel="share of churners found"
    )
    gain.legend(fontsize=8)
    table = lift_table(y, p)
    lift.bar(table["decile"], table["lift"], color="#3b6ea5")
    lift.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    lift.set(title="Lift by risk decile", xlabel="risk decile (1 = riskiest)", ylabel="churn rate / average")
    return _save(fig, path)


def plot_shap_summary(
    contributions: np.ndarray, features: pd.DataFrame, path: Path | str, max_features: int = 20
) -> Path:
    """Beeswarm-style SHAP summary: one row per feature (most important on top), dots coloured by value."""
    strength = np.abs(contributions).mean(axis=0)
    top = np.argsort(-strength)[:max_features][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(top) + 1.5))
    rng = np.random.default_rng(0)
    for row, j in enumerate(top):
        values = features.iloc[:, j]
        numeric = pd.to_numeric(values, errors="coerce") if not isinstance(values.dtype, pd.CategoricalDtype) else None
        if numeric is not None and numeric.notna().any():
            low, high = np.nanpercentile(numeric, [5, 95])
            colour = np.clip((numeric.to_numpy() - low) / ((high - low) or 1.0), 0, 1)
            colours = plt.cm.coolwarm(np.nan_to_num(colour, nan=0.5))
            colours[numeric.isna().to_numpy()] = (0.7, 0.7, 0.7, 1.0)
        else:
            colours = np.tile((0.6, 0.6, 0.6, 1.0), (len(values), 1))
        jitter = rng.normal(0, 0.08, len(values))
        ax.scatter(contributions[:, j], row + jitter, c=colours, s=6, alpha=0.7, linewidths=0)
    ax.set_yticks(range(len(top)), [features.columns[j] for j in top], fontsize=8)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set(
        title="What drives churn risk (SHAP, test window)", xlabel="contribution to churn log-odds (right = riskier)"
    )
    scale = plt.cm.ScalarMappable(cmap="coolwarm")
    bar = fig.colorbar(scale, ax=ax, fraction=0.03, pad=0.01)
    bar.set_ticks([0, 1], labels=["low", "high"])
    bar.set_label("feature value (grey: missing or category)", fontsize=8)
    return _save(fig, path)
