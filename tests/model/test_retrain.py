"""Retraining the way the CLI does, and the new model vs the champion on the same test window."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.metrics import roc_curve

from training import retrain, track
from training.train import TrainConfig

CLI_PARAMS = {
    "seed",
    "tune_trials",
    "calibration",
    "bands",
    "horizon_days",
    "grace_days",
    "source",
    "label",
    "time_col",
}


@pytest.fixture(scope="module")
def unlogged(small_demo):
    return retrain.train_and_log(
        small_demo.data, tables=small_demo.tables, snapshots=small_demo.snapshots, seed=3, log=False
    )


def test_run_params_are_the_ones_churn_train_logs(tmp_path):
    params = retrain.run_params(tmp_path, TrainConfig(seed=5, bands=(0.1, 0.3)), (30, 90), 30)
    assert set(params) == CLI_PARAMS
    assert params["bands"] == "0.1,0.3" and params["horizon_days"] == "30,90"
    assert params["label"] == "churned" and params["time_col"] == "renewal_date"


def test_train_without_logging_matches_train_and_checks_explanations(unlogged, small_demo):
    assert unlogged.tracked is None and unlogged.champion_before is None
    assert unlogged.result.metrics["test_roc_auc"] == pytest.approx(small_demo.result.metrics["test_roc_auc"])
    assert "test_explanation_hit_rate" in unlogged.result.metrics  # the demo data carries its ground truth
    assert list(unlogged.windows["window"]) == ["train", "valid", "calib", "test"]


def test_without_a_champion_the_new_model_stands_alone(unlogged):
    comparison = retrain.compare_with_champion(unlogged.result, unlogged.table.frame, None, "1")
    assert comparison.better and "no champion" in comparison.decision
    assert list(comparison.metrics.columns) == ["new (v1)", "logistic regression", "rules health score"]
    assert comparison.metrics.loc["roc_auc", "new (v1)"] == unlogged.result.metrics["test_roc_auc"]
    assert "champion" not in comparison.predictions
    fig = retrain.plot_comparison(comparison)
    assert [ax.get_title() for ax in fig.axes] == ["ROC curve", "Calibration", "Cumulative gain"]
    y, p = comparison.predictions["churned"].to_numpy(), comparison.predictions["new"].to_numpy()
    (roc,) = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("new (v1)")]
    np.testing.assert_allclose(roc.get_xdata(), roc_curve(y, p)[0])  # the curve drawn is the test window's
    plt.close(fig)


@pytest.mark.slow
def test_second_run_is_compared_with_the_champion_and_promoted_by_hand(store, small_demo):
    first = retrain.train_and_log(small_demo.data, tables=small_demo.tables, snapshots=small_demo.snapshots, seed=1)
    assert first.champion_before is None and first.tracked.promoted
    assert retrain.champion_version() == "1"
    second = retrain.train_and_log(small_demo.data, tables=small_demo.tables, snapshots=small_demo.snapshots, seed=2)
    assert second.champion_before == "1"
    params = MlflowClient().get_run(second.tracked.run_id).data.params
    assert set(params) >= CLI_PARAMS

    comparison = retrain.compare_with_champion(
        second.result, second.table.frame, second.champion_before, second.tracked.model_version
    )
    assert list(comparison.metrics.columns[:3]) == ["new (v2)", "champion (v1)", "difference"]
    champion = track.load_bundle("models:/renewal-risk/1")
    test = second.table.frame.iloc[second.result.split["test"]]
    assert comparison.predictions["champion"].to_numpy() == pytest.approx(champion.churn_probability(test, warn=False))
    theirs = comparison.metrics.loc["roc_auc", "champion (v1)"]
    assert comparison.better == (
        second.result.metrics["test_roc_auc"] > theirs
        and second.result.metrics["test_ece"] <= comparison.metrics.loc["ece", "champion (v1)"] + track.ECE_TOLERANCE
    )
    assert comparison.better == second.tracked.promoted  # the same rule the registry applied when logging

    track.promote(second.tracked.model_version)
    assert retrain.champion_version() == "2"
    versions = retrain.registry().set_index("version")
    assert "champion" in versions.loc[2, "aliases"]
    assert versions.loc[1, "test_roc_auc"] == pytest.approx(first.result.metrics["test_roc_auc"])
