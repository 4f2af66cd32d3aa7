"""Bring your own table: `churn train --id-col customerid`, then `churn score` keeps that id, as written."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from tests.conftest import synthetic_snapshots

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def own_table(tmp_path):
    """A CSV export: ids with leading zeros under the user's own name, no ARR column, a column to pass through."""
    frame = synthetic_snapshots(1500, seed=5).drop(columns=["account_id", "arr", "contract_id", "horizon_days"])
    frame.insert(0, "customerid", [f"{i:05d}" for i in range(len(frame))])
    frame["owner"] = [f"csm-{i % 7}" for i in range(len(frame))]
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    return path


def _trained(own_table) -> CliRunner:
    """`churn train` on the user's table with its own id column; the runner to score with."""
    runner = CliRunner()
    trained = runner.invoke(
        app, ["train", "--snapshots", str(own_table), "--id-col", "customerid", "--time-col", "renewal_date"], env=ENV
    )
    assert trained.exit_code == 0, trained.output
    return runner


def test_byo_ids_and_pass_through_columns_survive_training_and_scoring(store, own_table, tmp_path):
    runner = _trained(own_table)
    out = tmp_path / "scores.csv"
    scored = runner.invoke(
        app, ["score", "--snapshots", str(own_table), "--keep", "owner", "--top", "3", "--out", str(out)], env=ENV
    )
    assert scored.exit_code == 0, scored.output
    text = scored.output.replace("\n", " ")
    assert "ARR at risk cannot be computed (no ARR column)" in text
    assert "Total ARR at risk" not in text
    assert "using 'customerid'" not in text  # the model records its id column: nothing to guess

    scores = pd.read_csv(out, dtype={"customerid": str, "account_id": str})
    written = pd.read_csv(own_table, dtype=str)
    assert list(scores.columns[:2]) == ["customerid", "account_id"]
    assert set(scores["customerid"]) == set(written["customerid"])  # "00042" stays "00042"
    assert (scores["account_id"] == scores["customerid"]).all()
    by_id = scores.set_index("customerid")
    assert by_id.loc["00042", "owner"] == written.set_index("customerid").loc["00042", "owner"]
    assert {"cadence", "horizon_bucket", "beyond_trained_range"} <= set(scores.columns)
    assert set(scores["horizon_bucket"]) == {"1-90"} and not scores["beyond_trained_range"].any()
    assert scores["churn_risk"].is_monotonic_decreasing  # no ARR: riskiest first
    assert str(scores["customerid"].iloc[0]) in scored.output  # the top table shows the user's ids

    explicit = runner.invoke(
        app, ["score", "--snapshots", str(own_table), "--id-col", "customerid", "--out", str(out)], env=ENV
    )
    assert explicit.exit_code == 0 and "using 'customerid'" not in explicit.output
    wrong = runner.invoke(app, ["score", "--snapshots", str(own_table), "--id-col", "custid", "--out", str(out)])
    assert wrong.exit_code == 2 and "'custid' is not in the table" in wrong.output


def test_scoring_an_export_that_cannot_give_the_models_features_is_refused_unless_allowed(store, own_table, tmp_path):
    runner = _trained(own_table)
    renamed = tmp_path / "renamed.csv"
    table = pd.read_csv(own_table, dtype={"customerid": str})
    table.rename(columns={"seat_utilization_30d": "SeatUtilization"}).to_csv(renamed, index=False)
    out = tmp_path / "scores.csv"
    refused = runner.invoke(app, ["score", "--snapshots", str(renamed), "--out", str(out)], env=ENV)
    assert refused.exit_code == 2, refused.output
    assert "seat_utilization_30d" in refused.output and "--allow-missing-features" in refused.output
    assert not out.exists()
    allowed = runner.invoke(
        app, ["score", "--snapshots", str(renamed), "--out", str(out), "--allow-missing-features"], env=ENV
    )
    assert allowed.exit_code == 0, allowed.output
    assert out.exists() and "seat_utilization_30d" in allowed.output.replace("\n", " ")


def test_a_category_unseen_in_training_is_scored_as_unknown_and_reported_in_the_file_and_terminal(
    store, own_table, tmp_path
):
    runner = _trained(own_table)
    odd = tmp_path / "odd.csv"
    table = pd.read_csv(own_table, dtype={"customerid": str})
    table.loc[:2, "segment"] = "Enterprise "  # a trailing space: not "enterprise" to the model
    table.to_csv(odd, index=False)
    out = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", "--snapshots", str(odd), "--out", str(out)], env=ENV)
    assert scored.exit_code == 0, scored.output
    text = " ".join(scored.output.split())
    assert (
        '3 accounts have values the model never saw in training, scored as unknown: segment "Enterprise " (3)' in text
    )
    scores = pd.read_csv(out, dtype={"customerid": str}, keep_default_na=False).set_index("customerid")
    flagged = scores.loc[table.loc[:2, "customerid"], "unknown_categories"]
    assert (flagged == 'segment "Enterprise "').all()
    assert (scores.drop(index=flagged.index)["unknown_categories"] == "").all()
