"""Retraining through the one workflow the CLI uses, and the new model vs the champion on the same test window."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.metrics import roc_curve
from typer.testing import CliRunner

from churn.cli import app
from training import retrain, track
from training.train import TrainConfig
from workflow.training import TrainingSource, run_params, train_and_log


@pytest.fixture(scope="module")
def unlogged(small_demo):
    return train_and_log(
        small_demo.data,
        tables=small_demo.tables,
        snapshots=small_demo.snapshots,
        seed=3,
        params=small_demo.params,
        log=False,
    )


def test_run_params_say_what_the_model_was_trained_from(tmp_path):
    from_data = run_params(TrainingSource(data=tmp_path, horizon_days=(30, 90)), TrainConfig(seed=5, bands=(0.1, 0.3)))
    assert from_data["bands"] == "0.1,0.3" and from_data["horizon_days"] == "30,90" and from_data["seed"] == 5
    assert from_data["label"] == "churned" and from_data["time_col"] == "outcome_date"
    table = tmp_path / "mine.csv"
    own = run_params(TrainingSource(snapshots=table, label="left", time_col="signed"), TrainConfig())
    assert own["source"] == str(table) and own["label"] == "left" and own["time_col"] == "signed"
    assert own["horizon_days"] is None and own["grace_days"] is None  # no snapshots were built
    with pytest.raises(ValueError, match="exactly one of --data DIR or --snapshots FILE"):
        TrainingSource()


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
def test_a_notebook_run_after_a_cli_run_logs_the_same_params_and_is_compared_with_its_champion(store, small_demo):
    cli = CliRunner().invoke(app, ["train", "--data", str(small_demo.data), "--seed", "1"], env={"COLUMNS": "200"})
    assert cli.exit_code == 0, cli.output
    assert retrain.champion_version() == "1"
    first_params = MlflowClient().get_run(MlflowClient().get_model_version(track.MODEL_NAME, "1").run_id).data.params
    second = train_and_log(small_demo.data, tables=small_demo.tables, snapshots=small_demo.snapshots, seed=2)
    assert second.champion_before == "1"
    params = MlflowClient().get_run(second.tracked.run_id).data.params
    assert set(params) == set(first_params)  # one workflow: the CLI's run and the notebook's read alike
    assert {k: v for k, v in params.items() if k != "seed"} == {k: v for k, v in first_params.items() if k != "seed"}
    first_auc = float(
        MlflowClient()
        .get_run(MlflowClient().get_model_version(track.MODEL_NAME, "1").run_id)
        .data.metrics["test_roc_auc"]
    )

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
    assert versions.loc[1, "test_roc_auc"] == pytest.approx(first_auc)
