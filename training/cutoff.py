"""Replay one past day: train on what was known then, score the book as it stood, compare with what happened.

The test window of ``churn train`` checks renewals observed after its cutoff, but a book is
scored at every distance up to a year ahead, and long horizons have few rows there. This is
the check a finance team would run: cut the history at a date (say a year before the data
ends), train exactly as ``churn train`` would have on that day, score every account in force
on that day, and wait for the outcomes. Features are point in time (no row dated on or after
``as_of`` is read), so building them from the full export gives the values a cut export would
have given; the only thing a cut changes is which labels were known, and training rows are
limited to outcomes known ``grace_days`` before the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.build import build_scoring_snapshots
from features.load import Tables
from features.outcomes import DEFAULT_GRACE_DAYS, renewal_outcomes
from features.snapshots import label_rows
from training.dataset import TrainingTable
from training.evaluate import expected_calibration_error
from training.peers import peer_keys
from training.reference import book_builder
from training.train import TrainConfig, TrainResult, train


@dataclass
class CutoffReplay:
    cutoff: pd.Timestamp
    result: TrainResult  # the model as trained on that day
    book: pd.DataFrame  # accounts in force on the cutoff: risk, realized label (NaN while still open), strata


def known_by(table: TrainingTable, cutoff: pd.Timestamp, grace_days: int = DEFAULT_GRACE_DAYS) -> np.ndarray:
    """Rows whose outcome was known on ``cutoff``: outcome date more than ``grace_days`` before it.

    A churn is only known once its grace period has passed, so a cut export would still call
    it open; the same rule serves this replay and the forecast backtest.
    """
    outcome = pd.to_datetime(table.frame[table.time_col])
    return (outcome + pd.Timedelta(days=grace_days) < pd.Timestamp(cutoff)).to_numpy()


def replay(
    tables: Tables,
    table: TrainingTable,
    cutoff: pd.Timestamp,
    config: TrainConfig | None = None,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> CutoffReplay:
    """Train on ``table``'s rows whose outcome was known by ``cutoff``, then score the book on ``cutoff``."""
    cutoff = pd.Timestamp(cutoff).normalize()
    known = known_by(table, cutoff, grace_days)
    past = TrainingTable(
        table.frame[known].reset_index(drop=True), table.catalog, table.label, table.id_col, table.time_col
    )
    result = train(past, config or TrainConfig(), reference_book=book_builder(tables))
    scoring = build_scoring_snapshots(tables, cutoff).frame
    outcomes = renewal_outcomes(tables.contracts, tables.data_end, grace_days)
    labels = label_rows(scoring, outcomes)
    book = pd.concat(
        [
            scoring[["account_id", "contract_id", "as_of", "renewal_date", "horizon_days", "arr"]],
            labels,
            peer_keys(scoring),
        ],
        axis=1,
    )
    book["churn_risk"] = result.bundle.churn_probability(scoring, warn=False)
    return CutoffReplay(cutoff, result, book)


def calibration_by_stratum(book: pd.DataFrame, by: str | list[str], min_churned: int = 5) -> pd.DataFrame:
    """Per stratum of the scored book, realized churn against mean risk, AUC and ECE (open renewals left out)."""
    labelled = book[book["churned"].notna()]
    columns = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, part in labelled.groupby(columns, sort=True):
        y, p = part["churned"].to_numpy(dtype=int), part["churn_risk"].to_numpy()
        churned = int(y.sum())
        rows.append(
            {
                **dict(
                    zip([by] if isinstance(by, str) else by, key if isinstance(key, tuple) else (key,), strict=True)
                ),
                "n": len(part),
                "churned": churned,
                "churn_rate": float(y.mean()),
                "mean_risk": float(p.mean()),
                "gap": float(p.mean() - y.mean()),
                "roc_auc": float(roc_auc_score(y, p)) if min_churned <= churned < len(y) else np.nan,
                "ece": expected_calibration_error(y, p),
            }
        )
    return pd.DataFrame(rows)
