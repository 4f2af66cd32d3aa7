"""Input and score drift: how far the book scored today is from what the model saw in training.

The statistic is the population stability index, PSI = Σ (a − e) · ln(a / e) over the
reference bins (deciles of the training window, so every bin starts with ~10% of the rows).
Why PSI rather than Wasserstein or Jensen-Shannon: it is the symmetric Kullback-Leibler
divergence between the two binned distributions, so its sampling noise is known exactly
(for identical populations, PSI ≈ χ²(k − 1) · (1/n + 1/m)), it is unit-free, so one threshold
fits seat utilization and ARR alike, and credit-risk teams have read it for decades (0.1: a
shift worth watching, 0.25: a different population).

A book-shaped reference (``training.reference``) keeps one set of shares per training
date; a feature's PSI is against the nearest of them (each date has its own season, and
"like training" means like the book on some training date), its missing share against the
closest training share.

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
from training.reference import monitored_columns, numeric_bins, score_shares, shares

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


def _books(ref: Mapping) -> list[Mapping]:
    """The reference books to compare with: each book's own shares, or the pooled reference when it has none."""
    return list(ref.get("books") or [ref])


def _nearest(expected: list[list[float]], actual: list[float]) -> tuple[float, int]:
    """The smallest PSI between ``actual`` and any of the ``expected`` share vectors, and which one it was.

    A book is "like training" when it is like the book on some training date: each date has
    its own season, and a book today is compared with its nearest neighbour among them.
    """
    values = [psi(e, actual) if sum(e) > 0 else 0.0 for e in expected]
    best = int(np.argmin(values))
    return values[best], best


def _missing_reference(books: list[Mapping], missing_now: float) -> float:
    """The training book's missing share closest to today's (so a seasonal gap in NPS answers does not alarm)."""
    shares_missing = np.array([float(b["missing"]) for b in books])
    return round(float(shares_missing[np.argmin(np.abs(shares_missing - missing_now))]), 4)


def _missing_tolerance(books: list[Mapping]) -> float:
    """How far the missing share may move: ``MISSING_SHIFT`` plus how far it already moved across the training books.

    Some shares fill in as an export ages (a champion is known once an event names one), and
    move steadily through the training year too; a share that moved 7 points within training
    is allowed 7 points more. A pipeline that stops sending a column moves it to 100%.
    """
    shares_missing = [float(b["missing"]) for b in books]
    return MISSING_SHIFT + (max(shares_missing) - min(shares_missing))


def _numeric_drift(name: str, ref: Mapping, values: pd.Series, n_reference: int) -> dict[str, object]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    edges = ref["edges"]
    index = numeric_bins(numbers, edges)
    present = int((index >= 0).sum())
    now = shares(index, len(edges) + 1)
    books = _books(ref)
    value, nearest = _nearest([b["shares"] for b in books], now) if present else (0.0, 0)
    finite = numbers[np.isfinite(numbers)]
    missing_now = round(1 - present / max(len(numbers), 1), 4)
    return {
        "feature": name,
        "statistic": "psi",
        "value": round(value, 4),
        "threshold": round(max(ALARM_PSI, noise_threshold(len(edges) + 1, n_reference, present)), 4),
        "psi_pooled": round(psi(ref["shares"], now), 4) if present and sum(ref["shares"]) > 0 else 0.0,
        "nearest_book": nearest,
        "missing_reference": _missing_reference(books, missing_now),
        "missing_now": missing_now,
        "missing_tolerance": round(_missing_tolerance(books), 4),
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
    actual = [*now.values(), sum(unseen.values())]
    books = _books(ref)
    expected = [[float(b["categories"].get(k, 0.0)) for k in known] + [0.0] for b in books]
    value, nearest = _nearest(expected, actual) if total else (0.0, 0)
    missing_now = round(float(text.isna().mean()) if len(text) else 0.0, 4)
    return {
        "feature": name,
        "statistic": "psi",
        "value": round(value, 4),
        "threshold": round(max(ALARM_PSI, noise_threshold(len(known) + 1, n_reference, total)), 4),
        "psi_pooled": round(psi([*ref["categories"].values(), 0.0], actual), 4) if total else 0.0,
        "nearest_book": nearest,
        "missing_reference": _missing_reference(books, missing_now),
        "missing_now": missing_now,
        "missing_tolerance": round(_missing_tolerance(books), 4),
        "constant_now": bool(ref["distinct"] > 1 and len(counts) <= 1),
        "new_categories": sorted(k for k, share in unseen.items() if share >= NEW_CATEGORY_SHARE),
    }


def feature_drift(reference: Mapping, book: pd.DataFrame, catalog: Catalog) -> list[dict[str, object]]:
    """One record per model input: PSI against the reference and the reasons it alarms, largest PSI first."""
    n_reference = int(reference.get("rows", 0))
    derived = monitored_columns(book)
    records = []
    for name, ref in reference["features"].items():
        source = derived if ref.get("derived") else book
        values = source[name] if name in source else pd.Series(np.nan, index=book.index)
        drift = (_categorical_drift if ref["kind"] == "categorical" else _numeric_drift)(name, ref, values, n_reference)
        feature = catalog.get(name)
        clock = bool(feature is not None and feature.clock)
        reasons = []
        if drift["value"] > drift["threshold"]:
            reasons.append(f"distribution moved (PSI {drift['value']:.2f})")
        if abs(drift["missing_now"] - drift["missing_reference"]) >= drift["missing_tolerance"]:
            reasons.append(
                f"missing in {drift['missing_now']:.0%} of rows (training: {drift['missing_reference']:.0%})"
            )
        if drift["constant_now"]:
            reasons.append("constant in the book")
        if drift["new_categories"]:
            reasons.append("new categories: " + ", ".join(drift["new_categories"][:5]))
        drift |= {
            "group": feature.group if feature is not None else ("usage" if ref.get("derived") else None),
            "derived": bool(ref.get("derived", False)),
            "clock": clock,
            "alarm": bool(reasons) and not clock,
            "watch": bool(drift["value"] > WATCH_PSI) and not clock,
            "why": reasons,
        }
        records.append(drift)
    return sorted(records, key=lambda r: (not r["alarm"], -float(r["value"])))


def score_drift(reference: Mapping, churn_risk: np.ndarray, bands) -> dict[str, object]:
    """The risk distribution and band shares now against training (its nearest book), with their PSI."""
    ref = reference["score"]
    now = score_shares(churn_risk, bands)
    books = _books(ref)
    value, nearest = _nearest([b["shares"] for b in books], now["shares"]) if now["n"] else (0.0, 0)
    threshold = max(ALARM_PSI, noise_threshold(len(ref["shares"]), int(ref["n"]), int(now["n"])))
    return {
        "statistic": "psi",
        "value": round(value, 4),
        "threshold": round(threshold, 4),
        "alarm": bool(value > threshold),
        "mean_reference": books[nearest]["mean"],
        "mean_now": now["mean"],
        "bands_reference": books[nearest]["bands"],
        "bands_now": now["bands"],
        "shares_reference": books[nearest]["shares"],
        "shares_now": now["shares"],
        "edges": list(ref["edges"]),
    }
