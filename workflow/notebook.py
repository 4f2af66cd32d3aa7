"""The setup every notebook shares: where the project, the data and the outputs are, and a ready session.

A notebook's parameters cell takes its defaults from ``notebook_context()`` (the ``CHURN_*``
settings: ``CHURN_DATA``, ``CHURN_WORKDIR``, ``CHURN_DEMO_ACCOUNTS``, ``CHURN_MODEL_URI``,
``MLFLOW_TRACKING_URI``), and its second cell calls ``start``, so the three notebooks read the
same settings the same way and differ only in what they are about.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import settings

# The notebooks' first line imports this module, before anything imports tqdm (through MLflow) or
# pandas: their notebook-only warnings ("IProgress not found", FutureWarning) are noise there.
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message="IProgress not found")


@dataclass(frozen=True)
class NotebookContext:
    """Where a notebook reads and writes, from the settings in force."""

    project: Path  # the checkout (the folder with pyproject.toml)
    workdir: Path  # where mlflow.db, mlartifacts/ and out/ live, as for the CLI run from there
    data_dir: Path  # the export: one file per table
    out_dir: Path  # where a notebook writes pages: WORKDIR itself when CHURN_WORKDIR names one, else out/notebooks
    demo_accounts: int  # accounts of demo data generated when data_dir is empty
    tracking_uri: str | None  # None: sqlite:///WORKDIR/mlflow.db, the CLI's default store
    model_uri: str
    tune_trials: int


def project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` with a pyproject.toml (a notebook runs from notebooks/)."""
    return next((p for p in (start, *start.parents) if (p / "pyproject.toml").exists()), start)


def notebook_context(start: Path | None = None) -> NotebookContext:
    """The notebook's defaults: relative paths in the settings are taken from the project folder."""
    config = settings.current()
    project = project_root((start or Path.cwd()).resolve())
    workdir = (project / config.workdir).resolve() if config.workdir else project
    return NotebookContext(
        project=project,
        workdir=workdir,
        data_dir=(project / config.data).resolve(),
        out_dir=workdir if config.workdir else project / "out" / "notebooks",
        demo_accounts=config.demo_accounts,
        tracking_uri=config.tracking_uri,
        model_uri=config.model_uri,
        tune_trials=config.tune_trials,
    )


def start(workdir: Path, data_dir: Path, demo_accounts: int, tracking_uri: str | None = None) -> str:
    """Ready the session: work from ``workdir``, readable tables, the data and MLflow in place.

    Demo data is generated only when ``data_dir`` is missing or empty. Returns the lines the
    cell prints: where the data is, whether it was generated, and the MLflow store.
    """
    import pandas as pd

    from demo.simulator import ensure_demo_data
    from training import track

    data_dir = Path(data_dir).resolve()
    Path(workdir).mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # relative paths, mlflow.db and mlartifacts/ resolve as they do for `churn` run from here
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", 120)
    pd.set_option("display.float_format", "{:,.3f}".format)
    lines = []
    if ensure_demo_data(data_dir, accounts=demo_accounts):
        lines.append(f"Generated demo data ({demo_accounts:,} accounts) in {data_dir}")
    lines += [f"Data: {data_dir}", f"MLflow: {track.configure(tracking_uri)}"]
    return "\n".join(lines)
