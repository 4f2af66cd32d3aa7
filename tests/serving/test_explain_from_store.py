"""`churn explain --store`: one account read from the snapshot store says what `--data` says, without the tables."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from churn.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def _explain(*args: str) -> dict:
    result = runner.invoke(app, ["explain", *args, "--format", "json"], env=ENV)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_store_gives_the_same_risk_and_reasons_as_the_tables(served, small_demo):
    account = str(served.current["account_id"].iloc[5])
    model = ["--model-uri", str(small_demo.model), "--account", account]
    stored = _explain("--store", str(served.store), *model)
    computed = _explain("--data", str(small_demo.data), "--as-of", str(served.as_of.date()), *model)
    assert stored["as_of"] == computed["as_of"] == str(served.as_of.date())
    assert abs(stored["churn_risk"] - computed["churn_risk"]) < 1e-9
    assert [r["sentence"] for r in stored["risk_drivers"]] == [r["sentence"] for r in computed["risk_drivers"]]
    assert stored["change"] is not None  # what changed since the store's previous monthly snapshot


def test_store_options_that_cannot_hold_are_refused_in_words(served, small_demo, tmp_path):
    account = str(served.current["account_id"].iloc[5])
    model = ["--model-uri", str(small_demo.model), "--account", account]
    cases = [
        (["--store", str(served.store), "--compare", "30"], "--compare reads the tables"),
        (["--store", str(served.store), "--data", str(small_demo.data)], "exactly one of --data DIR or --store"),
        (["--store", str(tmp_path / "none.db")], "no snapshot store there"),
        (["--store", str(served.store), "--as-of", "2020-01-01"], "for --as-of 2020-01-01 use --data"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["explain", *args, *model], env=ENV)
        assert result.exit_code == 2 and message in " ".join(result.output.split()), (args, result.output)
    unknown = runner.invoke(app, ["explain", "--store", str(served.store), "--model-uri", str(small_demo.model),
                                  "--account", "NOPE-1"], env=ENV)  # fmt: skip
    assert unknown.exit_code == 2 and "NOPE-1" in unknown.output
