"""Monitoring replayed: train as on a past day, log that day's predictions, then monitor the book today.

The same steps the product runs over a year (``churn train`` at the cutoff, ``churn score``
logging its predictions, ``churn monitor`` later), as one function of the tables, so that the
benchmark (``benchmarks/bench_monitor.py``) and the tests measure what the commands do.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.build import build_scoring_snapshots, build_training_snapshots
from features.load import Tables
from features.outcomes import DEFAULT_GRACE_DAYS, renewal_outcomes
from monitor.predictions import prediction_log
from monitor.report import build_report
from training.cutoff import CutoffReplay, replay
from training.dataset import from_snapshots
from training.score import score
from training.train import TrainConfig


@dataclass
class MonitorReplay:
    cutoff: pd.Timestamp
    as_of: pd.Timestamp
    trained: CutoffReplay  # the model as trained on the cutoff, with its book that day
    log: pd.DataFrame  # the predictions logged on the cutoff
    report: dict  # the monitoring report on as_of


def monitor_replay(
    tables: Tables, cutoff: pd.Timestamp, as_of: pd.Timestamp | None = None, seed: int = 7
) -> MonitorReplay:
    """Train on what was known at ``cutoff``, log the book scored then, monitor the book at ``as_of``.

    ``as_of`` defaults to the day after the data ends, as ``churn monitor`` does.
    """
    cutoff = pd.Timestamp(cutoff).normalize()
    as_of = pd.Timestamp(as_of or tables.data_end + pd.Timedelta(days=1)).normalize()
    snapshots = build_training_snapshots(tables)
    trained = replay(tables, from_snapshots(snapshots.frame, snapshots.catalog), cutoff, TrainConfig(seed=seed))
    bundle = trained.result.bundle
    then = build_scoring_snapshots(tables, cutoff).frame
    log = prediction_log(score(bundle, then), then, bundle.schema.names)
    now = build_scoring_snapshots(tables, as_of).frame
    outcomes = renewal_outcomes(tables.contracts, tables.data_end, DEFAULT_GRACE_DAYS)
    known_before = tables.data_end - pd.Timedelta(days=DEFAULT_GRACE_DAYS)
    report = build_report(bundle, score(bundle, now), now, log, outcomes, as_of, known_before=known_before)
    return MonitorReplay(cutoff, as_of, trained, log, report)
