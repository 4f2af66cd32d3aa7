"""What the model saw in training, kept in the bundle: the numbers sentences quote, and what monitoring compares with.

``reference_values``: the typical renewing account's value of each feature, and each
category's churn rate, which reason sentences quote ("renewing accounts typically use 64%").

``fit_reference``: for monitoring, so that it can tell when the book moves away from training.

For every model input: the bin edges of its training distribution (deciles of the training
window, so each reference bin holds about a tenth of the rows), the share of rows in each
bin, and the share missing; for a categorical input, the share of each category. For the
score: the calibrated risk's share in fixed bins and in each risk band. Plain numbers, JSON,
no raw rows: a bundle carries no customer data.

The reference is **book-shaped**. Training rows are snapshots at many horizons and dates
(each contract seen six times on its way to renewal, monthly plans once a quarter), while a
scored book is every account in force on one date. Binned from the training rows, the
reference disagrees with an unchanged book on a dozen features (days to renewal, tenure,
contract age, everything that moves with them) and monitoring cries wolf. So, when the raw
tables are at hand, the reference is the book as ``churn score`` would have scored it on a
few dates inside the training run's window (``REFERENCE_BOOKS`` dates, ``REFERENCE_SPACING_DAYS``
apart, ending at its last labelled snapshot), each snapshot built from rows strictly before
its date: leak-free by construction (``features.pointintime``). A table a user brings has no
tables behind it; its reference falls back to the training rows and says so (``shape``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from features.catalog import Catalog
from training.evaluate import expected_auc

# Eight books 52 days apart: 52 = 7 * 7 + 3, so they fall on all seven weekdays (a 30-day window holds
# 8 or 9 weekend days depending on it) and span 364 days: every day of the year is within 26 days of a
# book's, so a book scored in any season has a training book of that season (the usage trends after the
# holidays differ from October's).
REFERENCE_BOOKS = 8
REFERENCE_SPACING_DAYS = 52
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


def _numeric(values: pd.Series, books: np.ndarray | None = None) -> dict[str, object]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    edges = np.unique(np.quantile(finite, QUANTILES)) if len(finite) else np.array([])
    index = numeric_bins(numbers, edges)
    out = {
        "kind": "numeric",
        # full precision: edges sit on the atoms of discrete features (29/30 of days active), and a
        # rounded edge would put every such value in the bin below it when the book is binned again
        "edges": [float(e) for e in edges],
        "shares": shares(index, len(edges) + 1),
        "missing": round(float(1 - len(finite) / max(len(numbers), 1)), 6),
        "distinct": len(np.unique(finite)),
    }
    if books is not None:
        out["books"] = [
            {
                "shares": shares(index[books == k], len(edges) + 1),
                "missing": round(float((index[books == k] < 0).mean()), 6),
            }
            for k in np.unique(books)
        ]
    return out


def _category_shares(text: pd.Series) -> dict[str, float]:
    counts = text.value_counts(dropna=True)
    total = int(counts.sum())
    return {str(k): round(int(v) / total, 6) for k, v in counts.items()} if total else {}


def _categorical(values: pd.Series, books: np.ndarray | None = None) -> dict[str, object]:
    text = values.astype("str").where(values.notna())
    out = {
        "kind": "categorical",
        "categories": _category_shares(text),
        "missing": round(float(text.isna().mean()) if len(text) else 0.0, 6),
        "distinct": int(text.nunique(dropna=True)),
    }
    if books is not None:
        out["books"] = [
            {
                "categories": _category_shares(text[books == k]),
                "missing": round(float(text[books == k].isna().mean()), 6),
            }
            for k in np.unique(books)
        ]
    return out


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
        "expected_auc": round(expected_auc(risk), 6) if len(risk) > 1 else None,
        "n": len(risk),
    }


PER_USER_SUFFIX = "_per_active_user_30d"


def monitored_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Quantities monitored beside the model's inputs: each usage metric per active user (30 days).

    Why: a metric's level spans orders of magnitude across accounts (10 seats or 5,000), so
    a tracking change that halves it moves its deciles by about one bin (PSI ~0.15, under any
    sensible alarm). Per active user, the spread is an account's habit, narrow, and the same
    change moves the whole distribution. Derived, never a model input.
    """
    from features.catalog import metric_slug
    from features.schema import ACTIVE_USERS_METRIC

    users = f"usage_{metric_slug(ACTIVE_USERS_METRIC)}_mean_30d"
    if users not in frame:
        return pd.DataFrame(index=frame.index)
    denominator = pd.to_numeric(frame[users], errors="coerce").where(lambda v: v > 0)
    columns = [c for c in frame.columns if c.startswith("usage_") and c.endswith("_mean_30d") and c != users]
    return pd.DataFrame(
        {
            c.removesuffix("_mean_30d") + PER_USER_SUFFIX: pd.to_numeric(frame[c], errors="coerce") / denominator
            for c in columns
        },
        index=frame.index,
    )


def fit_reference(
    frame: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str],
    churn_risk: np.ndarray,
    bands,
    dates: Sequence[pd.Timestamp] = (),
) -> dict[str, object]:
    """The reference distributions of ``frame``'s inputs and scores (for ``monitor``).

    ``frame`` is the stacked books on ``dates`` (book-shaped) or, without dates, the training
    rows, with its ``as_of`` column telling the books apart. Besides the pooled bins, each
    book keeps its own shares (``books``, oldest first): a book scored today is compared with
    the nearest of them (``monitor.drift``), because a book on one date carries that date's
    season (usage trends after the holidays, the weekdays in a 30-day window) and a pooled
    year of books is shaped like no single date. ``rows`` is the size of one book, not of
    the stack: the books hold mostly the same accounts, so the stack is not ``len(dates)``
    times as precise, and the drift noise threshold must not think it is.
    """
    categorical = set(categorical)
    books = None
    if dates and "as_of" in frame:
        books = np.searchsorted(
            np.array(sorted(pd.Timestamp(d) for d in dates), dtype="datetime64[ns]"),
            pd.to_datetime(frame["as_of"]).to_numpy(dtype="datetime64[ns]"),
        )
    inputs = {
        name: (_categorical if name in categorical else _numeric)(
            frame[name] if name in frame else pd.Series(np.nan, index=frame.index), books
        )
        for name in features
    }
    derived = monitored_columns(frame)
    inputs |= {name: _numeric(derived[name], books) | {"derived": True} for name in derived.columns}
    risk = np.asarray(churn_risk, dtype=float)
    score = score_shares(risk, bands)
    rows = round(len(frame) / len(dates)) if dates else len(frame)
    score["n"] = rows
    if books is not None:
        score["books"] = [score_shares(risk[books == k], bands) for k in np.unique(books)]
    return {
        "shape": "book" if dates else "training-rows",
        "dates": [str(pd.Timestamp(d).date()) for d in dates],
        "rows": rows,
        "features": inputs,
        "score": score,
    }


def book_dates(
    first: pd.Timestamp, last: pd.Timestamp, count: int = REFERENCE_BOOKS, spacing: int = REFERENCE_SPACING_DAYS
) -> list[pd.Timestamp]:
    """Up to ``count`` dates ``spacing`` days apart, ending at ``last``, none before ``first`` (oldest first)."""
    first, last = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
    dates = [last - pd.Timedelta(days=spacing * k) for k in range(count)]
    return sorted(d for d in dates if d >= first) or [last]


BookBuilder = Callable[[pd.Timestamp, pd.Timestamp], tuple[pd.DataFrame, list[pd.Timestamp]]]


def book_builder(tables, count: int = REFERENCE_BOOKS, spacing: int = REFERENCE_SPACING_DAYS) -> BookBuilder:
    """A function of the training window (first, last snapshot date) giving the stacked books and their dates.

    The books are the scoring snapshots of every account in force on each of ``book_dates``,
    built in one pass (the scoring grids are concatenated), so four books cost about one.
    Each row reads only data dated before its own as_of, as ``churn score`` does. Dates
    earlier than ``FULL_HISTORY_DAYS`` after the export starts are skipped: their accounts
    have truncated look-backs that no book scored today has (training drops such rows too).
    """
    from features.build import build_features
    from features.snapshots import FULL_HISTORY_DAYS, GRID_COLUMNS, scoring_grid

    def build(first: pd.Timestamp, last: pd.Timestamp) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
        first = max(pd.Timestamp(first), pd.Timestamp(tables.usage_start) + pd.Timedelta(days=FULL_HISTORY_DAYS))
        dates = book_dates(first, max(first, pd.Timestamp(last)), count, spacing)
        grid = pd.concat([scoring_grid(tables.contracts, d) for d in dates], ignore_index=True)
        frame, catalog = build_features(tables, grid)
        return frame[[*GRID_COLUMNS, *catalog.names]], dates

    return build


def reference_values(frame: pd.DataFrame, churned: np.ndarray, catalog: Catalog) -> dict[str, dict[str, object]]:
    """The comparison numbers reason sentences quote, from the training rows.

    ``typical`` is a feature's median among renewing accounts ("renewing accounts typically use
    64%") and ``spread`` their interquartile range, which says how close to typical a value is;
    categories get their churn rate when at least ``MIN_CATEGORY_ROWS`` rows back it.
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
            renewing = pd.to_numeric(column[~churned], errors="coerce")
            typical = renewing.median()
            if pd.notna(typical):
                spread = renewing.quantile(0.75) - renewing.quantile(0.25)
                reference[feature.name] = {"typical": round(float(typical), 4), "spread": round(float(spread), 4)}
    return reference
