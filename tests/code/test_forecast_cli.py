"""`churn forecast` on a small demo world: a fast default, an opt-in out-of-sample backtest, honest notes."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from explain.pages import default_as_of

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def base(small_demo):
    as_of = default_as_of(small_demo.tables)
    return [
        "forecast",
        "--data",
        str(small_demo.data),
        "--model-uri",
        str(small_demo.model),
        "--as-of",
        str(as_of.date()),
    ]


def test_the_default_forecast_runs_no_backtest_and_counts_renewals(base, small_demo, tmp_path):
    out = tmp_path / "forecast.csv"
    result = runner.invoke(app, [*base, "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "Renewal forecast" in result.output and "backtest" not in result.output.lower()
    forecast = pd.read_csv(out)
    total = forecast[forecast["period_type"] == "total"].iloc[0]
    assert total["renewals"] > total["contracts"]  # monthly plans renew every month
    # the renewals the scores flag beyond the trained range are the ones the forecast leaves out
    scores = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", *base[1:], "--out", str(scores)], env=ENV)
    assert scored.exit_code == 0, scored.output
    book = pd.read_csv(scores, parse_dates=["renewal_date"])
    horizon_end = pd.Timestamp(base[-1]) + pd.DateOffset(months=12)
    flagged = book["beyond_trained_range"].astype(bool) & (book["renewal_date"] < horizon_end)
    # (monthly plans' later renewals past the range are left out too: hence at least)
    assert total["beyond_range_renewals"] >= flagged.sum() > 0
    furthest = small_demo.bundle.metadata["max_horizon_days"]
    assert f"more than {furthest:.0f} days ahead are left out" in result.output.replace("\n", " ")


def test_a_forecast_past_the_trained_range_says_what_it_left_out(base, tmp_path):
    out = tmp_path / "forecast.csv"
    result = runner.invoke(app, [*base, "--months", "18", "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    total = pd.read_csv(out).set_index("period").loc["total"]
    assert total["beyond_range_renewals"] > 0
    assert f"{total['beyond_range_renewals']:,.0f} renewals" in result.output
    assert "left out of the forecast" in result.output.replace("\n", " ")


def test_the_out_of_sample_backtest_reports_each_cutoff_and_the_coverage(base, tmp_path):
    rows = tmp_path / "backtest.csv"
    result = runner.invoke(app, [*base, "--backtest-cutoffs", "2", "--backtest-out", str(rows)], env=ENV)
    assert result.exit_code == 0, result.output
    text = result.output.replace("\n", " ")
    assert "out of sample" in text and "next month" in text and "next quarter" in text
    assert "Coverage (target for the 80% interval: 70%–90% of cutoffs)" in text
    table = pd.read_csv(rows)
    assert len(table) == 4 and set(table["horizon"]) == {"next month", "next quarter"}
    assert (pd.to_datetime(table["trained_through"]) < pd.to_datetime(table["cutoff"])).all()


def test_the_old_in_sample_backtest_option_points_to_the_new_one(base):
    result = runner.invoke(app, [*base, "--backtest-quarters", "4"], env=ENV)
    assert result.exit_code == 2 and "--backtest-cutoffs" in result.output
