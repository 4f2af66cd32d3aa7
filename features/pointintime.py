"""Vectorized point-in-time look-ups: "what did this account's history say strictly before day T?"

Every windowed feature in this package reduces to a few questions about events sorted by
(group, day): how much happened in [T - w, T), when was the last event before T, what was
its value. ``EventIndex`` answers them for any number of (group, T) queries at once with
``np.searchsorted`` on a single sorted key and prefix sums, so the cost is
O((events + queries) log events) whatever the number of accounts or snapshots, and no
Python code runs per account or per snapshot.

"Strictly before" is built in: a query for day T finds positions with ``side="left"``, so
an event on day T itself is never seen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Days are int64 day numbers (days since 1970-01-01). A group code times this stride plus a
# day number is one sortable int64 key; 2**20 days is ~2,870 years of room.
_DAY_STRIDE = np.int64(1 << 20)
_DAY_OFFSET = np.int64(1 << 19)  # keeps days before 1970 non-negative inside the key


def day_number(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Whole days since 1970-01-01 (floor), as int64. NaT becomes the minimum int64."""
    array = np.asarray(values)
    if array.dtype.kind != "M":
        array = array.astype("datetime64[us]")
    return array.astype("datetime64[D]").view(np.int64)


def fractional_days(values: pd.Series | np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 with the time of day as a fraction; NaT becomes NaN."""
    array = np.asarray(values, dtype="datetime64[us]")
    out = array.astype(np.int64).astype(np.float64) / 86_400e6
    out[np.isnat(array)] = np.nan
    return out


def codes_of(values: pd.Series, index: pd.Index, dtype: type = np.int64) -> np.ndarray:
    """Position of each value in ``index`` (-1 if absent).

    A categorical column (the loader keeps the huge usage table's keys that way) is looked up
    once per distinct value instead of once per row.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        lookup = np.append(index.get_indexer(values.cat.categories), -1).astype(dtype)
        return lookup[values.cat.codes.to_numpy()]  # code -1 (missing) reads the trailing -1
    return index.get_indexer(values).astype(dtype)


class EventIndex:
    """Events keyed by (group, day), sorted once, queried many times.

    ``group`` is any non-negative int code (an account, or an account and metric pair).
    ``values`` are summed by ``window_sum``; without them every event counts 1.

    Only three arrays are kept (sorted keys, prefix sums, sort order): group and day are
    read back out of a key when needed, because the usage index holds tens of millions of
    events and every array of that length costs hundreds of megabytes.
    """

    def __init__(self, group: np.ndarray, day: np.ndarray, values: np.ndarray | None = None):
        keys = np.asarray(group, dtype=np.int64) * _DAY_STRIDE
        keys += np.asarray(day, dtype=np.int64) + _DAY_OFFSET
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        del keys
        # cumulative[i] = sum of values[:i]; a window sum is a difference of two look-ups.
        self.cumulative = np.zeros(len(self.keys) + 1)
        if values is None:
            self.cumulative[1:] = np.arange(1, len(self.keys) + 1)
        else:
            np.cumsum(np.asarray(values, dtype=np.float64)[self.order], out=self.cumulative[1:])

    def __len__(self) -> int:
        return len(self.keys)

    def _position(self, group: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Number of events ordered before (group, day): all earlier groups plus this group's days < day."""
        query = np.asarray(group, dtype=np.int64) * _DAY_STRIDE + (np.asarray(day, dtype=np.int64) + _DAY_OFFSET)
        return np.searchsorted(self.keys, query, side="left")

    def window_sum(self, group: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Sum of values with start <= day < end, per query."""
        hi = self._position(group, end)
        lo = self._position(group, np.minimum(start, end))
        return self.cumulative[hi] - self.cumulative[lo]

    def window_count(self, group: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Number of events with start <= day < end, per query."""
        return (self._position(group, end) - self._position(group, np.minimum(start, end))).astype(np.float64)

    def last_before(self, group: np.ndarray, day: np.ndarray, back: int = 0) -> np.ndarray:
        """Sorted position of this group's last event before ``day`` (``back`` = 1 for the one before it), or -1."""
        group = np.asarray(group, dtype=np.int64)
        position = self._position(group, day) - 1 - back
        valid = position >= 0
        valid[valid] &= self.keys[position[valid]] // _DAY_STRIDE == group[valid]
        return np.where(valid, position, -1)

    def take(self, position: np.ndarray, column: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Value of ``column`` (aligned with the rows given to the constructor) at sorted positions.

        ``fill`` where the position is -1 (no such event).
        """
        hit = position >= 0
        out = np.full(len(position), fill, dtype=np.float64)
        out[hit] = np.asarray(column, dtype=np.float64)[self.order[position[hit]]]
        return out

    def days_since_last(self, group: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Days from the group's last event before ``day`` to ``day``; NaN when there is none."""
        position = self.last_before(group, day)
        hit = position >= 0
        last = np.full(len(position), np.nan)
        last[hit] = self.keys[position[hit]] % _DAY_STRIDE - _DAY_OFFSET
        return np.asarray(day, dtype=np.float64) - last


class Snapshots:
    """A snapshot grid prepared for look-ups: integer account codes and as_of day numbers.

    ``accounts`` fixes the account codes, so every table of a partition codes its
    ``account_id`` column the same way (``code`` below).
    """

    def __init__(self, grid: pd.DataFrame, accounts: pd.DataFrame):
        self.grid = grid.reset_index(drop=True)
        self.accounts = accounts.reset_index(drop=True)
        self.account_index = pd.Index(self.accounts["account_id"])
        self.account = self.code(self.grid["account_id"])
        self.day = day_number(self.grid["as_of"])
        self.as_of = fractional_days(self.grid["as_of"])
        self.rows = np.arange(len(self.grid))

    def __len__(self) -> int:
        return len(self.grid)

    def code(self, account_ids: pd.Series) -> np.ndarray:
        """Account codes for a column of ids (every id is known: the loader checked it)."""
        return codes_of(account_ids, self.account_index)

    def pair_with(self, events: pd.DataFrame) -> pd.DataFrame:
        """Every event paired with every snapshot of the same account, with the snapshot's row and day.

        For the small event tables (tickets, invoices) this is the simplest exact way to
        express "events before as_of"; the large usage table goes through ``EventIndex``.
        """
        left = pd.DataFrame({"account": self.account, "row": self.rows, "T": self.day, "as_of": self.as_of})
        right = events.assign(account=self.code(events["account_id"])).drop(columns="account_id")
        return left.merge(right, on="account", how="inner")

    def total(self, pairs: pd.DataFrame, mask: np.ndarray | pd.Series, weights: np.ndarray | None = None) -> np.ndarray:
        """Per-snapshot count (or weighted sum) of the paired events selected by ``mask``."""
        mask = np.asarray(mask, dtype=bool)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[mask]
        return np.bincount(pairs["row"].to_numpy()[mask], weights=w, minlength=len(self)).astype(np.float64)

    def reduce(self, pairs: pd.DataFrame, mask: np.ndarray | pd.Series, values: pd.Series, how: str) -> np.ndarray:
        """Per-snapshot ``how`` ("median", "mean", "max") of values of the selected events; NaN where none."""
        mask = np.asarray(mask, dtype=bool)
        picked = pd.Series(np.asarray(values, dtype=np.float64)[mask]).groupby(pairs["row"].to_numpy()[mask])
        out = np.full(len(self), np.nan)
        result = getattr(picked, how)()
        out[result.index.to_numpy()] = result.to_numpy()
        return out
