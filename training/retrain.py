"""After a retrain: the registry's versions, and the new model beside the champion on the same test window.

The training itself is ``workflow.training.run_training`` (what ``churn train`` and notebook 02
both call). It notes which version was the champion *before* the run, so
``compare_with_champion`` can put the new model and that champion side by side on the new
model's test window, and a person can promote with ``track.promote``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient

from training import evaluate, plots, track
from training.train import TrainResult

COMPARED_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "lift_at_10",
    "arr_capture_at_20",
)


# --------------------------------------------------------------------------- the registry


def champion_version() -> str | None:
    """The version the ``champion`` alias points at in the configured registry, or None."""
    try:
        return str(MlflowClient().get_model_version_by_alias(track.MODEL_NAME, track.CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def registry(limit: int = 10) -> pd.DataFrame:
    """The latest versions of ``renewal-risk``: version, aliases, created, run and its headline test metrics."""
    client = MlflowClient()
    try:
        versions = client.search_model_versions(f"name='{track.MODEL_NAME}'")
    except mlflow.exceptions.MlflowException:
        versions = []
    versions = sorted(versions, key=lambda v: int(v.version), reverse=True)[:limit]
    rows = []
    for v in versions:
        metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
        aliases = client.get_model_version(track.MODEL_NAME, v.version).aliases  # search results may omit them
        rows.append(
            {
                "version": int(v.version),
                "aliases": ", ".join(sorted(aliases)),
                "created": pd.Timestamp(v.creation_timestamp, unit="ms").floor("s"),
                "test_roc_auc": metrics.get("test_roc_auc"),
                "test_pr_auc": metrics.get("test_pr_auc"),
                "test_ece": metrics.get("test_ece"),
                "run_id": v.run_id,
            }
        )
    return pd.DataFrame(
        rows, columns=["version", "aliases", "created", "test_roc_auc", "test_pr_auc", "test_ece", "run_id"]
    )


# --------------------------------------------------------------------------- new model vs champion


@dataclass
class Comparison:
    """The new model and the champion on the same test window."""

    new_version: str | None
    champion_version: str | None
    metrics: pd.DataFrame  # one row per metric: new, champion, difference, the two baselines
    predictions: pd.DataFrame  # the test window: churned, arr, new, champion (when there is one)
    better: bool  # the registry's rule: higher ROC AUC without worse ECE beyond the tolerance
    decision: str
    notes: list[str] = field(default_factory=list)


def compare_with_champion(
    result: TrainResult,
    frame: pd.DataFrame,
    champion: str | None,
    new_version: str | None = None,
    metric: str = "test_roc_auc",
) -> Comparison:
    """Score ``result``'s test window with the champion version too, and judge by the registry's rule.

    ``frame`` is the table ``result`` was trained on (``workflow.training.TrainingRun.table.frame``). With no
    champion the new model is shown alone and counts as better (the registry would promote it).
    """
    test = frame.iloc[result.split["test"]]
    predictions = result.predictions
    y = predictions["churned"].to_numpy()
    arr = predictions["arr"].to_numpy() if "arr" in predictions else None
    scores = pd.DataFrame({"churned": y, "new": predictions["churn_risk"].to_numpy()})
    if arr is not None:
        scores.insert(1, "arr", arr)
    new_label = f"new (v{new_version})" if new_version else "new"
    columns = {new_label: _metric_values(result.metrics, "test_")}
    notes: list[str] = []
    if champion is None:
        better, decision = True, "there is no champion yet: the new model would become the champion"
    elif champion == new_version:
        better, decision = False, f"v{champion} is the new model itself"
    else:
        incumbent = track.load_bundle(f"models:/{track.MODEL_NAME}/{champion}")
        absent = [name for name in incumbent.schema.names if name not in frame.columns]
        if absent:
            notes.append(
                f"{len(absent)} input(s) of the champion are not in these snapshots and count as missing: "
                + ", ".join(absent[:5])
            )
        scores["champion"] = incumbent.churn_probability(test, warn=False)
        theirs = evaluate.risk_metrics(y, scores["champion"].to_numpy(), arr, prefix="test_")
        columns[f"champion (v{champion})"] = _metric_values(theirs, "test_")
        ours = result.metrics
        wins = ours[metric] > theirs.get(metric, -np.inf)
        calibrated = ours["test_ece"] <= theirs["test_ece"] + track.ECE_TOLERANCE
        better = bool(wins and calibrated)
        decision = (
            f"{metric} {ours[metric]:.4f} vs champion v{champion} {theirs.get(metric, float('nan')):.4f}; "
            f"ECE {ours['test_ece']:.4f} vs {theirs['test_ece']:.4f} (tolerance {track.ECE_TOLERANCE}): "
            + ("the new model is better" if better else "the champion stays better")
        )
    table = pd.DataFrame(columns)
    if len(columns) == 2:
        table["difference"] = table.iloc[:, 0] - table.iloc[:, 1]
    for name, label in (("logreg", "logistic regression"), ("rules", "rules health score")):
        table[label] = _metric_values(result.metrics, f"baseline_{name}_test_")
    table.index.name = "test metric"
    return Comparison(new_version, champion, table, scores, better, decision, notes)


def _metric_values(metrics: dict[str, float], prefix: str) -> pd.Series:
    return pd.Series({name: metrics.get(prefix + name, np.nan) for name in COMPARED_METRICS}, dtype="float64")


def plot_comparison(comparison: Comparison, axes=None) -> Figure:
    """ROC curves, reliability curves and cumulative gain of the new model and the champion, same test window.

    The curves are scikit-learn's (``RocCurveDisplay``, ``CalibrationDisplay``, same equal-width
    bins as the ECE); ``axes`` (three) lets a notebook place them, else a new figure is made.
    """
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import RocCurveDisplay

    scores = comparison.predictions
    y = scores["churned"].to_numpy()
    models = {"new": f"new (v{comparison.new_version})" if comparison.new_version else "new"}
    if "champion" in scores:
        models["champion"] = f"champion (v{comparison.champion_version})"
    colours = {"new": plots.MODEL_COLOUR, "champion": plots.OTHER_COLOUR}
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    roc, calib, gain = axes
    both_classes = 0 < y.sum() < len(y)
    for column, label in models.items():
        p = np.clip(scores[column].to_numpy(dtype=float), 0, 1)
        if both_classes:
            RocCurveDisplay.from_predictions(y, p, name=label, ax=roc, curve_kwargs={"color": colours[column]})
        CalibrationDisplay.from_predictions(
            y, p, n_bins=10, name=label, ax=calib, ref_line=column == "new", color=colours[column], marker="o",
            markersize=4,
        )  # fmt: skip
        if y.sum() > 0:
            found = np.concatenate([[0.0], np.cumsum(y[evaluate.risk_order(p)])]) / y.sum()
            gain.plot(np.arange(len(y) + 1) / len(y), found, color=colours[column], label=label)
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
    gain.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8, label="random")
    roc.set(title="ROC curve", xlabel="false positive rate", ylabel="true positive rate")
    calib.set(title="Calibration", xlabel="predicted churn probability", ylabel="observed churn rate")
    gain.set(
        title="Cumulative gain", xlabel="share of accounts worked (riskiest first)", ylabel="share of churners found"
    )
    for ax in (roc, calib, gain):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig = roc.figure
    fig.suptitle(f"New model vs champion on the same test window ({len(y):,} renewals, {int(y.sum())} churned)")
    fig.tight_layout()
    return fig
