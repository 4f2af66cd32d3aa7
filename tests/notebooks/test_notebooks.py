"""The notebooks in ``notebooks/``: committed without outputs, and run top to bottom on small demo data.

The slow test is what CI runs to catch a broken notebook: it generates 600 demo accounts in a
temporary working directory, registers a champion with the real CLI (``churn train``) in a
temporary SQLite MLflow store (never the repository's ``mlflow.db``), then executes the three
notebooks in order, each in a fresh kernel, as ``make notebooks`` does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ["01-explore-data.ipynb", "02-retrain-and-compare.ipynb", "03-explain-accounts.ipynb"]
ACCOUNTS = 600
BUDGET_SECONDS = 180  # the limit for all three on small data
CLEAN = "run `make notebooks-clean` before committing"


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def test_the_three_notebooks_are_there_in_order():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_committed_without_outputs(name):
    book = _read(name)
    nbformat.validate(book)
    for i, cell in enumerate(book.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{name} cell {i} has outputs: {CLEAN}"
        assert cell.execution_count is None, f"{name} cell {i} has an execution count: {CLEAN}"
        assert "execution" not in cell.metadata, f"{name} cell {i} has execution timings: {CLEAN}"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_starts_with_a_parameters_cell_and_uses_the_package(name):
    book = _read(name)
    first_code = next(c for c in book.cells if c.cell_type == "code")
    assert first_code.source.startswith("# Parameters")
    for variable in ("DATA_DIR", "WORKDIR", "CHURN_DATA", "CHURN_WORKDIR"):
        assert variable in first_code.source
    assert "notebook_context()" in first_code.source and "os.environ" not in first_code.source  # one shared setup
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# ")
    code = "\n".join(c.source for c in book.cells if c.cell_type == "code")
    assert "def " not in code and "class " not in code, "logic belongs in the package, not in cells"


def _execute(name: str, workdir: Path) -> tuple[nbformat.NotebookNode, float]:
    from nbclient import NotebookClient

    book = _read(name)
    started = time.perf_counter()
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    nbformat.write(book, workdir / name)  # executed copy, for a person to open when the test fails
    return book, time.perf_counter() - started


def _outputs(book: nbformat.NotebookNode, kind: str) -> list:
    return [o for c in book.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})]


def _text(book: nbformat.NotebookNode) -> str:
    parts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _stderr(book: nbformat.NotebookNode) -> str:
    return "\n".join(
        o.text for c in book.cells for o in c.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"
    )


@pytest.mark.slow
def test_notebooks_run_top_to_bottom_on_small_demo_data(tmp_path, monkeypatch):
    from demo import simulator

    data = tmp_path / "data"
    simulator.write(simulator.generate(ACCOUNTS, years=3, seed=7), data)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": store, "CHURN_WORKDIR": str(tmp_path), "CHURN_DATA": str(data)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    # A champion registered by the CLI in the same store: the notebook must compare with it.
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "churn"), "train", "--data", str(data), "--seed", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert json.loads(cli.stdout.strip().splitlines()[-1])["model_version"] == "1"

    seconds = {}
    explore, seconds["01"] = _execute(EXPECTED[0], tmp_path)
    assert len(_outputs(explore, "image/png")) >= 5, "the exploration plots render"
    assert len(_outputs(explore, "text/html")) >= 5, "the tables render as DataFrames"

    retrain, seconds["02"] = _execute(EXPECTED[1], tmp_path)
    text = _text(retrain)
    assert "Current champion: 1" in text
    assert "champion (v1)" in text, "the new model is compared side by side with the CLI's champion"
    assert "model version 2" in text
    assert len(_outputs(retrain, "image/png")) >= 4  # calibration, lift, SHAP summary, comparison

    from mlflow import MlflowClient

    from training import retrain as retrain_module
    from training import track

    track.configure(store)
    champion = retrain_module.champion_version()
    promoted = "Version 2 is the champion." in text
    assert champion == ("2" if promoted else "1"), "what the notebook says is what the CLI's store holds"
    assert str(MlflowClient().get_model_version_by_alias(track.MODEL_NAME, "challenger").version) == "2"

    explain, seconds["03"] = _execute(EXPECTED[2], tmp_path)
    text = _text(explain)
    assert f"version {champion}" in text, "notebook 3 explains with the champion"
    assert "If " in text and "churn risk" in text  # the what-if
    assert len(_outputs(explain, "image/png")) >= 4  # waterfall, groups, trend, what-if waterfall
    pages = list(tmp_path.glob("*.html"))  # CHURN_WORKDIR is the notebooks' own folder: pages go there, once
    assert pages and not list(tmp_path.glob("out/**/*.html")), "the account page is written, not under a doubled path"

    for book in (explore, retrain, explain):
        assert "Warning" not in _stderr(book), _stderr(book)[:2000]
    assert not (NOTEBOOKS / "mlflow.db").exists() and not (NOTEBOOKS / "mlartifacts").exists()
    assert sum(seconds.values()) < BUDGET_SECONDS, seconds
