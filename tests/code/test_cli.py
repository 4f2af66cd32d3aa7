"""The command line: help for every command, clear failures that write nothing, and real outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from features.io import read_catalog
from features.schema import contract_markdown

runner = CliRunner()
COMMANDS = ["demo-data", "build-features", "validate", "data-contract", "catalog"]
MODEL_COMMANDS = ["train", "backtest", "promote", "score", "forecast", "export-model", "explain", "report", "serve"]


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in COMMANDS + MODEL_COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS + MODEL_COMMANDS)
def test_help_names_every_option_in_full(command):
    """Help captured off a terminal (a pipe, CI) lists every option and default uncut, not at rich's 80 columns."""
    import typer.main

    result = runner.invoke(app, [command, "--help"], env={"NO_COLOR": "1", "COLUMNS": ""})
    assert result.exit_code == 0, result.output
    assert "\u2026" not in result.output  # nothing cut with an ellipsis
    cli = typer.main.get_command(app)
    params = cli.commands[command].params  # type: ignore[attr-defined]
    for param in params:
        if param.param_type_name == "option" and not param.hidden:  # typer's options (it vendors click)
            assert param.opts[-1] in result.output, param.opts
    if any(p.name == "model_uri" for p in params):
        assert "models:/renewal-risk@champion" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_defaults(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    if command in ("build-features", "demo-data"):
        assert "default:" in result.output


def test_build_features_writes_training_snapshots_with_their_catalog(data_dir, tmp_path):
    out = tmp_path / "snapshots.parquet"
    result = runner.invoke(
        app,
        [
            "build-features",
            "--data",
            str(data_dir),
            "--out",
            str(out),
            "--horizon-days",
            "30,90",
            "--horizon-jitter",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    catalog = read_catalog(out)
    assert catalog is not None and set(catalog.names) <= set(frame.columns)
    assert set(frame["horizon_days"]) <= {30, 90}
    assert set(frame["churned"]) <= {0, 1}
    assert "churn rate" in result.output


def test_build_features_as_of_writes_scoring_snapshots_as_csv(data_dir, tmp_path):
    out = tmp_path / "scoring.csv"
    result = runner.invoke(app, ["build-features", "--data", str(data_dir), "--out", str(out), "--as-of", "2024-06-01"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert "churned" not in frame.columns
    assert frame["account_id"].is_unique
    assert read_catalog(out) is not None  # the CSV's catalog travels in a sidecar JSON


def test_bad_data_fails_with_one_paragraph_and_writes_nothing(data_dir, tmp_path):
    contracts = pd.read_csv(data_dir / "contracts.csv")
    contracts.loc[1, "end_date"] = contracts.loc[1, "start_date"]
    contracts.to_csv(data_dir / "contracts.csv", index=False)
    out = tmp_path / "out" / "snapshots.parquet"
    result = runner.invoke(app, ["build-features", "--data", str(data_dir), "--out", str(out)])
    assert result.exit_code == 2
    assert "contracts.csv" in result.output and "end_date" in result.output and "line 3" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.glob("*"))


def test_a_failed_run_keeps_the_previous_output(data_dir, tmp_path):
    out = tmp_path / "snapshots.parquet"
    assert runner.invoke(app, ["build-features", "--data", str(data_dir), "--out", str(out)]).exit_code == 0
    before = out.read_bytes()
    (data_dir / "usage.csv").write_text("account_id;date;metric;value\nA0;2024-01-01;logins;3\n")
    result = runner.invoke(app, ["build-features", "--data", str(data_dir), "--out", str(out)])
    assert result.exit_code == 2
    assert "semicolons" in result.output
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--as-of", "last tuesday"], "--as-of"),
        (["--horizon-days", "90,soon"], "--horizon-days"),
        (["--out", "snapshots.xlsx"], "--out"),
    ],
)
def test_bad_options_are_explained(data_dir, options, message):
    result = runner.invoke(app, ["build-features", "--data", str(data_dir), *options])
    assert result.exit_code == 2
    assert message in result.output


def test_validate_summarises_tables(data_dir):
    result = runner.invoke(app, ["validate", "--data", str(data_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "meets the data contract" in result.output


def test_missing_optional_table_is_said_once(data_dir, tmp_path):
    (data_dir / "nps.csv").unlink()
    result = runner.invoke(app, ["build-features", "--data", str(data_dir), "--out", str(tmp_path / "s.parquet")])
    assert result.exit_code == 0
    assert result.output.count("Optional table 'nps' not found") == 1


def test_docs_data_contract_is_generated_from_the_schema():
    docs = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"
    assert docs.read_text() == contract_markdown(), "regenerate with: churn data-contract --out docs/data-contract.md"


@pytest.mark.slow
def test_build_features_on_a_dask_cluster_matches_a_local_build(data_dir, tmp_path):
    """A real distributed scheduler on loopback: the same partitions, the same frame."""
    from distributed import LocalCluster

    local = tmp_path / "local.parquet"
    assert runner.invoke(app, ["build-features", "--data", str(data_dir), "--out", str(local)]).exit_code == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        remote = tmp_path / "cluster.parquet"
        result = runner.invoke(
            app,
            [
                "build-features",
                "--data",
                str(data_dir),
                "--out",
                str(remote),
                "--dask-scheduler",
                cluster.scheduler_address,
            ],
        )
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(local), pd.read_parquet(remote))


def _options(command: str) -> dict:
    import typer.main

    cli = typer.main.get_command(app)
    return {p.name: p for p in cli.commands[command].params if p.param_type_name == "option"}  # type: ignore[attr-defined]


def test_every_command_takes_data_and_as_of_the_same_way():
    import typer.main

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    with_data = [name for name in commands if "data" in _options(name)]
    assert {"validate", "catalog", "build-features", "train", "backtest", "score", "forecast", "explain", "report"} <= (
        set(with_data)
    )
    helps = {name: _options(name)["data"].help for name in with_data}
    assert all(text.startswith("Directory of input tables, one file per table") for text in helps.values()), helps
    for name in ("score", "forecast", "explain", "report"):  # a date to work as of: never required
        option = _options(name)["as_of"]
        assert not option.required and "the day after the data ends" in option.help, name


def test_score_without_as_of_scores_the_day_after_the_data_ends(small_demo, tmp_path):
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app, ["score", "--data", str(small_demo.data), "--model-uri", str(small_demo.model), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert set(scores["as_of"]) == {str(small_demo.tables.next_day.date())}
    refused = runner.invoke(app, ["score", "--snapshots", str(out), "--as-of", "2026-01-01", "--out", str(out)])
    assert refused.exit_code == 2 and "--as-of is for --data" in refused.output


@pytest.mark.parametrize(
    "command",
    [
        ["score", "--out", "{tmp}/scores.csv"],
        ["explain", "--account", "ACC-1"],
        ["forecast"],
        ["monitor"],
        ["build-features", "--out", "{tmp}/snapshots.parquet"],
    ],
)
def test_a_malformed_as_of_is_refused_before_anything_is_read(command, tmp_path):
    """The date is checked first: the missing data folder is never reached, and nothing is written."""
    command = [part.format(tmp=tmp_path) for part in command]
    result = runner.invoke(app, [*command, "--data", str(tmp_path / "nowhere"), "--as-of", "01/11/2026"])
    assert result.exit_code == 2
    assert "'01/11/2026' is not a date. Expected YYYY-MM-DD" in " ".join(result.output.split())
    assert "nowhere" not in result.output and not list(tmp_path.iterdir())
