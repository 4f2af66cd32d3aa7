"""A fresh SQLite MLflow store per test, in the test's own working folder (artifacts land there too)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import mlflow
import pytest

from training import track


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = track.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield uri
    mlflow.set_tracking_uri(None)
    plt.close("all")
