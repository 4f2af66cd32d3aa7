"""Retrain from a notebook the way ``churn train --data DIR`` does, and compare with the champion.

``train_and_log`` makes the same calls as the CLI, in the same order, with the same MLflow
parameters: validated tables, training snapshots, ``training.train.train``, the explanation
hit rate when the data carries its ground truth, ``training.track.log_run`` (which registers
the version and applies the champion rule). It also notes which version was the champion
*before* this run, so ``compare_with_champion`` can put the new model and that champion side
by side on the new model's test window, and a person can promote with ``track.promote``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from sklearn.metrics import roc_curve

from features.build import SnapshotResult, build_training_snapshots
from features.load import Tables, load_tables
from features.outcomes import DEFAULT_GRACE_DAYS
from features.snapshots import DEFAULT_HORIZONS
from training import evaluate, track
from training.dataset import TrainingTable, fingerprint, from_snapshots
from training.names import DEFAULT_BANDS
from training.reference import book_builder
from training.train import TrainConfig, TrainResult, train

COMPARED_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "lift_at_10",
    "arr_capture_at_20",
)


@dataclass
class Retrained:
    """One retraining run: what went in, what came out, and where it is in the registry."""

    tables: Tables
    snapshots: SnapshotResult
    table: TrainingTable
    result: TrainResult
    tracked: track.Tracked | None  # None when not logged
    champion_before: str | None  # the champion's version before this run (None: there was none)
    tracking_uri: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def windows(self) -> pd.DataFrame:
        """The split windows (train, valid, calib, test) with their dates, rows and churn rates."""
        return pd.DataFrame(self.result.split.windows)


def run_params(
    data: Path | str, config: TrainConfig, horizon_days: Sequence[int], grace_days: int
) -> dict[str, object]:
    """The parameters ``churn train --data`` logs, so notebook runs and CLI runs read alike in MLflow."""
    return {
        "seed": config.seed,
        "tune_trials": config.tune_trials,
        "calibration": config.calibration,
        "bands": ",".join(f"{b:g}" for b in config.bands),
        "horizon_days": ",".join(str(int(h)) for h in horizon_days),
        "grace_days": grace_days,
        "source": str(data),
        "label": "churned",
        "time_col": "renewal_date",
    }


def train_and_log(
    data: Path | str,
    *,
    tables: Tables | None = None,
    snapshots: SnapshotResult | None = None,
    horizon_days: Sequence[int] = DEFAULT_HORIZONS,
    grace_days: int = DEFAULT_GRACE_DAYS,
    seed: int = 7,
    tune_trials: int = 0,
    calibration: str = "auto",
    bands: tuple[float, float] = DEFAULT_BANDS,
    experiment: str = track.EXPERIMENT,
    tracking_uri: str | None = None,
    log: bool = True,
) -> Retrained:
    """``churn train --data DATA`` as a function: build, train, check explanations, log and register.

    Pass ``tables`` and ``snapshots`` when they are already loaded and built (with the same
    ``horizon_days`` and ``grace_days``). With ``log=False`` nothing touches MLflow.
    """
    config = TrainConfig(seed=seed, tune_trials=tune_trials, calibration=calibration, bands=tuple(bands))
    tables = load_tables(Path(data)) if tables is None else tables
    if snapshots is None:
        snapshots = build_training_snapshots(tables, horizons=tuple(horizon_days), grace_days=grace_days)
    table = from_snapshots(snapshots.frame, snapshots.catalog)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = train(table, config, fingerprint(table, dict(tables.sources)), reference_book=book_builder(tables))
    notes = [*result.notes, *(str(w.message) for w in caught if "time-based" in str(w.message))]
    add_explanation_quality(result, table, Path(data))
    if not log:
        return Retrained(tables, snapshots, table, result, None, None, None, notes)
    uri = track.configure(tracking_uri)
    before = champion_version()
    tracked = track.log_run(result, table.frame, run_params(data, config, horizon_days, grace_days), experiment)
    return Retrained(tables, snapshots, table, result, tracked, before, uri, notes)


def add_explanation_quality(result: TrainResult, table: TrainingTable, data: Path) -> bool:
    """With ground truth next to the data (the demo's ``_truth/``), add the explanation hit rate, as the CLI does."""
    from explain.evaluate import explanation_hit_rate, load_truth

    truth = load_truth(data)
    if truth is None:
        return False
    rates = explanation_hit_rate(result.bundle, table.frame.iloc[result.split["test"]], truth)
    result.metrics.update({f"test_{k}": v for k, v in rates.items()})
    return True


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

    ``frame`` is the table ``result`` was trained on (``Retrained.table.frame``). With no
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


def plot_comparison(comparison: Comparison) -> Figure:
    """ROC curves, reliability curves and cumulative gain of the new model and the champion, same test window."""
    import matplotlib.pyplot as plt

    scores = comparison.predictions
    y = scores["churned"].to_numpy()
    models = {"new": f"new (v{comparison.new_version})" if comparison.new_version else "new"}
    if "champion" in scores:
        models["champion"] = f"champion (v{comparison.champion_version})"
    colours = {"new": evaluate.MODEL_COLOUR, "champion": "#d95f02"}
    fig, (roc, calib, gain) = plt.subplots(1, 3, figsize=(15, 4.4))
    both_classes = 0 < y.sum() < len(y)
    for column, label in models.items():
        p = scores[column].to_numpy()
        if both_classes:
            fpr, tpr, _ = roc_curve(y, p)
            roc.plot(fpr, tpr, color=colours[column], label=label)
        mean_p, rate = evaluate._reliability(y.astype(float), p, 10)
        calib.plot(mean_p, rate, marker="o", markersize=4, color=colours[column], label=label)
        if y.sum() > 0:
            order = np.argsort(-p, kind="stable")
            found = np.concatenate([[0.0], np.cumsum(y[order])]) / y.sum()
            gain.plot(np.arange(len(y) + 1) / len(y), found, color=colours[column], label=label)
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
    calib.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="perfectly calibrated")
    gain.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8, label="random")
    roc.set(title="ROC curve", xlabel="false positive rate", ylabel="true positive rate")
    calib.set(title="Calibration", xlabel="predicted churn probability", ylabel="observed churn rate")
    gain.set(
        title="Cumulative gain", xlabel="share of accounts worked (riskiest first)", ylabel="share of churners found"
    )
    for ax in (roc, calib, gain):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"New model vs champion on the same test window ({len(y):,} renewals, {int(y.sum())} churned)")
    fig.tight_layout()
    return fig
