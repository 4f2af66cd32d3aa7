"""Train, evaluate, log, register and promote: the sequence written once, for every caller.

``churn train`` (and so the MLproject's ``train`` entry point) and notebook 02 call
``run_training``; they differ only in how they show progress (``Progress``: the CLI's rich
steps, or nothing) and in what they print afterwards. The MLflow parameters of a run come
from one function (``run_params``), so a notebook run and a CLI run read alike in MLflow.
Notes (a time column missing, rows purged at the cutoff, optional tables absent) come back
as values in ``TrainingRun.notes``, said once.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from features.build import SnapshotResult, build_training_snapshots
from features.load import Tables, load_tables
from features.outcomes import DEFAULT_GRACE_DAYS
from features.schema import TABLES
from features.snapshots import DEFAULT_HORIZONS
from training import track
from training.dataset import TrainingTable, fingerprint, from_snapshots, from_snapshots_file
from training.reference import book_builder
from training.retrain import champion_version
from training.train import TrainConfig, TrainResult, train


class Progress(Protocol):
    """How a caller shows long work: ``churn.progress.Steps`` in the terminal, ``Silent`` in a notebook."""

    def step(self, title: str) -> AbstractContextManager[None]: ...

    def bar(self, title: str, total: int) -> AbstractContextManager[Callable[[int, int | None], None]]: ...

    def note(self, text: str) -> None: ...


class Silent:
    """Progress that shows nothing and keeps the notes (they are also in ``TrainingRun.notes``)."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        yield

    @contextmanager
    def bar(self, title: str, total: int) -> Iterator[Callable[[int, int | None], None]]:
        yield lambda done, new_total=None: None

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass(frozen=True)
class TrainingSource:
    """What a model is trained from: the export's tables (``data``) or a snapshot table (``snapshots``)."""

    data: Path | None = None
    snapshots: Path | None = None
    label: str = "churned"  # a --snapshots table's churn flag
    id_col: str = "account_id"
    time_col: str | None = None  # a --snapshots table's date column; tables built from data use outcome_date
    horizon_days: tuple[int, ...] = DEFAULT_HORIZONS
    grace_days: int = DEFAULT_GRACE_DAYS

    def __post_init__(self) -> None:
        if (self.data is None) == (self.snapshots is None):
            raise ValueError("give exactly one of --data DIR or --snapshots FILE.")
        if self.data is not None:
            object.__setattr__(self, "time_col", "outcome_date")


@dataclass
class TrainingRun:
    """One training run: what went in, what came out, and where it is in the registry."""

    table: TrainingTable
    result: TrainResult
    tracked: track.Tracked | None  # None when not logged
    champion_before: str | None  # the champion's version before this run (None: there was none)
    tracking_uri: str | None
    tables: Tables | None = None  # the export's tables, when trained from data
    snapshots: SnapshotResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def windows(self) -> pd.DataFrame:
        """The split windows (train, valid, calib, test) with their dates, rows and churn rates."""
        return pd.DataFrame(self.result.split.windows)


def run_params(source: TrainingSource, config: TrainConfig) -> dict[str, object]:
    """The parameters every training run logs to MLflow (LightGBM's own are added by ``track.log_run``)."""
    from_data = source.data is not None
    return {
        "seed": config.seed,
        "tune_trials": config.tune_trials,
        "calibration": config.calibration,
        "bands": ",".join(f"{b:g}" for b in config.bands),
        "horizon_days": ",".join(str(int(h)) for h in source.horizon_days) if from_data else None,
        "grace_days": source.grace_days if from_data else None,
        "source": str(source.data if from_data else source.snapshots),
        "label": source.label,
        "time_col": source.time_col,
    }


def training_table(
    source: TrainingSource,
    progress: Progress,
    tables: Tables | None = None,
    snapshots: SnapshotResult | None = None,
) -> tuple[TrainingTable, dict[str, object], Tables | None, SnapshotResult | None]:
    """The table to train on, the files behind it (for the fingerprint), and the tables and snapshots built.

    From ``data``: the tables are loaded and validated (unless given) and training snapshots
    built at ``source.horizon_days`` (unless given). From ``snapshots``: the file is read; what
    the reader warns about (a label spelled yes/no, a dropped column) becomes a note.
    """
    if source.data is None:
        with progress.step(f"Reading {source.snapshots}"), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = from_snapshots_file(source.snapshots, source.label, source.id_col, source.time_col)
        for warning in caught:
            progress.note(str(warning.message))
        return table, {"snapshots": source.snapshots}, None, None
    if tables is None:
        tables = load_export(source.data, progress)
    if snapshots is None:
        with progress.step("Building training snapshots"):
            snapshots = build_training_snapshots(
                tables, horizons=tuple(source.horizon_days), grace_days=source.grace_days
            )
    return from_snapshots(snapshots.frame, snapshots.catalog), dict(tables.sources), tables, snapshots


def load_export(data: Path, progress: Progress, accounts: list[str] | None = None) -> Tables:
    """The export's tables, validated, with a progress bar and a note per optional table that is absent.

    ``accounts`` reads only those accounts' rows (and the export-wide facts), for commands about
    one account. Every command that reads ``--data`` loads it here, so all say the same."""
    whose = f" ({', '.join(accounts)})" if accounts else ""
    with progress.bar(f"Loading and validating tables from {data}{whose}", total=len(TABLES)) as update:
        tables = load_tables(data, on_table=lambda name, done, total: update(done, total), accounts=accounts)
    for name in tables.missing_tables:
        progress.note(f"Optional table '{name}' not found: its features are missing (not zero) for every account.")
    return tables


def run_training(
    source: TrainingSource,
    config: TrainConfig | None = None,
    *,
    experiment: str = track.EXPERIMENT,
    tracking_uri: str | None = None,
    log: bool = True,
    progress: Progress | None = None,
    tables: Tables | None = None,
    snapshots: SnapshotResult | None = None,
) -> TrainingRun:
    """Build the table, train, check explanations against known causes, log, register and apply the champion rule.

    With ``log=False`` nothing touches MLflow. ``tables`` and ``snapshots`` may be passed when
    already loaded and built (with the same horizons and grace days). A table that cannot be
    trained on raises ``ValueError`` with the reason in words.
    """
    config = config or TrainConfig()
    progress = progress or Silent()
    table, sources, tables, snapshots = training_table(source, progress, tables, snapshots)
    tuning = f" with {config.tune_trials} tuning trials" if config.tune_trials else ""
    with progress.step(f"Training on {len(table.frame):,} snapshots × {len(table.features)} features{tuning}"):
        # with the export's tables at hand, monitoring's reference is book-shaped (training/reference.py)
        books = book_builder(tables) if tables is not None else None
        result = train(table, config, fingerprint(table, sources), reference_book=books)
    notes = list(result.notes)
    for note in notes:
        progress.note(note)
    if source.data is not None:
        add_explanation_quality(result, table, source.data, progress)
    if not log:
        return TrainingRun(table, result, None, None, None, tables, snapshots, notes)
    uri = track.configure(tracking_uri)
    before = champion_version()
    with progress.step(f"Logging to MLflow ({uri})"):
        tracked = track.log_run(result, table.frame, run_params(source, config), experiment)
    return TrainingRun(table, result, tracked, before, uri, tables, snapshots, notes)


def add_explanation_quality(result: TrainResult, table: TrainingTable, data: Path, progress: Progress) -> bool:
    """With ground truth next to the data (the demo's ``_truth/``), add the explanation hit rate to the metrics."""
    from explain.evaluate import explanation_hit_rate, load_truth

    truth = load_truth(Path(data))
    if truth is None:
        return False
    with progress.step("Checking explanations against the known causes of churn"):
        rates = explanation_hit_rate(result.bundle, table.frame.iloc[result.split["test"]], truth)
    result.metrics.update({f"test_{k}": v for k, v in rates.items()})
    return True


def train_and_log(
    data: Path | str,
    *,
    tables: Tables | None = None,
    snapshots: SnapshotResult | None = None,
    horizon_days: Sequence[int] = DEFAULT_HORIZONS,
    grace_days: int = DEFAULT_GRACE_DAYS,
    seed: int = 7,
    tune_trials: int = 0,
    calibration: str = "auto",
    bands: tuple[float, float] | None = None,
    params: dict[str, object] | None = None,
    experiment: str = track.EXPERIMENT,
    tracking_uri: str | None = None,
    log: bool = True,
) -> TrainingRun:
    """``churn train --data DATA`` as a function, with keyword arguments for a notebook's parameters cell.

    ``params`` are LightGBM parameters over the defaults (``TrainConfig.params``)."""
    source = TrainingSource(data=Path(data), horizon_days=tuple(horizon_days), grace_days=grace_days)
    config = TrainConfig(seed=seed, tune_trials=tune_trials, calibration=calibration, params=params)
    if bands is not None:
        config = dataclasses.replace(config, bands=tuple(bands))
    return run_training(
        source, config, experiment=experiment, tracking_uri=tracking_uri, log=log, tables=tables, snapshots=snapshots
    )
