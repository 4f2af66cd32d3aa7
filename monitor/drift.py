"""Input and score drift: how far the book scored today is from what the model saw in training.

The statistic is the population stability index, PSI = Σ (a − e) · ln(a / e) over the
reference bins (deciles of the training window, so every bin starts with ~10% of the rows).
Why PSI rather than Wasserstein or Jensen-Shannon: it is the symmetric Kullback-Leibler
divergence between the two binned distributions, so its sampling noise is known exactly
(for identical populations, PSI ≈ χ²(k − 1) · (1/n + 1/m)), it is unit-free, so one threshold
fits seat utilization and ARR alike, and credit-risk teams have read it for decades (0.1: a
shift worth watching, 0.25: a different population).

A feature alarms when its PSI passes ``max(ALARM_PSI, the 99.9% noise quantile for these
sample sizes)``, so a small book does not cry wolf, or when its missing share moves by
``MISSING_SHIFT`` or more, it becomes constant, or a category unseen in training takes
``NEW_CATEGORY_SHARE`` or more of the book. Features that count days since an event (catalog
``clock``, tenure among them) move with the calendar by definition: they are reported and
never alarm.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import chi2

from features.catalog import Catalog
from training.reference import numeric_bins, score_shares, shares

ALARM_PSI = 0.25
WATCH_PSI = 0.10
MISSING_SHIFT = 0.10
NEW_CATEGORY_SHARE = 0.01
NOISE_QUANTILE = 0.999
_EPS = 1e-4  # an empty bin counts as this share, so PSI stays finite


def psi(expected: np.ndarray | list[float], actual: np.ndarray | list[float]) -> float:
    """Population stability index between two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPS, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def noise_threshold(bins: int, n_reference: int, n_now: int) -> float:
    """The PSI two samples of one population exceed only 0.1% of the time (χ² approximation)."""
    if bins < 2 or n_reference <= 0 or n_now <= 0:
        return float("inf")
    return float(chi2.ppf(NOISE_QUANTILE, bins - 1) * (1.0 / n_reference + 1.0 / n_now))


def _numeric_drift(name: str, ref: Mapping, values: pd.Series, n_reference: int) -> dict[str, object]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    edges = ref["edges"]
    index = numeric_bins(numbers, edges)
    present = int((index >= 0).sum())
    now = shares(index, len(edges) + 1)
    value = psi(ref["shares"], now) if present and sum(ref["shares"]) > 0 else 0.0
    finite = numbers[np.isfinite(numbers)]
    return {
        "feature": name,
        "statistic": "psi",
        "value": round(value, 4),
        "threshold": round(max(ALARM_PSI, noise_threshold(len(edges) + 1, n_reference, present)), 4),
        "missing_reference": ref["missing"],
        "missing_now": round(1 - present / max(len(numbers), 1), 4),
        "constant_now": bool(ref["distinct"] > 1 and len(np.unique(finite)) <= 1),
        "new_categories": [],
    }


def _categorical_drift(name: str, ref: Mapping, values: pd.Series, n_reference: int) -> dict[str, object]:
    text = values.astype("str").where(values.notna())
    counts = text.value_counts(dropna=True)
    total = int(counts.sum())
    known = list(ref["categories"])
    now = {k: int(counts.get(k, 0)) / total if total else 0.0 for k in known}
    unseen = {str(k): int(v) / total for k, v in counts.items() if k not in ref["categories"]} if total else {}
    expected = [*ref["categories"].values(), 0.0]
    actual = [*now.values(), sum(unseen.values())]
    return {
        "feature": name,
        "statistic": "psi",
        "value": round(psi(expected, actual), 4) if total else 0.0,
        "threshold": round(max(ALARM_PSI, noise_threshold(len(expected), n_reference, total)), 4),
        "missing_reference": ref["missing"],
        "missing_now": round(float(text.isna().mean()) if len(text) else 0.0, 4),
        "constant_now": bool(ref["distinct"] > 1 and len(counts) <= 1),
        "new_categories": sorted(k for k, share in unseen.items() if share >= NEW_CATEGORY_SHARE),
    }


def feature_drift(reference: Mapping, book: pd.DataFrame, catalog: Catalog) -> list[dict[str, object]]:
    """One record per model input: PSI against the reference and the reasons it alarms, largest PSI first."""
    n_reference = int(reference.get("rows", 0))
    records = []
    for name, ref in reference["features"].items():
        values = book[name] if name in book else pd.Series(np.nan, index=book.index)
        drift = (_categorical_drift if ref["kind"] == "categorical" else _numeric_drift)(name, ref, values, n_reference)
        feature = catalog.get(name)
        clock = bool(feature is not None and feature.clock)
        reasons = []
        if drift["value"] > drift["threshold"]:
            reasons.append(f"distribution moved (PSI {drift['value']:.2f})")
        if abs(drift["missing_now"] - drift["missing_reference"]) >= MISSING_SHIFT:
            reasons.append(
                f"missing in {drift['missing_now']:.0%} of rows (training: {drift['missing_reference']:.0%})"
            )
        if drift["constant_now"]:
            reasons.append("constant in the book")
        if drift["new_categories"]:
            reasons.append("new categories: " + ", ".join(drift["new_categories"][:5]))
        drift |= {
            "group": feature.group if feature is not None else None,
            "clock": clock,
            "alarm": bool(reasons) and not clock,
            "watch": bool(drift["value"] > WATCH_PSI) and not clock,
            "why": reasons,
        }
        records.append(drift)
    return sorted(records, key=lambda r: (not r["alarm"], -float(r["value"])))


def score_drift(reference: Mapping, churn_risk: np.ndarray, bands) -> dict[str, object]:
    """The risk distribution and band shares now against training, with their PSI."""
    ref = reference["score"]
    now = score_shares(churn_risk, bands)
    value = psi(ref["shares"], now["shares"]) if now["n"] else 0.0
    threshold = max(ALARM_PSI, noise_threshold(len(ref["shares"]), int(ref["n"]), int(now["n"])))
    return {
        "statistic": "psi",
        "value": round(value, 4),
        "threshold": round(threshold, 4),
        "alarm": bool(value > threshold),
        "mean_reference": ref["mean"],
        "mean_now": now["mean"],
        "bands_reference": ref["bands"],
        "bands_now": now["bands"],
    }
