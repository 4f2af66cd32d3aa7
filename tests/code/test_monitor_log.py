"""The prediction log: every `churn score` run is kept, by date and model, and logging never makes scoring fail."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from churn.cli import app
from monitor.predictions import LOG_COLUMNS, append_log, default_path, read_log
from serving.store import check_store, read_predictions

runner = CliRunner()


def _run(as_of: str, model: str, risk: float, accounts=("A1", "A2")) -> pd.DataFrame:
    n = len(accounts)
    return pd.DataFrame(
        {
            "as_of": pd.Timestamp(as_of),
            "account_id": list(accounts),
            "contract_id": [f"C-{a}" for a in accounts],
            "renewal_date": pd.Timestamp("2027-01-01"),
            "cadence": "annual",
            "horizon_bucket": "181-365",
            "horizon_days": 200.0,
            "days_to_renewal": 200.0,
            "model_version": model,
            "churn_risk": [risk] * n,
            "arr": [1000.0] * n,
            "segment": "smb",
            "features": ['{"x": 1}'] * n,
        }
    )[LOG_COLUMNS]


def test_writing_an_older_date_keeps_the_newer_one_and_a_rerun_replaces_its_own_rows(tmp_path):
    path = tmp_path / "scores.predictions.parquet"
    append_log(path, _run("2026-06-01", "3", 0.2))
    append_log(path, _run("2026-05-01", "3", 0.1))  # an older date, written later
    append_log(path, _run("2026-06-01", "3", 0.4, accounts=("A1",)))  # the same run again
    append_log(path, _run("2026-06-01", "4", 0.3))  # another model on the same date
    log = read_log(path)
    runs = log.groupby([log["as_of"].dt.strftime("%Y-%m-%d"), "model_version"])["churn_risk"].agg(["size", "mean"])
    assert runs.to_dict("index") == {
        ("2026-05-01", "3"): {"size": 2, "mean": 0.1},
        ("2026-06-01", "3"): {"size": 1, "mean": 0.4},
        ("2026-06-01", "4"): {"size": 2, "mean": 0.3},
    }
    assert not list(tmp_path.glob(".*tmp"))  # written through a temporary file, renamed into place


def test_score_logs_every_prediction_beside_the_scores_and_in_the_store(book_world, tmp_path):
    out = tmp_path / "scores.csv"
    as_of = str((book_world.tables.data_end - pd.Timedelta(days=200)).date())
    args = ["score", "--data", str(book_world.data), "--as-of", as_of, "--model-uri", str(book_world.model)]
    result = runner.invoke(app, [*args, "--out", str(out), "--top", "0"])
    assert result.exit_code == 0, result.output
    scores, log = pd.read_csv(out), read_log(default_path(out))
    assert default_path(out) == tmp_path / "scores.predictions.parquet"
    assert len(log) == len(scores) > 100 and set(log["as_of"].dt.strftime("%Y-%m-%d")) == {as_of}
    merged = log.merge(scores, on="account_id", suffixes=("", "_score"))
    assert (merged["churn_risk"] - merged["churn_risk_score"]).abs().max() < 1e-9
    assert set(log["model_version"]) == set(scores["model_version"].astype(str))
    snapshot = json.loads(log["features"].iloc[0])
    assert set(snapshot) == set(book_world.bundle.schema.names)

    store = tmp_path / "store.db"
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "again.csv"), "--top", "0", "--store", str(store)])
    assert result.exit_code == 0, result.output
    check_store(store)  # still a store the service reads
    stored = read_predictions(store)
    assert len(stored) == len(scores) and not (tmp_path / "again.predictions.parquet").exists()
    pd.testing.assert_series_equal(
        stored.sort_values("account_id")["churn_risk"].reset_index(drop=True),
        log.sort_values("account_id")["churn_risk"].reset_index(drop=True),
    )


def test_a_log_that_cannot_be_written_is_a_warning_and_the_scores_are_still_written(book_world, tmp_path):
    out = tmp_path / "scores.csv"
    default_path(out).mkdir()  # a directory where the log file should go
    as_of = str((book_world.tables.data_end - pd.Timedelta(days=200)).date())
    args = ["score", "--data", str(book_world.data), "--as-of", as_of, "--model-uri", str(book_world.model)]
    result = runner.invoke(app, [*args, "--out", str(out), "--top", "0"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) > 100
    warnings = [line for line in result.output.splitlines() if "prediction log was not written" in line]
    assert len(warnings) == 1 and "the scores are written" in warnings[0]
