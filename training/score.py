"""Scoring: one row per account with its renewal probability, risk band and ARR at risk.

The scoring table may carry columns the model never saw (a label, ids, notes): they are
ignored unless asked for (``keep``). A feature the model needs but the table lacks is treated
as missing, with one warning naming it (``FeatureSchema.matrix``).

Every score says what it is about: ``cadence`` (a monthly plan's risk is "cancels within 90
days", a longer contract's "does not renew at its renewal date"), ``horizon_bucket`` (how far
ahead the risk looks) and ``beyond_trained_range``: a renewal more than ``MAX_HORIZON_DAYS``
days ahead lies past the furthest distance the model was trained at, so its score is the
model's reading at the edge of that range (trees do not extrapolate), flagged, never silent.
Likewise ``unknown_categories`` names any categorical value the model never saw in training
(``segment "Enterprise "``): it was scored as missing, which the score stands by, but the value
deserves a look at its source.

A table the user brings names its own account id (``churn train --id-col customerid``). The
scores keep that column under its own name, first, and also as ``account_id``, so that a
scores file always has the same columns whatever table it came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.snapshots import GRID_COLUMNS, LABEL_COLUMNS, MAX_HORIZON_DAYS, cadence, horizon_bucket
from training.bundle import ModelBundle

RISK_BANDS = ("low", "medium", "high")
SCORE_COLUMNS = [
    "account_id",
    "as_of",
    "renewal_date",
    "days_to_renewal",
    "arr",
    "renewal_probability",
    "churn_risk",
    "risk_band",
    "arr_at_risk",
    "model_version",
    "cadence",
    "horizon_bucket",
    "beyond_trained_range",
    "unknown_categories",
]


def risk_band(churn_risk: np.ndarray, bands: tuple[float, float]) -> np.ndarray:
    """low below the first threshold, medium below the second, high from there."""
    low, high = bands
    if not 0 < low < high < 1:
        raise ValueError(f"risk band thresholds must satisfy 0 < low < high < 1, got {bands}")
    return np.select([churn_risk < low, churn_risk < high], ["low", "medium"], default="high")


def id_column(bundle: ModelBundle, frame: pd.DataFrame, explicit: str | None = None) -> tuple[str, str | None]:
    """The account id column of a scoring table, and a note when it had to be inferred.

    In order: ``explicit`` (``--id-col``); the id column the model records in its metadata
    (``id_col``); ``account_id``; else the one column that is neither a model feature, nor the
    label or time column the model was trained with, nor a date or a fractional number, and has
    a distinct value on every row — training leaves exactly that column out of the features (``--id-col``), so a
    table like the one the model was trained on has exactly one. Anything else is an error
    that asks for ``--id-col``.
    """
    if explicit is not None:
        if explicit not in frame.columns:
            raise ValueError(
                f"the --id-col column '{explicit}' is not in the table (found: {', '.join(map(str, frame.columns))})"
            )
        return explicit, None
    recorded = bundle.metadata.get("id_col")
    if recorded and recorded in frame.columns:
        return str(recorded), None
    if "account_id" in frame.columns:
        return "account_id", None
    metadata = bundle.metadata
    excluded = {*bundle.schema.names, *GRID_COLUMNS, *LABEL_COLUMNS, metadata.get("label"), metadata.get("time_col")}
    candidates = [
        column
        for column in frame.columns
        if column not in excluded
        and not pd.api.types.is_float_dtype(frame[column])  # an id is text or a whole number
        and frame[column].notna().all()
        and frame[column].is_unique
        and not _looks_like_dates(frame[column])
    ]
    if len(candidates) == 1:
        name = str(candidates[0])
        return name, (
            f"the model does not record its id column; using '{name}', the only column that is not a feature, "
            "label or date and differs on every row (pass --id-col to choose)"
        )
    found = f"candidates: {', '.join(map(str, candidates))}" if candidates else "no column looks like one"
    raise ValueError(f"cannot tell which column is the account id ({found}); pass --id-col")


def unseen_message(field: str, value: str, known: list[str]) -> str:
    """The one sentence for a categorical value unseen in training (scores files, the CLI and the API)."""
    shown = ", ".join(f'"{k}"' for k in known)
    return f'{field} "{value}" was not seen in training and is scored as unknown; known values: {shown}'


def unknown_category_column(bundle: ModelBundle, frame: pd.DataFrame) -> pd.Series:
    """Per row, its unseen categorical values as ``field "value"``, joined by "; " (empty when none)."""
    unseen = bundle.schema.unseen(frame)
    out = pd.Series("", index=frame.index, dtype="str")
    if unseen.empty:
        return out
    text = unseen["field"] + ' "' + unseen["value"] + '"'
    joined = text.groupby(unseen["row"].to_numpy()).agg("; ".join)
    out.iloc[joined.index.to_numpy()] = joined.to_numpy()
    return out


def unknown_category_note(bundle: ModelBundle, frame: pd.DataFrame) -> str | None:
    """One line for the terminal: which unseen values were scored as unknown, on how many accounts."""
    unseen = bundle.schema.unseen(frame)
    if unseen.empty:
        return None
    counts = unseen.groupby(["field", "value"], sort=True).size().sort_values(ascending=False, kind="stable")
    shown = [f'{field} "{value}" ({n:,})' for (field, value), n in counts.head(5).items()]
    more = f" and {len(counts) - 5:,} more" if len(counts) > 5 else ""
    accounts = unseen["row"].nunique()
    noun = "account has a value" if accounts == 1 else "accounts have values"
    return (
        f"{accounts:,} {noun} the model never saw in training, scored as unknown: {', '.join(shown)}{more}; "
        "see the unknown_categories column."
    )


def _looks_like_dates(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if pd.api.types.is_numeric_dtype(values):
        return False
    parsed = pd.to_datetime(values.astype("str"), errors="coerce", format="ISO8601")
    return bool(parsed.notna().all())


def trained_range_days(bundle) -> float:
    """How far ahead the model was trained: its furthest training row where it knows it, else the grid's limit.

    Scores flag renewals beyond it and the forecast leaves them out, by this one number."""
    return float(bundle.metadata.get("max_horizon_days") or MAX_HORIZON_DAYS)


def score(
    bundle: ModelBundle,
    snapshots: pd.DataFrame,
    bands: tuple[float, float] | None = None,
    extra: pd.DataFrame | None = None,
    id_col: str = "account_id",
    keep: list[str] | tuple[str, ...] = (),
) -> pd.DataFrame:
    """Scores for every snapshot row, riskiest ARR first (riskiest first without ARR).

    ``id_col`` is the table's account id: written as ``account_id`` and, when it has another
    name, also under that name as the first column. ``keep`` columns of the table ride along
    after the scores, then ``extra`` columns (row-aligned, e.g. reasons).
    """
    bands = tuple(bands or bundle.bands)  # type: ignore[assignment]
    absent = [c for c in keep if c not in snapshots.columns]
    if absent:
        raise ValueError(
            f"--keep: {', '.join(absent)} not in the table (found: {', '.join(map(str, snapshots.columns))})"
        )
    clash = [c for c in keep if c in SCORE_COLUMNS or c == id_col]
    if clash:
        raise ValueError(f"--keep: {', '.join(clash)} already in the scores")
    churn_risk = bundle.churn_probability(snapshots)
    out = pd.DataFrame(index=snapshots.index)
    if id_col != "account_id":
        out[id_col] = snapshots[id_col]
    out["account_id"] = snapshots.get(id_col, np.nan)
    for column in ("as_of", "renewal_date", "days_to_renewal", "arr"):
        out[column] = snapshots.get(column, np.nan)
    out["days_to_renewal"] = pd.to_numeric(out["days_to_renewal"], errors="coerce")
    out["arr"] = pd.to_numeric(out["arr"], errors="coerce")
    if out["days_to_renewal"].isna().all() and {"renewal_date", "as_of"} <= set(snapshots.columns):
        out["days_to_renewal"] = (
            pd.to_datetime(snapshots["renewal_date"]) - pd.to_datetime(snapshots["as_of"])
        ).dt.days
    out["renewal_probability"] = 1.0 - churn_risk
    out["churn_risk"] = churn_risk
    out["risk_band"] = risk_band(churn_risk, bands)  # type: ignore[arg-type]
    out["arr_at_risk"] = out["arr"] * churn_risk
    out["model_version"] = bundle.version_label
    term = snapshots["contract_term_days"] if "contract_term_days" in snapshots else pd.Series(np.nan, out.index)
    out["cadence"] = cadence(pd.to_numeric(term, errors="coerce"))
    # a monthly plan's risk looks RISK_WINDOW_DAYS ahead (the grid's horizon_days); a contract's, to its renewal
    horizon = pd.to_numeric(snapshots["horizon_days"], errors="coerce") if "horizon_days" in snapshots else None
    if horizon is None or horizon.isna().all():
        horizon = out["days_to_renewal"]
    out["horizon_bucket"] = horizon_bucket(horizon)
    out["beyond_trained_range"] = (out["days_to_renewal"] > trained_range_days(bundle)).to_numpy()
    out["unknown_categories"] = unknown_category_column(bundle, snapshots.reset_index(drop=True)).to_numpy()
    columns = ([id_col] if id_col != "account_id" else []) + SCORE_COLUMNS
    out = out[columns]
    for column in keep:
        out[column] = snapshots[column]
    if extra is not None:
        out = pd.concat([out, extra.set_axis(out.index)], axis=1)
    return out.sort_values(
        ["arr_at_risk", "churn_risk", "account_id"], ascending=[False, False, True], ignore_index=True
    )
