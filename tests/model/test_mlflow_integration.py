"""Real MLflow components: a tracking server over HTTP, and the MLproject run through `mlflow run`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import synthetic_snapshots

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """`mlflow server` with a SQLite backend on loopback; stopped after the test."""
    port = _free_port()
    process = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--default-artifact-root",
            (tmp_path / "artifacts").as_uri(),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):  # bounded: at most 60 s
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start within 60 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_train_against_a_tracking_server_over_http(mlflow_server, tmp_path):
    path = tmp_path / "snapshots.parquet"
    synthetic_snapshots(2000, seed=21).to_parquet(path, index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server}
    run = subprocess.run(
        [str(BIN / "churn"), "train", "--snapshots", str(path), "--time-col", "renewal_date"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["promoted"] is True
    response = requests.get(
        f"{mlflow_server}/api/2.0/mlflow/registered-models/alias",
        params={"name": "renewal-risk", "alias": "champion"},
        timeout=10,
    )
    assert response.json()["model_version"]["version"] == result["model_version"]
    assert not (tmp_path / "mlflow.db").exists()  # everything went to the server


@pytest.mark.slow
def test_mlproject_train_entry_point_runs_with_mlflow_run(tmp_path):
    """`mlflow run . -e train --env-manager local` on tiny demo data, as the MLflow repo tests its examples."""
    data = tmp_path / "demo"
    subprocess.run(
        [str(BIN / "churn"), "demo-data", "--out", str(data), "--accounts", "300", "--years", "3"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    run = subprocess.run(
        [
            str(BIN / "mlflow"),
            "run",
            str(ROOT),
            "-e",
            "train",
            "--env-manager",
            "local",
            "-P",
            f"data={data}",
            "--experiment-name",
            "mlproject-test",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads([line for line in run.stdout.splitlines() if line.startswith("{")][-1])
    assert result["model_version"] == "1"
    assert "test_roc_auc" in result["metrics"]
