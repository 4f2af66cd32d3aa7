"""The snapshot store: account snapshots the service explains by account id, in one SQLite file.

Why SQLite and not a Parquet file: the service looks accounts up one id at a time (an index
does that in microseconds without loading the whole book into every worker), nightly jobs
add a new date's snapshots while the service keeps reading (WAL mode: readers are never
blocked, a write is one transaction, so a half-written night is never seen), and it ships
with Python. DuckDB would add a dependency for scans we do not need.

Layout: ``snapshots`` holds one row per (account, as_of) with the snapshot's features as a
JSON object (the feature set follows the data's catalog, so it is not fixed columns);
``series`` holds each account's weekly metric charts for the newest snapshot date written
for it, for the account page: writing an older date never replaces newer charts. The file
is stamped with ``PRAGMA application_id`` and a schema version (``PRAGMA user_version``), so
a file that is not a snapshot store (an MLflow database, a typo'd path) is refused instead
of being written into. ``churn score --store`` and ``churn build-features --as-of --store``
write it.

The service only reads: it opens the file read-only (``mode=ro``), checks it
(``PRAGMA quick_check`` and the schema version) before serving, and notices a rebuilt store
renamed into place (a new inode at the same path) on the next request, without a restart.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from explain.records import MetricSeries

log = logging.getLogger("renewal_risk")

APPLICATION_ID = 0x52525353  # "RRSS": a renewal-risk snapshot store
SCHEMA_VERSION = 1  # bump (and migrate in _open_for_write) when the layout changes
_TABLES = {
    "snapshots": """CREATE TABLE IF NOT EXISTS snapshots (
        account_id   TEXT NOT NULL,
        as_of        TEXT NOT NULL,
        contract_id  TEXT,
        renewal_date TEXT,
        features     TEXT NOT NULL,
        PRIMARY KEY (account_id, as_of)
    )""",
    "series": """CREATE TABLE IF NOT EXISTS series (
        account_id TEXT PRIMARY KEY,
        as_of      TEXT NOT NULL,
        charts     TEXT NOT NULL
    )""",
}
_COLUMNS = {
    "snapshots": ["account_id", "as_of", "contract_id", "renewal_date", "features"],
    "series": ["account_id", "as_of", "charts"],
}
SCHEMA = ";\n".join(_TABLES.values()) + ";"
_GRID = ("account_id", "as_of", "contract_id", "renewal_date")
_REBUILD = (
    "write it again with `churn score --data DIR --as-of DATE --store PATH` "
    "(or build one elsewhere and rename it into place)"
)


class StoreError(RuntimeError):
    """The store file is missing, damaged or not a snapshot store; the message names the path."""


# opening and checking ---------------------------------------------------------------------------


def _kind(connection: sqlite3.Connection) -> str:
    """``"store"`` (stamped, current schema), ``"legacy"`` (the unstamped layout written before
    the schema version existed), ``"empty"`` (no tables: a new or 0-byte file), else ``"foreign"``
    or ``"version N"``. Raises ``sqlite3.DatabaseError`` for a file that is not SQLite at all."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = {
        name: [c[1] for c in connection.execute(f"PRAGMA table_info({name})")]
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    if application_id == APPLICATION_ID:
        if version != SCHEMA_VERSION:
            return f"version {version}"
        return "store" if tables == _COLUMNS else "foreign"
    if application_id == 0 and version == 0:
        if not tables:
            return "empty"
        if tables == _COLUMNS:
            return "legacy"
    return "foreign"


def _describe(connection: sqlite3.Connection) -> str:
    names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    shown = ", ".join(names[:6]) + (" …" if len(names) > 6 else "")
    return f"its tables are {shown}" if names else "it has no tables"


def _check(connection: sqlite3.Connection, path: Path) -> None:
    """Raise ``StoreError`` unless ``connection`` is an intact snapshot store of this schema version."""
    try:
        kind = _kind(connection)
        if kind == "store":
            problems = [r[0] for r in connection.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise StoreError(f"{path}: the snapshot store is damaged ({'; '.join(problems)}); {_REBUILD}")
            return
        if kind == "legacy":
            raise StoreError(
                f"{path}: a snapshot store written before schema version {SCHEMA_VERSION}; "
                "writing any date to it with `churn score --store` upgrades it in place"
            )
        if kind.startswith("version"):
            raise StoreError(
                f"{path}: snapshot store schema {kind}, this code reads version {SCHEMA_VERSION}; {_REBUILD}"
            )
        if kind == "empty":
            raise StoreError(f"{path}: an empty file, not a snapshot store; {_REBUILD}")
        raise StoreError(f"{path}: not a snapshot store ({_describe(connection)}); {_REBUILD}")
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path}: damaged or not a snapshot store ({error}); {_REBUILD}") from None


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection: opening a store for reading never creates tables or changes its journal."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)


def check_store(path: Path | str) -> None:
    """Raise ``StoreError`` (naming the path and what to do) unless ``path`` is an intact snapshot store.

    Reads only: a fresh read-only connection, ``PRAGMA quick_check`` and the schema version.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no snapshot store here; write one with `churn score --store {path}`")
    _read_only_check(path, _check, f"{path}: cannot open the snapshot store")


def _read_only_check(path: Path, check, cannot_open: str) -> None:
    """Run ``check(connection, path)`` on a fresh read-only connection, closed afterwards."""
    try:
        connection = _open_read_only(path)
    except sqlite3.Error as error:
        raise StoreError(f"{cannot_open} ({error})") from None
    try:
        check(connection, path)
    finally:
        connection.close()


def _refuse_unless_writable(connection: sqlite3.Connection, path: Path) -> None:
    """Raise ``StoreError`` unless ``path`` may be written as a store: new or empty, an old-layout
    store, or an intact store of this schema version. Reads only."""
    refusal = "refusing to write into it. Choose a new path, e.g. out/snapshots.db."
    try:
        kind = _kind(connection)
    except sqlite3.DatabaseError as error:
        raise StoreError(f"--store {path}: this file is not a snapshot store ({error}); {refusal}") from None
    if kind == "store":
        _check(connection, path)
    elif kind not in ("empty", "legacy"):
        detail = f"schema {kind}, this code writes {SCHEMA_VERSION}" if kind.startswith("version") else ""
        raise StoreError(
            f"--store {path}: this file is not a snapshot store ({detail or _describe(connection)}); {refusal}"
        )


def check_writable(path: Path | str) -> None:
    """Raise ``StoreError`` now if ``write_snapshots`` would refuse ``path``; for commands to call
    before their work. Never creates or changes the file."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_file():
        raise StoreError(f"--store {path}: a directory, not a snapshot store file")
    _read_only_check(path, _refuse_unless_writable, f"--store {path}: cannot open it")


def _open_for_write(path: Path) -> sqlite3.Connection:
    """A connection to write ``path``: a new (or empty) file becomes a store, an old-layout store is
    stamped, anything else (another application's database, a damaged store) is refused untouched."""
    if path.exists() and not path.is_file():
        raise StoreError(f"--store {path}: a directory, not a snapshot store file")
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        _refuse_unless_writable(connection, path)
        connection.execute("PRAGMA journal_mode=WAL")
    except BaseException:
        connection.close()
        raise
    return connection


# writing --------------------------------------------------------------------------------------


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
    path: Path | str,
    snapshots: pd.DataFrame,
    series: dict[str, list[MetricSeries]] | None = None,
    series_as_of: pd.Timestamp | date | str | None = None,
) -> int:
    """Add (or replace) snapshot rows and the accounts' weekly charts, in one transaction.

    ``series_as_of`` is the snapshot date the charts belong to (default: the latest date in
    ``snapshots``). An account's charts are replaced only by charts of the same or a newer
    date, so scoring an older date after a newer one never takes the newer charts away.
    """
    path = Path(path)
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
    if series_as_of is None and series:
        series_as_of = pd.to_datetime(snapshots["as_of"]).max() if len(snapshots) else None
    charts_date = _plain(pd.Timestamp(series_as_of)) if series_as_of is not None else None
    charts = [(str(account), charts_date, json.dumps(_charts(c))) for account, c in (series or {}).items()]
    if charts and charts_date is None:
        raise ValueError("charts need the snapshot date they belong to (series_as_of)")
    connection = _open_for_write(path)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _TABLES.values():
                connection.execute(statement)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.executemany("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?)", rows)
            connection.executemany(
                """INSERT INTO series VALUES (?, ?, ?) ON CONFLICT (account_id) DO UPDATE
                   SET as_of = excluded.as_of, charts = excluded.charts WHERE excluded.as_of >= series.as_of""",
                charts,
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()
    return len(rows)


def _charts(charts: list[MetricSeries]) -> list[dict]:
    return [
        {**asdict(c), "points": [[d.isoformat(), None if v is None else round(v, 4)] for d, v in c.points]}
        for c in charts
    ]


# reading --------------------------------------------------------------------------------------


def _identity(path: Path) -> tuple[int, int]:
    """Which file is at ``path`` (a store rebuilt and renamed into place is a new one)."""
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _signature(path: Path) -> tuple:
    """Changes whenever the file (or its write-ahead log) is replaced or written."""
    parts = []
    for name in (path, path.with_name(path.name + "-wal")):
        try:
            status = os.stat(name)
        except FileNotFoundError:
            parts.append(None)
        else:
            parts.append((status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns))
    return tuple(parts)


class SnapshotStore:
    """Read side of the store, opened once per service worker (read-only) and checked before use.

    Every query first looks at which file is at the path: a store rebuilt and renamed into
    place is opened, checked and served from then on, without a restart; one that fails the
    check is not served (the last good one is, and ``check`` says why it is not ready).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if not self.path.exists():
            raise StoreError(f"{self.path}: no snapshot store here; write one with `churn score --store {self.path}`")
        self._lock = threading.Lock()
        self._problem: str | None = None
        self._rejected: tuple[int, int] | None = None
        self._connection, self._identity = self._open()
        self._verified = _signature(self.path)

    def _open(self) -> tuple[sqlite3.Connection, tuple[int, int]]:
        identity = _identity(self.path)  # before opening: a rename in between means one more reopen, never none
        try:
            connection = _open_read_only(self.path)
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot open the snapshot store ({error})") from None
        try:
            _check(connection, self.path)
        except BaseException:
            connection.close()
            raise
        return connection, identity

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection to the file now at the path (reopened if the store was replaced)."""
        try:
            identity = _identity(self.path)
        except FileNotFoundError:
            return self._connection  # keep serving the last good file; check() reports it is gone
        if identity != self._identity and identity != self._rejected:
            with self._lock:
                if identity != self._identity and identity != self._rejected:
                    self._reopen()
        return self._connection

    def _reopen(self) -> None:
        try:
            connection, identity = self._open()
        except (StoreError, OSError) as error:
            try:
                self._rejected = _identity(self.path)
            except OSError:
                self._rejected = None
            self._problem = f"the replaced store is not served: {error}"
            log.warning(
                "snapshot store %s replaced by a file that fails its check; still serving the previous one", self.path
            )
            return
        # The old connection is not closed here: a request in flight may still be reading it;
        # it is closed when the last reference to it goes.
        self._connection, self._identity, self._problem, self._rejected = connection, identity, None, None
        self._verified = _signature(self.path)
        log.info("snapshot store %s was replaced; serving the new file", self.path)

    def check(self) -> None:
        """Readiness: raise ``StoreError`` unless the file at the path is an intact snapshot store.

        Picks up a replaced file first; runs ``PRAGMA quick_check`` on a fresh read-only
        connection whenever the file changed since it last passed, so polling it is cheap.
        """
        self.connection  # noqa: B018 - reopens a replaced store
        if self._problem:
            raise StoreError(f"{self.path}: {self._problem}")
        signature = _signature(self.path)
        if signature[0] is None:
            raise StoreError(f"{self.path}: the snapshot store file is gone; {_REBUILD}")
        if signature != self._verified:
            check_store(self.path)
            self._verified = signature

    def ready(self) -> bool:
        try:
            self.check()
        except StoreError as error:
            log.warning("snapshot store not ready: %s", error)
            return False
        return True

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

    def series_dates(self, account_ids: Iterable[str]) -> dict[str, pd.Timestamp]:
        """The snapshot date each account's charts belong to."""
        ids = list(account_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.connection.execute(f"SELECT account_id, as_of FROM series WHERE account_id IN ({marks})", ids)
        return {account: pd.Timestamp(as_of) for account, as_of in rows}


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
    return write_snapshots(path, snapshots, metric_series(tables, accounts, as_of, SERIES_WEEKS), as_of)
