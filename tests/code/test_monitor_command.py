"""`churn monitor`: the report's keys, atomic outputs, readable errors, --fail-on, planted changes found and named."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from demo import simulator
from monitor.report import VERDICTS
from tests.monitor_fixtures import ACCOUNTS, SEED

runner = CliRunner()
KEYS = {"as_of", "model_version", "verdict", "reasons", "drift", "score_drift", "estimated", "realized"}


def _monitor(world, data, tmp_path, *extra: str, name: str = "monitor"):
    out, html = tmp_path / f"{name}.json", tmp_path / f"{name}.html"
    args = ["monitor", "--data", str(data), "--model-uri", str(world.model), "--out", str(out), "--html", str(html)]
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "COLUMNS": "200"}
    result = runner.invoke(app, [*args, *extra], env=env)
    report = json.loads(out.read_text()) if out.exists() else None
    return result, report, html


def _planted(tmp_path_factory, plant: str, days_before_end: int):
    """The fixture's world (same seed, same accounts) with ``plant`` from ``days_before_end`` before its end."""
    root = tmp_path_factory.mktemp(plant)
    after = str((pd.Timestamp("2026-10-31") - pd.Timedelta(days=days_before_end)).date())
    simulator.write(simulator.generate(ACCOUNTS, years=3, seed=SEED, plant=plant, plant_after=after), root)
    return root


def test_an_unchanged_book_is_ok_and_the_report_has_its_keys(book_world, tmp_path):
    result, report, html = _monitor(book_world, book_world.data, tmp_path)
    assert result.exit_code == 0, result.output
    assert set(report) >= KEYS and report["verdict"] == "ok", report["reasons"]
    assert report["action"] is None
    assert report["as_of"] == str((book_world.tables.data_end + pd.Timedelta(days=1)).date())
    assert not [d["feature"] for d in report["drift"] if d["alarm"]]
    first = report["drift"][0]
    assert {"feature", "statistic", "value", "threshold", "alarm"} <= set(first) and first["statistic"] == "psi"
    assert {"open_renewals", "expected_churn", "expected_arr_lost", "expected_auc"} <= set(report["estimated"])
    assert report["estimated"]["open_renewals"] == report["book"]["accounts"] > 100
    assert set(report["estimated"]["by_cadence"]) <= {"monthly", "annual", "multi-year"}
    assert report["realized"]["n"] == 0  # no prediction log given
    assert "Verdict: ok" in result.output and html.read_text().startswith("<!doctype html>")
    assert not list(tmp_path.glob(".*.tmp"))
    # the MLflow run is opened by experiment id: nothing leaks into the environment of later `mlflow run`s
    assert "MLFLOW_EXPERIMENT_ID" not in os.environ and "MLFLOW_EXPERIMENT_NAME" not in os.environ


@pytest.mark.parametrize(
    ("plant", "days", "named"),
    [
        ("usage-halved", 60, lambda d: d["feature"] == "usage_logins_per_active_user_30d"),
        ("new-segment", 150, lambda d: d["feature"] == "segment" and "public_sector" in d["new_categories"]),
    ],
)
def test_a_planted_change_is_found_named_and_fails_the_run(book_world, tmp_path_factory, tmp_path, plant, days, named):
    data = _planted(tmp_path_factory, plant, days)
    result, report, _ = _monitor(book_world, data, tmp_path, "--fail-on", "watch")
    assert result.exit_code == 3, result.output
    assert report["verdict"] in ("watch", "retrain")
    alarms = [d for d in report["drift"] if d["alarm"]]
    assert any(named(d) for d in alarms), [d["feature"] for d in alarms]
    assert any(plant.split("-")[0] in reason or "segment" in reason for reason in report["reasons"])
    if report["verdict"] == "retrain":
        assert report["action"] == f"Retrain: churn train --data {data}"
    else:
        assert (
            runner.invoke(
                app,
                [
                    "monitor",
                    "--data",
                    str(data),
                    "--model-uri",
                    str(book_world.model),
                    "--out",
                    str(tmp_path / "again.json"),
                    "--fail-on",
                    "retrain",
                ],
                env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
            ).exit_code
            == 0
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "/nonexistent/dir"], "no such directory"),
        (["--as-of", "2026-13-45"], "is not a date"),
        (["--out", "report.txt"], "ending in .json"),
        (["--fail-on", "panic"], "expected watch or retrain"),
        (["--store", "/nonexistent/store.db"], "no such snapshot store"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(book_world, tmp_path, args, message):
    base = {"--data": str(book_world.data), "--out": str(tmp_path / "m.json"), "--model-uri": str(book_world.model)}
    base |= dict(zip(args[::2], args[1::2], strict=True))
    result = runner.invoke(app, ["monitor", *[x for kv in base.items() for x in kv]], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.json").exists()


def test_three_drifted_features_mean_retrain_and_one_means_watch():
    from monitor.report import verdict

    drift = [{"feature": f"f{i}", "alarm": True, "why": ["distribution moved (PSI 0.90)"]} for i in range(3)]
    decided, reasons = verdict(drift, {"alarm": False}, {}, {"n": 0}, None)
    assert decided == "retrain" and reasons[0].startswith("3 input feature(s) drifted from training: f0")
    assert verdict(drift[:1], {"alarm": False}, {}, {"n": 0}, None)[0] == "watch"
    assert verdict([], {"alarm": False}, {}, {"n": 0}, None)[0] == "ok"
    assert VERDICTS == ("ok", "watch", "retrain")
