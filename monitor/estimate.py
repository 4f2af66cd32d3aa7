"""Estimated performance of renewals still open, from the calibrated probabilities alone (no labels yet).

If the probabilities are calibrated, each open renewal churns with its own probability, so
the book's expected churn count is Σ p, its expected lost ARR Σ arr · p, and the expected
confusion matrix at any threshold is a sum of probabilities: NannyML's CBPE idea, in a few
lines of numpy. The expected ROC AUC is the expected share of (churner, renewer) pairs the
scores order correctly: Σ_i Σ_j p_i (1 − p_j) [s_i > s_j] over Σ_i Σ_j≠i p_i (1 − p_j), with
ties counting one half, computed in O(n log n) after one sort. Intervals: the exact
distribution of the churned count and ARR (``training.forecast``), and for the AUC a seeded
simulation of the labels the probabilities imply.

What it catches: a book whose scores bunch together (the expected AUC falls) or move (the
expected churn moves) before a single renewal has closed. What it cannot catch: a model
that is confidently wrong, calibrated on yesterday's world. That is what realized
performance is for (``monitor.realized``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from training.evaluate import expected_auc
from training.forecast import interval, renewing_arr_distribution

__all__ = ["estimate", "estimate_by", "expected_auc", "simulated_auc_interval"]

SIMULATIONS = 200
LEVEL = 0.80


def simulated_auc_interval(p: np.ndarray, level: float = LEVEL, seed: int = 0) -> tuple[float, float]:
    """Central interval of the AUC over label draws y ~ Bernoulli(p) (seeded, ``SIMULATIONS`` draws)."""
    p = np.asarray(p, dtype=float)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(SIMULATIONS):
        y = rng.random(len(p)) < p
        if 0 < y.sum() < len(y):
            draws.append(roc_auc_score(y, p))
    if not draws:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    return float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def estimate(p: np.ndarray, arr: np.ndarray | None = None, level: float = LEVEL, seed: int = 0) -> dict[str, float]:
    """Expected churn count, lost ARR and AUC of a set of open renewals, with ``level`` intervals."""
    p = np.asarray(p, dtype=float)
    n = len(p)
    out: dict[str, float] = {"open_renewals": n}
    if n == 0:
        return out
    count_values, count_probs = renewing_arr_distribution(np.ones(n), 1.0 - p)
    renew_lo, renew_hi = interval(count_values, count_probs, level)
    out |= {"expected_churn": float(p.sum()), "churn_lo": n - renew_hi, "churn_hi": n - renew_lo}
    if arr is not None:
        arr = np.nan_to_num(np.asarray(arr, dtype=float))
        values, probs = renewing_arr_distribution(arr, 1.0 - p)
        lo, hi = interval(values, probs, level)
        total = float(arr.sum())
        out |= {
            "arr_due": total,
            "expected_arr_lost": float(arr @ p),
            "arr_lost_lo": total - hi,
            "arr_lost_hi": total - lo,
        }
    auc_lo, auc_hi = simulated_auc_interval(p, level, seed)
    out |= {"expected_auc": expected_auc(p), "auc_lo": auc_lo, "auc_hi": auc_hi}
    return out


def estimate_by(book: pd.DataFrame, by: str, level: float = LEVEL) -> dict[str, dict[str, float]]:
    """``estimate`` within each value of ``by`` (cadence, horizon bucket) of a book with churn_risk (and arr).

    Horizon buckets come nearest first (1-90, 91-180, 181-365, over 365), not in text order."""
    parts = dict(tuple(book.groupby(by, sort=True)))
    order = sorted(parts, key=lambda key: (_bucket_start(str(key)), str(key)))
    return {
        str(key): estimate(
            parts[key]["churn_risk"].to_numpy(), parts[key]["arr"].to_numpy() if "arr" in parts[key] else None, level
        )
        for key in order
    }


def _bucket_start(label: str) -> float:
    """The first day of a horizon bucket ("91-180" → 91, "over 365" → 366); other labels sort after, by name."""
    digits = "".join(c if c.isdigit() else " " for c in label).split()
    if not digits:
        return float("inf")
    return float(digits[0]) + (1 if label.startswith("over") else 0)
