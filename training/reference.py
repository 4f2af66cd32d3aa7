"""What the model saw in training, kept in the bundle: the numbers sentences quote, and what monitoring compares with.

``reference_values``: the typical renewing account's value of each feature, and each
category's churn rate, which reason sentences quote ("renewing accounts typically use 64%").

``fit_reference``: for monitoring, so that it can tell when the book moves away from training.

For every model input: the bin edges of its training distribution (deciles of the training
window, so each reference bin holds about a tenth of the rows), the share of rows in each
bin, and the share missing; for a categorical input, the share of each category. For the
score: the calibrated risk's share in fixed bins and in each risk band. Plain numbers, JSON,
no raw rows: a bundle carries no customer data.

Training rows are snapshots at many horizons and dates; a book is scored on one date. The
two are compared as distributions of rows, which is what the model sees either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.catalog import Catalog

QUANTILES = np.linspace(0.1, 0.9, 9)  # decile edges: ten reference bins of about equal mass
MIN_CATEGORY_ROWS = 20  # a category's churn rate is only quoted when this many training rows back it
SCORE_EDGES = (0.02, 0.05, 0.10, 0.20, 0.30, 0.50)  # fixed, so score drift reads the same for every model


def numeric_bins(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bin index of each finite value: bin k holds edges[k-1] <= v < edges[k] (missing values: -1)."""
    values = np.asarray(values, dtype=float)
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.where(np.isfinite(values), index, -1)


def shares(index: np.ndarray, bins: int) -> list[float]:
    """Share of the non-missing rows in each of ``bins`` bins (all zero when every row is missing)."""
    index = np.asarray(index)
    present = index[index >= 0]
    if len(present) == 0:
        return [0.0] * bins
    return (np.bincount(present, minlength=bins)[:bins] / len(present)).round(6).tolist()


def _numeric(values: pd.Series) -> dict[str, object]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    edges = np.unique(np.quantile(finite, QUANTILES)) if len(finite) else np.array([])
    return {
        "kind": "numeric",
        "edges": [round(float(e), 6) for e in edges],
        "shares": shares(numeric_bins(numbers, edges), len(edges) + 1),
        "missing": round(float(1 - len(finite) / max(len(numbers), 1)), 6),
        "distinct": len(np.unique(finite)),
    }


def _categorical(values: pd.Series) -> dict[str, object]:
    text = values.astype("str").where(values.notna())
    counts = text.value_counts(dropna=True)
    total = int(counts.sum())
    return {
        "kind": "categorical",
        "categories": {str(k): round(int(v) / total, 6) for k, v in counts.items()} if total else {},
        "missing": round(float(text.isna().mean()) if len(text) else 0.0, 6),
        "distinct": len(counts),
    }


def score_shares(churn_risk: np.ndarray, bands: Sequence[float]) -> dict[str, object]:
    """The risk's shares in ``SCORE_EDGES`` bins and in the low / medium / high bands."""
    risk = np.asarray(churn_risk, dtype=float)
    low, high = bands
    n = max(len(risk), 1)
    return {
        "edges": list(SCORE_EDGES),
        "shares": shares(numeric_bins(risk, SCORE_EDGES), len(SCORE_EDGES) + 1),
        "bands": {
            "low": round(float((risk < low).sum() / n), 6),
            "medium": round(float(((risk >= low) & (risk < high)).sum() / n), 6),
            "high": round(float((risk >= high).sum() / n), 6),
        },
        "mean": round(float(risk.mean()), 6) if len(risk) else None,
        "n": len(risk),
    }


def fit_reference(
    frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str], churn_risk: np.ndarray, bands
) -> dict[str, object]:
    """The reference distributions of the training window's inputs and scores (for ``monitor``)."""
    categorical = set(categorical)
    inputs = {
        name: (_categorical if name in categorical else _numeric)(
            frame[name] if name in frame else pd.Series(np.nan, index=frame.index)
        )
        for name in features
    }
    return {"rows": len(frame), "features": inputs, "score": score_shares(churn_risk, bands)}


def reference_values(frame: pd.DataFrame, churned: np.ndarray, catalog: Catalog) -> dict[str, dict[str, object]]:
    """The comparison numbers reason sentences quote, from the training rows.

    ``typical`` is a feature's median among renewing accounts ("renewing accounts typically use
    64%"); categories get their churn rate when at least ``MIN_CATEGORY_ROWS`` rows back it.
    """
    churned = np.asarray(churned).astype(bool)
    overall = float(churned.mean()) if len(churned) else float("nan")
    reference: dict[str, dict[str, object]] = {}
    for feature in catalog:
        if feature.name not in frame.columns:
            continue
        column = frame[feature.name]
        if feature.kind == "categorical":
            rates = pd.Series(churned).groupby(column.astype("str").to_numpy()).agg(["mean", "size"])
            rates = rates[rates["size"] >= MIN_CATEGORY_ROWS]
            reference[feature.name] = {
                "category_churn": {str(k): round(float(v), 4) for k, v in rates["mean"].items()},
                "overall_churn": round(overall, 4),
            }
        else:
            typical = pd.to_numeric(column[~churned], errors="coerce").median()
            if pd.notna(typical):
                reference[feature.name] = {"typical": round(float(typical), 4)}
    return reference
