"""Scoring: one row per account with its renewal probability, risk band and ARR at risk.

The scoring table may carry columns the model never saw (a label, ids, notes): they are
ignored. A feature the model needs but the table lacks is treated as missing, with one
warning naming it (``FeatureSchema.matrix``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
]


def risk_band(churn_risk: np.ndarray, bands: tuple[float, float]) -> np.ndarray:
    """low below the first threshold, medium below the second, high from there."""
    low, high = bands
    if not 0 < low < high < 1:
        raise ValueError(f"risk band thresholds must satisfy 0 < low < high < 1, got {bands}")
    return np.select([churn_risk < low, churn_risk < high], ["low", "medium"], default="high")


def score(
    bundle: ModelBundle,
    snapshots: pd.DataFrame,
    bands: tuple[float, float] | None = None,
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Scores for every snapshot row, riskiest ARR first; ``extra`` columns (row-aligned, e.g. reasons) ride along."""
    bands = tuple(bands or bundle.metadata.get("bands") or (0.10, 0.30))  # type: ignore[assignment]
    churn_risk = bundle.churn_probability(snapshots)
    out = pd.DataFrame(index=snapshots.index)
    for column in ("account_id", "as_of", "renewal_date", "days_to_renewal", "arr"):
        out[column] = snapshots.get(column, np.nan)
    if out["days_to_renewal"].isna().all() and {"renewal_date", "as_of"} <= set(snapshots.columns):
        out["days_to_renewal"] = (
            pd.to_datetime(snapshots["renewal_date"]) - pd.to_datetime(snapshots["as_of"])
        ).dt.days
    out["renewal_probability"] = 1.0 - churn_risk
    out["churn_risk"] = churn_risk
    out["risk_band"] = risk_band(churn_risk, bands)  # type: ignore[arg-type]
    out["arr_at_risk"] = pd.to_numeric(out["arr"], errors="coerce") * churn_risk
    out["model_version"] = bundle.version_label
    out = out[SCORE_COLUMNS]
    if extra is not None:
        out = pd.concat([out, extra.set_axis(out.index)], axis=1)
    return out.sort_values(["arr_at_risk", "account_id"], ascending=[False, True], ignore_index=True)
