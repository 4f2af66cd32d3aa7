"""Realized results: train at a cutoff, log that day's scores with `churn score`, monitor the full data with
`churn monitor`, and check the figures against a hand computation from the outcomes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from churn.cli import app
from demo import simulator
from features.build import build_training_snapshots
from features.load import load_tables
from features.outcomes import DEFAULT_GRACE_DAYS, renewal_outcomes
from monitor.predictions import default_path, read_log
from training.cutoff import replay
from training.dataset import from_snapshots

runner = CliRunner()


def _hand_labels(log: pd.DataFrame, outcomes: pd.DataFrame, known_before: pd.Timestamp) -> pd.DataFrame:
    """Each logged prediction's outcome, one row at a time, the slow and obvious way."""
    by_id = outcomes.set_index("contract_id")
    rows = []
    for row in log.itertuples():
        due = row.as_of + pd.Timedelta(days=90) if row.cadence == "monthly" else row.renewal_date
        if due >= known_before:
            continue
        if row.cadence != "monthly":
            label = {"churned": 1.0, "renewed": 0.0}.get(by_id.loc[row.contract_id, "outcome"], np.nan)
        else:
            window = outcomes[
                (outcomes["account_id"] == row.account_id)
                & (outcomes["end_date"] >= row.as_of)
                & (outcomes["end_date"] < row.as_of + pd.Timedelta(days=90))
            ].sort_values("end_date")
            churns = window.index[window["outcome"] == "churned"]
            before = window.loc[: churns[0]] if len(churns) else window
            label = np.nan if (before["outcome"] == "open").any() else float(len(churns) > 0)
        rows.append({"churn_risk": row.churn_risk, "arr": row.arr, "churned": label})
    return pd.DataFrame(rows).dropna(subset=["churned"])


def test_realized_figures_match_a_hand_computation(tmp_path):
    simulator.write(simulator.generate(500, years=4, seed=5), tmp_path / "data")
    tables = load_tables(tmp_path / "data")
    snapshots = build_training_snapshots(tables)
    cutoff = (tables.data_end - pd.Timedelta(days=300)).normalize()
    model = replay(tables, from_snapshots(snapshots.frame, snapshots.catalog), cutoff).result.bundle.save(
        tmp_path / "model"
    )
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    scores = tmp_path / "scores.csv"
    common = ["--data", str(tmp_path / "data"), "--model-uri", str(model)]
    scored = runner.invoke(app, ["score", *common, "--as-of", str(cutoff.date()), "--out", str(scores)], env=env)
    assert scored.exit_code == 0, scored.output
    log = read_log(default_path(scores))
    out = tmp_path / "monitor.json"
    monitored = runner.invoke(
        app, ["monitor", *common, "--predictions", str(default_path(scores)), "--out", str(out)], env=env
    )
    assert monitored.exit_code == 0, monitored.output
    realized = json.loads(out.read_text())["realized"]

    outcomes = renewal_outcomes(tables.contracts, tables.data_end, DEFAULT_GRACE_DAYS)
    hand = _hand_labels(log, outcomes, tables.data_end - pd.Timedelta(days=DEFAULT_GRACE_DAYS))
    assert realized["n"] == len(hand) > 100 and realized["logged"] == len(log)
    assert realized["churn_rate"] == pytest.approx(hand["churned"].mean())
    assert realized["mean_risk"] == pytest.approx(hand["churn_risk"].mean())
    assert realized["auc"] == pytest.approx(roc_auc_score(hand["churned"], hand["churn_risk"]))
    assert realized["arr_due"] == pytest.approx(hand["arr"].sum())
    assert realized["arr_renewed"] == pytest.approx(hand.loc[hand["churned"] == 0, "arr"].sum())
    assert realized["arr_lo80"] <= realized["arr_expected"] <= realized["arr_hi80"]
    assert realized["churned"] == int(hand["churned"].sum())


@pytest.mark.slow
def test_a_cause_that_comes_to_matter_more_is_caught_by_the_closed_renewals(tmp_path):
    """No input moves when a cause matters more; only the renewals that close show it (about 90 s)."""
    from monitor.replay import monitor_replay

    cutoff = pd.Timestamp("2025-11-01")
    reports = {}
    for plant in (None, "cause-shift"):
        folder = tmp_path / str(plant)
        simulator.write(simulator.generate(600, 4, 2, plant=plant, plant_after=str(cutoff.date())), folder)
        reports[plant] = monitor_replay(load_tables(folder), cutoff, seed=2).report
    quiet, shifted = reports[None], reports["cause-shift"]
    assert quiet["verdict"] == "ok" and not [d["feature"] for d in quiet["drift"] if d["alarm"]], quiet["reasons"]
    assert shifted["verdict"] in ("watch", "retrain")
    assert shifted["realized"]["churn_rate"] > shifted["realized"]["mean_risk"] + 0.03
    assert any("renewals closed since they were scored" in reason for reason in shifted["reasons"])
