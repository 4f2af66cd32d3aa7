"""The prediction log: every scoring run's predictions, kept so that monitoring can judge them once renewals close.

One row per scored account and date: as_of, account, contract, renewal date, cadence,
horizon bucket, model version, risk, ARR, segment and the feature snapshot the risk was
computed from (a JSON object, because the feature set follows each data set's catalog).
Realized performance (``monitor.realized``) joins these rows to the outcomes by contract
and date, with the same labelling as training.

Two homes, one layout: the snapshot store's ``predictions`` table when ``churn score
--store`` is given (``serving.store.write_predictions``), else a Parquet file beside the
scores (``<scores>.predictions.parquet``). Both are history: writing a date replaces that
date's rows for that model and nothing else, so re-scoring an older date never touches a
newer one. The Parquet file is rewritten whole to a temporary file and renamed into place,
so a reader never sees half a log.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.io import atomic_path

LOG_COLUMNS = [
    "as_of",
    "account_id",
    "contract_id",
    "renewal_date",
    "cadence",
    "horizon_bucket",
    "horizon_days",
    "days_to_renewal",
    "model_version",
    "churn_risk",
    "arr",
    "segment",
    "features",
]
KEY = ["as_of", "model_version"]  # one scoring run: a date and the model that scored it


def default_path(scores_out: Path) -> Path:
    """Where the log goes without a store: beside the scores, ``scores.csv`` -> ``scores.predictions.parquet``."""
    scores_out = Path(scores_out)
    return scores_out.with_name(f"{scores_out.stem}.predictions.parquet")


def prediction_log(scores: pd.DataFrame, snapshots: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The log rows of one scoring run: ``scores`` (any order) joined back to the ``snapshots`` they came from.

    Scores are sorted by ARR at risk; the snapshot row of each is found by account id, which
    is unique within one scoring date.
    """
    frame = snapshots.reset_index(drop=True)
    position = pd.Index(frame["account_id"].astype("str")).get_indexer(scores["account_id"].astype("str"))
    if (position < 0).any():
        raise ValueError("some scores have no snapshot row to log")
    rows = frame.iloc[position].reset_index(drop=True)
    present = [name for name in features if name in rows]
    snapshot_json = rows[present].to_json(orient="records", lines=True, date_format="iso").splitlines()
    log = pd.DataFrame(
        {
            "as_of": pd.to_datetime(scores["as_of"].to_numpy()).astype("datetime64[us]"),
            "account_id": scores["account_id"].astype("str").to_numpy(),
            "contract_id": rows["contract_id"].astype("str").to_numpy() if "contract_id" in rows else None,
            "renewal_date": pd.to_datetime(scores["renewal_date"].to_numpy()).astype("datetime64[us]"),
            "cadence": scores["cadence"].astype("str").to_numpy(),
            "horizon_bucket": scores["horizon_bucket"].astype("str").to_numpy(),
            "horizon_days": pd.to_numeric(
                rows.get("horizon_days", pd.Series(np.nan, rows.index)), errors="coerce"
            ).to_numpy(dtype=float),
            "days_to_renewal": pd.to_numeric(scores["days_to_renewal"], errors="coerce").to_numpy(dtype=float),
            "model_version": scores["model_version"].astype("str").to_numpy(),
            "churn_risk": scores["churn_risk"].to_numpy(dtype=float),
            "arr": pd.to_numeric(scores["arr"], errors="coerce").to_numpy(dtype=float),
            "segment": rows["segment"].astype("str").where(rows["segment"].notna()).to_numpy()
            if "segment" in rows
            else None,
            "features": snapshot_json if len(rows) else [],
        }
    )
    return log[LOG_COLUMNS]


def merge(existing: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """``existing`` without the runs ``new`` repeats (same date and model), plus ``new``, oldest date first."""
    if existing is None or existing.empty:
        return new.sort_values(["as_of", "account_id"], ignore_index=True)
    runs = pd.MultiIndex.from_frame(new[KEY].drop_duplicates().astype("str"))
    kept = existing[~pd.MultiIndex.from_frame(existing[KEY].astype("str")).isin(runs)]
    merged = pd.concat([kept, new], ignore_index=True)
    return merged.sort_values(["as_of", "model_version", "account_id"], ignore_index=True)


def read_log(path: Path) -> pd.DataFrame:
    """The Parquet log at ``path`` (empty, with the log's columns, when there is none yet)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=LOG_COLUMNS)
    frame = pd.read_parquet(path)
    for column in ("as_of", "renewal_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


def append_log(path: Path, log: pd.DataFrame) -> int:
    """Add one run to the Parquet log at ``path`` (temp file, then rename); returns the rows written."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise OSError(f"{path} is a directory, not a prediction log file")
    merged = merge(read_log(path) if path.exists() else None, log)
    with atomic_path(path) as tmp:
        merged.to_parquet(tmp, index=False)
    return len(log)
