"""Rolling-origin backtest: would this model have worked at each of several past cutoffs?

The latest part of the history is cut into consecutive test windows of snapshot dates. Fold
k trains on every outcome known before its window (split into train, valid and calib by
time, exactly as ``churn train`` does) and is scored on the snapshots observed in that
window alone, at every horizon. The spread of
the fold metrics says how much a single test number can be trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pandas as pd

from training.dataset import TrainingTable
from training.train import TrainConfig, train

TEST_SHARE_PER_FOLD = 0.12  # each fold tests on ~12% of all rows, the latest ones last
SUMMARY_METRICS = (
    "test_roc_auc",
    "test_pr_auc",
    "test_brier",
    "test_ece",
    "test_arr_capture_at_20",
    "baseline_logreg_test_roc_auc",
    "baseline_rules_test_roc_auc",
)


def fold_windows(times: pd.Series, folds: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``folds`` consecutive [from, to) windows of ``times`` (snapshot or outcome dates) covering the latest rows."""
    ordered = np.sort(pd.to_datetime(times).to_numpy())
    n = len(ordered)
    starts = [int(n * (1 - TEST_SHARE_PER_FOLD * (folds - k))) for k in range(folds)]
    edges = [pd.Timestamp(ordered[s]) for s in starts] + [pd.Timestamp(ordered[-1]) + pd.Timedelta(days=1)]
    return list(pairwise(edges))


def rolling_backtest(
    table: TrainingTable, folds: int = 3, seed: int = 7, on_fold: Callable[[int, int], None] | None = None
) -> pd.DataFrame:
    """One row per fold with its windows and test metrics, then rows for the mean and standard deviation."""
    if table.time_col is None:
        raise ValueError("a backtest needs a time column")
    times = pd.to_datetime(table.frame[table.time_col])
    # With snapshot dates, a fold tests the rows observed in its window at every horizon (the
    # deployment replay of training/split.py); without them, the outcomes that fall in it.
    observed = pd.to_datetime(table.frame["as_of"]) if "as_of" in table.frame else times
    rows = []
    for k, (start, end) in enumerate(fold_windows(observed, folds), start=1):
        keep = (observed < end).to_numpy()
        subset = TrainingTable(
            table.frame[keep].reset_index(drop=True), table.catalog, table.label, table.id_col, table.time_col
        )
        result = train(subset, TrainConfig(seed=seed, test_from=start))
        windows = {w["window"]: w for w in result.split.windows}
        rows.append(
            {
                "fold": str(k),
                "test_from": str(start.date()),
                "test_to": str((end - pd.Timedelta(days=1)).date()),
                "train_rows": windows["train"]["rows"],
                "test_rows": windows["test"]["rows"],
                **{m: float(result.metrics.get(m, np.nan)) for m in SUMMARY_METRICS},
            }
        )
        if on_fold:
            on_fold(k, folds)
    report = pd.DataFrame(rows)
    numeric = list(SUMMARY_METRICS)
    summary = [
        {"fold": "mean", **report[numeric].mean().to_dict()},
        {"fold": "std", **report[numeric].std(ddof=1).to_dict()},
    ]
    return pd.concat([report, pd.DataFrame(summary)], ignore_index=True)
