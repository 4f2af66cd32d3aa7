"""Loading a model by URI: the registry is asked only when it may have changed; a folder's trees load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from churn.cli import app
from training import loading, track
from training.bundle import BoosterFile, ModelBundle

ENV = {"COLUMNS": "200"}


def test_a_bundle_folder_reads_its_trees_only_when_asked_and_predicts_the_same(small_demo):
    bundle = ModelBundle.load(small_demo.model)
    assert isinstance(bundle.booster, BoosterFile)
    assert bundle.booster.model_to_string() == (small_demo.model / "model.txt").read_text()
    assert bundle.booster._booster is None  # the text came from the file: no trees loaded yet
    rows = small_demo.snapshots.frame.head(50)
    np.testing.assert_allclose(bundle.churn_probability(rows, warn=False), small_demo.bundle.churn_probability(rows))
    assert bundle.booster.model_to_string() == small_demo.bundle.booster.model_to_string()


def test_reading_a_bundle_folder_imports_neither_lightgbm_nor_mlflow(small_demo):
    code = (
        "import sys; from training.loading import load_bundle; b = load_bundle(sys.argv[1]);"
        "b.booster.model_to_string(); print(sorted(m for m in ('lightgbm', 'mlflow', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(small_demo.model)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_a_registry_uri_is_resolved_once_until_the_registry_changes(store, small_demo, tmp_path):
    trained = CliRunner().invoke(app, ["train", "--data", str(small_demo.data), "--seed", "1"], env=ENV)
    assert trained.exit_code == 0, trained.output
    uri = "models:/renewal-risk@champion"
    first = loading.load_bundle(uri, store)
    assert first.version_label.endswith("1")
    database = loading.sqlite_file(store)
    (entry,) = [p for p in (database.parent / loading.CACHE_FOLDER).iterdir() if not p.name.startswith(".")]
    pointer = json.loads((entry / "pointer.json").read_text())
    assert pointer["uri"] == uri and pointer["version"] == "1"

    # a second process reads the kept copy: MLflow is never imported
    code = (
        "import sys; from training.loading import load_bundle; b = load_bundle(sys.argv[1], sys.argv[2]);"
        "print(b.metadata['model_version'], 'mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, uri, store], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False"]

    # a second model promoted by hand changes the registry file: the next load asks MLflow and gets version 2
    again = CliRunner().invoke(app, ["train", "--data", str(small_demo.data), "--seed", "2"], env=ENV)
    assert again.exit_code == 0, again.output
    track.configure(store)
    track.promote("2")
    assert loading.load_bundle(uri, store).metadata["model_version"] == "2"
    out = subprocess.run([sys.executable, "-c", code, uri, store], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False"]


def test_a_damaged_copy_is_ignored_and_replaced(store, small_demo):
    trained = CliRunner().invoke(app, ["train", "--data", str(small_demo.data), "--seed", "1"], env=ENV)
    assert trained.exit_code == 0, trained.output
    uri = "models:/renewal-risk@champion"
    loading.load_bundle(uri, store)
    database = loading.sqlite_file(store)
    (entry,) = [p for p in (database.parent / loading.CACHE_FOLDER).iterdir() if not p.name.startswith(".")]
    (entry / "bundle.json").write_text("{not json")
    assert loading.load_bundle(uri, store).metadata["model_version"] == "1"  # through MLflow, and kept again
    assert json.loads((entry / "bundle.json").read_text())["format"] == 1


def test_a_missing_folder_is_an_error_that_names_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no model bundle in this folder"):
        loading.load_bundle(str(tmp_path / "empty"))
