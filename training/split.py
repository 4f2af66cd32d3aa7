"""Time is the split: train on the earliest renewals, validate, calibrate and test on later ones.

Windows are cut on the renewal date (when the label became known) and never overlap; rows
that share a date share a window. Between the test window and the others lies a purge: every
row outside the test window must have its outcome known before the first test snapshot was
taken (renewal_date < min test as_of), or the model would have learned from an outcome
that, on the test window's own timeline, was still in the future. Without a time column the
split falls back to a stratified random one, and says that time-based validation is not
possible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

WINDOWS = ("train", "valid", "calib", "test")
DEFAULT_FRACTIONS = (0.6, 0.12, 0.12, 0.16)


@dataclass(frozen=True)
class Split:
    """Row positions of each window, and what each window covers (printed and logged)."""

    index: dict[str, np.ndarray]
    windows: list[dict[str, object]]
    time_based: bool
    purged: int = 0
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.index[name]


def _describe(name: str, rows: np.ndarray, y: np.ndarray, times: pd.Series | None) -> dict[str, object]:
    window: dict[str, object] = {
        "window": name,
        "rows": len(rows),
        "churned": int(y[rows].sum()),
        "churn_rate": round(float(y[rows].mean()), 4) if len(rows) else None,
    }
    if times is not None and len(rows):
        window["from"] = str(times.iloc[rows].min().date())
        window["to"] = str(times.iloc[rows].max().date())
    return window


def time_split(
    times: pd.Series,
    y: np.ndarray,
    as_of: pd.Series | None = None,
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS,
    test_from: pd.Timestamp | None = None,
) -> Split:
    """Cut rows into consecutive windows by ``times`` (the day each outcome became known).

    With snapshot dates (``as_of``), the split replays deployment: a cutoff T is chosen (the
    latest share of snapshot dates, or ``test_from`` for backtest folds); the test window is
    every row observed on or after T, and train, valid and calib share, in their proportions
    and by outcome date, the rows whose outcome was known before T. A row observed before T
    whose outcome came after it belongs to neither (purged): learning from it would use the
    future, and testing on it would score a snapshot the model could have been trained after.
    Rows of one contract share an outcome date, so they never straddle two windows.
    Without ``as_of``, the test window is the latest share of outcomes.
    """
    times = pd.to_datetime(times).reset_index(drop=True)
    test_share = fractions[-1] / np.sum(fractions)
    if as_of is not None:
        observed = pd.to_datetime(as_of).reset_index(drop=True).to_numpy()
        cutoff = (
            np.datetime64(pd.Timestamp(test_from))
            if test_from is not None
            else np.quantile(observed.astype("datetime64[D]").astype(np.int64), 1 - test_share, method="lower").astype(
                "datetime64[D]"
            )
        )
        cutoff = np.datetime64(cutoff, "us")
        test = np.flatnonzero(observed >= cutoff)
        pool = np.flatnonzero(times.to_numpy() < cutoff)
    else:
        order = np.argsort(times.to_numpy(), kind="stable")
        sorted_times = times.to_numpy()[order]
        cutoff = (
            np.datetime64(pd.Timestamp(test_from))
            if test_from is not None
            else sorted_times[min(int((1 - test_share) * len(order)), len(order) - 1)]
        )
        test = np.flatnonzero(times.to_numpy() >= cutoff)
        pool = np.flatnonzero(times.to_numpy() < cutoff)
    purged = len(times) - len(test) - len(pool)
    pool = pool[np.argsort(times.to_numpy()[pool], kind="stable")]
    pool_times = times.to_numpy()[pool]
    earlier = np.cumsum(fractions[:-1])[:-1] / np.sum(fractions[:-1])
    cut_times = [pool_times[min(int(q * len(pool)), max(len(pool) - 1, 0))] for q in earlier] if len(pool) else []
    bounds = np.searchsorted(pool_times, cut_times, side="left")  # rows of a date stay together
    pieces = [*np.split(pool, bounds), test]
    index = {name: np.sort(rows) for name, rows in zip(WINDOWS, pieces, strict=True)}
    empty = [name for name in WINDOWS if len(index[name]) == 0 or y[index[name]].min() == y[index[name]].max()]
    if empty:
        raise ValueError(
            f"the time split left window(s) {', '.join(empty)} without both churned and renewed rows; "
            "more history (or fewer windows) is needed"
        )
    windows = [_describe(name, index[name], y, times) for name in WINDOWS]
    notes = []
    if purged:
        notes.append(
            f"{purged} rows observed before the test cutoff ({pd.Timestamp(cutoff).date()}) with an outcome after it "
            "were left out: training on them would use the future, testing on them would not replay deployment."
        )
    return Split(index, windows, True, purged, notes)


def random_split(y: np.ndarray, seed: int, fractions: tuple[float, ...] = DEFAULT_FRACTIONS) -> Split:
    """Stratified random windows, for tables with no time column; its note says time-based validation is not possible.

    The note travels in ``Split.notes`` (and from there in ``TrainResult.notes``), once; it is not
    also raised as a warning for callers to catch and match by its text."""
    message = (
        "no time column: the split is stratified random, so the test score cannot show how the model "
        "does on later renewals (time-based validation is not possible). Pass --time-col if the table has one."
    )
    rng = np.random.default_rng(seed)
    shares = np.asarray(fractions) / np.sum(fractions)
    index: dict[str, list[np.ndarray]] = {name: [] for name in WINDOWS}
    for value in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == value))
        cuts = (np.cumsum(shares)[:-1] * len(rows)).astype(int)
        for name, part in zip(WINDOWS, np.split(rows, cuts), strict=True):
            index[name].append(part)
    merged = {name: np.sort(np.concatenate(parts)) for name, parts in index.items()}
    windows = [_describe(name, merged[name], y, None) for name in WINDOWS]
    return Split(merged, windows, False, 0, [message])
