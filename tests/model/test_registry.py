"""Tracking and the champion/challenger rule, against a real (SQLite) MLflow store."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from typer.testing import CliRunner

from churn.cli import app
from tests.conftest import synthetic_snapshots, synthetic_table
from training import track
from training.train import TrainConfig, train


def _train_and_log(seed: int, signal: float = 1.0):
    table = synthetic_table(2500, seed=11, signal=1.0)
    if signal == 0.0:  # same rows and test window, but a model that learned from shuffled labels
        rng = np.random.default_rng(seed)
        frame = table.frame.copy()
        train_rows = frame["renewal_date"] < frame["renewal_date"].quantile(0.8)
        frame.loc[train_rows, "churned"] = rng.permutation(frame.loc[train_rows, "churned"].to_numpy())
        table = type(table)(frame, table.catalog)
    result = train(table, TrainConfig(seed=seed))
    return result, track.log_run(result, table.frame, {"seed": seed})


def test_first_model_becomes_champion_and_a_worse_one_does_not(store):
    first_result, first = _train_and_log(seed=1)
    assert first.promoted and first.model_version == "1"
    worse_result, worse = _train_and_log(seed=2, signal=0.0)
    assert worse_result.metrics["test_roc_auc"] < first_result.metrics["test_roc_auc"]
    assert not worse.promoted and "kept champion v1" in worse.decision
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(track.MODEL_NAME, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(track.MODEL_NAME, "challenger").version) == "2"
    tags = client.get_run(worse.run_id).data.tags
    assert tags["promotion.promoted"] == "False"


def test_run_logs_metrics_artifacts_and_a_loadable_pyfunc(store):
    result, tracked = _train_and_log(seed=1)
    run = MlflowClient().get_run(tracked.run_id)
    for name in (
        "test_roc_auc",
        "test_pr_auc",
        "test_brier",
        "test_log_loss",
        "test_ece",
        "test_lift_at_10",
        "test_arr_capture_at_20",
        "baseline_logreg_test_roc_auc",
        "baseline_rules_test_roc_auc",
    ):
        assert name in run.data.metrics, name
    artifacts = {a.path for a in MlflowClient().list_artifacts(tracked.run_id)}
    assert {
        "roc_pr.png",
        "calibration.png",
        "lift_gain.png",
        "shap_summary.png",
        "test_predictions.parquet",
        "feature_catalog.json",
        "split_windows.json",
        "fingerprint.json",
    } <= artifacts
    model = mlflow.pyfunc.load_model(tracked.model_uri)
    frame = synthetic_snapshots(20, seed=4)
    out = model.predict(frame)
    np.testing.assert_allclose(out["churn_risk"], result.bundle.churn_probability(frame), rtol=1e-9)


def test_promote_by_hand(store):
    _train_and_log(seed=1)
    _train_and_log(seed=2, signal=0.0)
    track.promote("2")
    assert str(MlflowClient().get_model_version_by_alias(track.MODEL_NAME, "champion").version) == "2"


def test_cli_train_prints_one_json_line_last_and_score_uses_the_champion(store, tmp_path):
    path = tmp_path / "mine.parquet"
    synthetic_snapshots(2500, seed=12).to_parquet(path, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--snapshots", str(path), "--time-col", "renewal_date"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(last) == {"run_id", "model_uri", "model_version", "promoted", "metrics"}
    assert last["promoted"] is True and "test_roc_auc" in last["metrics"]
    out = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", "--snapshots", str(path), "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(out)
    assert {"account_id", "renewal_probability", "churn_risk", "risk_band", "arr_at_risk", "model_version"} <= set(
        scores.columns
    )
    assert set(scores["risk_band"]) <= {"low", "medium", "high"}
    assert (scores["model_version"].astype(str) == last["model_version"]).all()


def test_promote_unknown_version_is_a_clear_error(store):
    _train_and_log(seed=1)
    result = CliRunner().invoke(app, ["promote", "99"])
    assert result.exit_code == 2 and "cannot promote version 99" in result.output


def test_score_without_a_champion_is_a_clear_error(store, tmp_path):
    path = tmp_path / "s.parquet"
    synthetic_snapshots(50).to_parquet(path)
    result = CliRunner().invoke(app, ["score", "--snapshots", str(path), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "Train one first" in result.output
