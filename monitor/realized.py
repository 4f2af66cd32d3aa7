"""Realized performance: renewals that have closed since they were scored, against what was predicted.

A renewal outcome arrives 90 to 365 days after the score that predicted it. Each logged
prediction is joined to its outcome with the same labelling as training
(``features.snapshots.label_rows``: the contract renewed or not; a monthly plan cancelled
within its window or not); predictions whose outcome is still open are left out. Then: AUC,
mean predicted risk against the realized churn rate and ECE, per cadence and segment, and the
renewed ARR against the exact interval the forecast gave for it ("of $12.4M due so far,
$11.1M renewed; the 80% band was $10.8M–$11.6M").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.snapshots import label_rows
from training.evaluate import expected_calibration_error
from training.forecast import interval, renewing_arr_distribution

MIN_CHURNED_FOR_AUC = 5
LEVEL = 0.80


def closed_predictions(predictions: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """The predictions whose outcome is known, with ``churned`` (0/1) and ``renewed_arr`` joined on."""
    labels = label_rows(predictions, outcomes)
    joined = predictions.assign(churned=labels["churned"].to_numpy(), renewed_arr=labels["renewed_arr"].to_numpy())
    return joined[joined["churned"].notna()].astype({"churned": int}).reset_index(drop=True)


def realized_metrics(closed: pd.DataFrame) -> dict[str, float]:
    """AUC (when both outcomes occur often enough), mean risk, churn rate and ECE of closed predictions."""
    y, p = closed["churned"].to_numpy(dtype=int), closed["churn_risk"].to_numpy(dtype=float)
    out: dict[str, float] = {"n": len(y)}
    if len(y) == 0:
        return out
    out |= {"mean_risk": float(p.mean()), "churn_rate": float(y.mean()), "ece": expected_calibration_error(y, p)}
    if MIN_CHURNED_FOR_AUC <= y.sum() <= len(y) - MIN_CHURNED_FOR_AUC:
        out["auc"] = float(roc_auc_score(y, p))
    return out


def renewed_arr_against_forecast(closed: pd.DataFrame, level: float = LEVEL) -> dict[str, float]:
    """ARR due on the closed renewals, what renewed (at the old ARR), and the forecast's ``level`` interval for it."""
    arr = np.nan_to_num(closed["arr"].to_numpy(dtype=float))
    renewed = float(arr[closed["churned"].to_numpy() == 0].sum())
    values, probs = renewing_arr_distribution(arr, 1.0 - closed["churn_risk"].to_numpy(dtype=float))
    lo, hi = interval(values, probs, level)
    expected = float(arr @ (1.0 - closed["churn_risk"].to_numpy(dtype=float)))
    return {
        "arr_due": float(arr.sum()),
        "arr_renewed": renewed,
        "arr_expected": expected,
        f"arr_lo{round(level * 100)}": lo,
        f"arr_hi{round(level * 100)}": hi,
        "inside": bool(lo <= renewed <= hi),
    }


def realized(predictions: pd.DataFrame, outcomes: pd.DataFrame, by: tuple[str, ...] = ("cadence", "segment")) -> dict:
    """Pooled and per-stratum realized metrics, and the renewed ARR against its interval."""
    closed = closed_predictions(predictions, outcomes)
    report: dict[str, object] = realized_metrics(closed)
    if len(closed):
        report |= renewed_arr_against_forecast(closed)
    for column in by:
        if column in closed:
            report[f"by_{column}"] = {
                str(key): realized_metrics(part) for key, part in closed.groupby(column, sort=True)
            }
    return report
