"""The snapshot store: account snapshots the service explains by account id, in one SQLite file.

Why SQLite and not a Parquet file: the service looks accounts up one id at a time (an index
does that in microseconds without loading the whole book into every worker), nightly jobs
add a new date's snapshots while the service keeps reading (WAL mode: readers are never
blocked, a write is one transaction, so a half-written night is never seen), and it ships
with Python. DuckDB would add a dependency for scans we do not need.

Layout: ``snapshots`` holds one row per (account, as_of) with the snapshot's features as a
JSON object (the feature set follows the data's catalog, so it is not fixed columns);
``series`` holds each account's weekly metric charts for its latest snapshot date, for the
account page. ``churn score --store`` and ``churn build-features --as-of --store`` write it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from explain.records import MetricSeries

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    account_id   TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    contract_id  TEXT,
    renewal_date TEXT,
    features     TEXT NOT NULL,
    PRIMARY KEY (account_id, as_of)
);
CREATE TABLE IF NOT EXISTS series (
    account_id TEXT PRIMARY KEY,
    as_of      TEXT NOT NULL,
    charts     TEXT NOT NULL
);
"""
_GRID = ("account_id", "as_of", "contract_id", "renewal_date")


class StoreError(RuntimeError):
    """The store file is missing or not a snapshot store; the message names the path."""


def _connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    if not create and not path.exists():
        raise StoreError(f"{path}: no snapshot store here; write one with `churn score --store {path}`")
    connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(SCHEMA)
    return connection


def _plain(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | date):
        return pd.Timestamp(value).date().isoformat()
    return value


def write_snapshots(
    path: Path | str, snapshots: pd.DataFrame, series: dict[str, list[MetricSeries]] | None = None
) -> int:
    """Add (or replace) snapshot rows and the accounts' weekly charts, in one transaction."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    features = [c for c in snapshots.columns if c not in _GRID]
    rows = [
        (
            str(record["account_id"]),
            _plain(record["as_of"]),
            _plain(record.get("contract_id")),
            _plain(record.get("renewal_date")),
            json.dumps({name: _plain(record[name]) for name in features}),
        )
        for record in snapshots.to_dict("records")
    ]
    charts = [
        (account, _plain(charts[0].points[-1][0]) if charts and charts[0].points else "", json.dumps(_charts(charts)))
        for account, charts in (series or {}).items()
    ]
    with _connect(path, create=True) as connection:
        connection.executemany("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?)", rows)
        connection.executemany("INSERT OR REPLACE INTO series VALUES (?, ?, ?)", charts)
    return len(rows)


def _charts(charts: list[MetricSeries]) -> list[dict]:
    return [
        {**asdict(c), "points": [[d.isoformat(), None if v is None else round(v, 4)] for d, v in c.points]}
        for c in charts
    ]


class SnapshotStore:
    """Read side of the store, opened once per service worker."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.connection = _connect(self.path)

    def __len__(self) -> int:
        return self.connection.execute("SELECT COUNT(DISTINCT account_id) FROM snapshots").fetchone()[0]

    def latest_date(self) -> pd.Timestamp | None:
        value = self.connection.execute("SELECT MAX(as_of) FROM snapshots").fetchone()[0]
        return None if value is None else pd.Timestamp(value)

    def history(self, account_ids: Sequence[str], limit: int = 6) -> pd.DataFrame:
        """Each account's latest ``limit`` snapshots, oldest first, as a snapshot frame."""
        if not account_ids:
            return pd.DataFrame(columns=list(_GRID))
        marks = ",".join("?" * len(account_ids))
        query = f"""
            SELECT account_id, as_of, contract_id, renewal_date, features FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY as_of DESC) AS recent
                FROM snapshots WHERE account_id IN ({marks})
            ) WHERE recent <= ? ORDER BY account_id, as_of
        """
        return _frame(self.connection.execute(query, [*account_ids, limit]).fetchall())

    def latest(self, account_ids: Sequence[str]) -> pd.DataFrame:
        """Each known account's most recent snapshot; unknown ids are simply absent."""
        return self.history(account_ids, limit=1)

    def renewing(self, as_of: pd.Timestamp, horizon_days: int) -> list[str]:
        """Accounts whose latest snapshot is at ``as_of`` and renews within ``horizon_days`` of it."""
        end = (pd.Timestamp(as_of) + pd.Timedelta(days=horizon_days)).date().isoformat()
        query = "SELECT account_id FROM snapshots WHERE as_of = ? AND renewal_date <= ? ORDER BY account_id"
        return [r[0] for r in self.connection.execute(query, [pd.Timestamp(as_of).date().isoformat(), end])]

    def series(self, account_ids: Iterable[str]) -> dict[str, list[MetricSeries]]:
        ids = list(account_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.connection.execute(f"SELECT account_id, charts FROM series WHERE account_id IN ({marks})", ids)
        return {account: [_series(c) for c in json.loads(charts)] for account, charts in rows}


def _series(data: dict) -> MetricSeries:
    points = [(date.fromisoformat(d), v) for d, v in data["points"]]
    return MetricSeries(data["name"], data["label"], data["unit"], data["group"], points)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of the snapshots table as a snapshot frame: dates as timestamps, features as columns."""
    if not rows:
        return pd.DataFrame(columns=list(_GRID))
    grid = pd.DataFrame([r[:4] for r in rows], columns=list(_GRID))
    features = pd.DataFrame.from_records([json.loads(r[4]) for r in rows])
    frame = pd.concat([grid, features], axis=1)
    for column in ("as_of", "renewal_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


def store_from_tables(path: Path | str, tables, current: pd.DataFrame, as_of: pd.Timestamp, months: int = 6) -> int:
    """Write ``current`` (the scoring snapshots at ``as_of``) with the earlier monthly snapshots and
    weekly charts the account pages need, so the service can show a trend and what changed."""
    from explain.history import metric_series, monthly_dates, snapshots_at
    from explain.pages import SERIES_WEEKS

    accounts = current["account_id"].astype("str").tolist()
    if not accounts:  # no contract in force: an empty store still tells the service there is nothing to serve
        return write_snapshots(path, current)
    earlier = monthly_dates(as_of, months)[:-1]
    frames = [snapshots_at(tables, earlier, accounts), current] if earlier else [current]
    snapshots = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return write_snapshots(path, snapshots, metric_series(tables, accounts, as_of, SERIES_WEEKS))
