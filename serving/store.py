"""The snapshot store: account snapshots the service explains by account id, in one SQLite file.

Why SQLite and not a Parquet file: the service looks accounts up one id at a time (an index
does that in microseconds without loading the whole book into every worker), nightly jobs
add a new date's snapshots while the service keeps reading (WAL mode: readers are never
blocked, a write is one transaction, so a half-written night is never seen), and it ships
with Python. DuckDB would add a dependency for scans we do not need.

Layout: ``snapshots`` holds one row per (account, as_of) with the snapshot's features as a
JSON object (the feature set follows the data's catalog, so it is not fixed columns) and the
account's name (``accounts.name``, shown beside the id, never a feature);
``series`` holds each account's weekly metric charts for the newest snapshot date written
for it, for the account page: writing an older date never replaces newer charts;
``records`` holds what the service answers per account, computed when the store is written
(``serving/precomputed.py``): for each account's newest stored date, its score with reasons
and its page (explanation, "what changed", risk trend), as JSON, keyed by the model that
computed them (``model``: a fingerprint of the bundle and playbook) and the date;
``predictions`` is the prediction log monitoring reads (``monitor/predictions.py``): one row per
scored account, date and model, appended by every ``churn score --store``. It is optional: a
store written before it existed is the same schema version, since nothing the service reads
changed. The file
is stamped with ``PRAGMA application_id`` and a schema version (``PRAGMA user_version``), so
a file that is not a snapshot store (an MLflow database, a typo'd path) is refused instead
of being written into. ``churn score --store`` and ``churn build-features --as-of --store``
write it.

The service only reads: it opens the file read-only (``mode=ro``), checks it
(``PRAGMA quick_check`` and the schema version) before serving, and notices a rebuilt store
renamed into place (a new inode at the same path) on the next request, without a restart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from explain.records import MetricSeries
from monitor.predictions import LOG_COLUMNS

log = logging.getLogger("renewal_risk")

APPLICATION_ID = 0x52525353  # "RRSS": a renewal-risk snapshot store
# bump (and migrate in _upgrade) when the layout changes. 2: accounts' names, precomputed records
SCHEMA_VERSION = 2
_TABLES = {
    "snapshots": """CREATE TABLE IF NOT EXISTS snapshots (
        account_id   TEXT NOT NULL,
        as_of        TEXT NOT NULL,
        contract_id  TEXT,
        renewal_date TEXT,
        features     TEXT NOT NULL,
        name         TEXT,
        PRIMARY KEY (account_id, as_of)
    )""",
    "series": """CREATE TABLE IF NOT EXISTS series (
        account_id TEXT PRIMARY KEY,
        as_of      TEXT NOT NULL,
        charts     TEXT NOT NULL
    )""",
    "records": """CREATE TABLE IF NOT EXISTS records (
        model      TEXT NOT NULL,
        account_id TEXT NOT NULL,
        as_of      TEXT NOT NULL,
        score      TEXT NOT NULL,
        page       TEXT NOT NULL,
        PRIMARY KEY (account_id, model, as_of)
    )""",
}
_COLUMNS = {
    "snapshots": ["account_id", "as_of", "contract_id", "renewal_date", "features", "name"],
    "series": ["account_id", "as_of", "charts"],
    "records": ["model", "account_id", "as_of", "score", "page"],
}
_PREDICTIONS = """CREATE TABLE IF NOT EXISTS predictions (
        as_of           TEXT NOT NULL,
        account_id      TEXT NOT NULL,
        contract_id     TEXT,
        renewal_date    TEXT,
        cadence         TEXT,
        horizon_bucket  TEXT,
        horizon_days    REAL,
        days_to_renewal REAL,
        model_version   TEXT NOT NULL,
        churn_risk      REAL NOT NULL,
        arr             REAL,
        segment         TEXT,
        features        TEXT,
        PRIMARY KEY (as_of, model_version, account_id)
    )"""
_PREDICTION_COLUMNS = LOG_COLUMNS  # the prediction log has one set of columns, in the file and in the store
_V1_COLUMNS = {  # schema version 1 (and the unstamped layout before it): no names, no records
    "snapshots": ["account_id", "as_of", "contract_id", "renewal_date", "features"],
    "series": ["account_id", "as_of", "charts"],
}
SCHEMA = ";\n".join(_TABLES.values()) + ";"
_GRID = ("account_id", "as_of", "contract_id", "renewal_date", "name")
_SNAPSHOT_COLUMNS = ("account_id", "as_of", "contract_id", "renewal_date", "features", "name")
_REBUILD = (
    "write it again with `churn score --data DIR --as-of DATE --store PATH` "
    "(or build one elsewhere and rename it into place)"
)


class StoreError(RuntimeError):
    """The store file is missing, damaged or not a snapshot store; the message names the path."""


# opening and checking ---------------------------------------------------------------------------


def _kind(connection: sqlite3.Connection) -> str:
    """``"store"`` (stamped, current schema), ``"old"`` (stamped schema version 1), ``"legacy"`` (the
    unstamped layout written before the schema version existed), ``"empty"`` (no tables: a new or
    0-byte file), else ``"foreign"`` or ``"version N"``. Raises ``sqlite3.DatabaseError`` for a file
    that is not SQLite at all."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = {
        name: [c[1] for c in connection.execute(f"PRAGMA table_info({name})")]
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    if application_id == APPLICATION_ID:
        if version == 1:
            return "old" if tables == _V1_COLUMNS else "foreign"
        if version != SCHEMA_VERSION:
            return f"version {version}"
        optional = tables.pop("predictions", _PREDICTION_COLUMNS) == _PREDICTION_COLUMNS
        return "store" if tables == _COLUMNS and optional else "foreign"
    if application_id == 0 and version == 0:
        if not tables:
            return "empty"
        if tables == _V1_COLUMNS:
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
        if kind in ("legacy", "old"):
            written = "schema version 1" if kind == "old" else "before the schema version existed"
            raise StoreError(
                f"{path}: a snapshot store of an older layout ({written}; this code reads version "
                f"{SCHEMA_VERSION}, which adds accounts' names and precomputed scores and pages); "
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
    store (upgraded when written), or an intact store of this schema version. Reads only."""
    refusal = "refusing to write into it. Choose a new path, e.g. out/snapshots.db."
    try:
        kind = _kind(connection)
    except sqlite3.DatabaseError as error:
        raise StoreError(f"--store {path}: this file is not a snapshot store ({error}); {refusal}") from None
    if kind == "store":
        _check(connection, path)
    elif kind not in ("empty", "legacy", "old"):
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


@contextlib.contextmanager
def _write_transaction(path: Path, extra_tables: Sequence[str] = ()) -> Iterator[sqlite3.Connection]:
    """One write to the store: opened for writing, upgraded and stamped, then committed, or rolled back on any error.

    Every writer goes through here, so the layout, the stamp and the all-or-nothing rule are one piece."""
    connection = _open_for_write(path)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            _upgrade(connection)
            for statement in [*_TABLES.values(), *extra_tables]:
                connection.execute(statement)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


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
    explainer=None,
) -> int:
    """Add (or replace) snapshot rows and the accounts' weekly charts, in one transaction.

    ``series_as_of`` is the snapshot date the charts belong to (default: the latest date in
    ``snapshots``). An account's charts are replaced only by charts of the same or a newer
    date, so scoring an older date after a newer one never takes the newer charts away.

    Every account written loses its precomputed records (they described the data before this
    write); with an ``explainer`` (the model ``churn score`` used), each such account's record
    for its newest stored date is computed again in the same transaction, from the store as it
    now stands, so a reader never sees a record that disagrees with the snapshots beside it.
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
            _plain(record.get("name")),
        )
        for record in snapshots.to_dict("records")
    ]
    if series_as_of is None and series:
        series_as_of = pd.to_datetime(snapshots["as_of"]).max() if len(snapshots) else None
    charts_date = _plain(pd.Timestamp(series_as_of)) if series_as_of is not None else None
    charts = [(str(account), charts_date, json.dumps(_charts(c))) for account, c in (series or {}).items()]
    if charts and charts_date is None:
        raise ValueError("charts need the snapshot date they belong to (series_as_of)")
    touched = sorted({row[0] for row in rows})
    with _write_transaction(path) as connection:
        columns = ", ".join(_SNAPSHOT_COLUMNS)
        connection.executemany(f"INSERT OR REPLACE INTO snapshots ({columns}) VALUES (?, ?, ?, ?, ?, ?)", rows)
        connection.executemany(
            """INSERT INTO series VALUES (?, ?, ?) ON CONFLICT (account_id) DO UPDATE
               SET as_of = excluded.as_of, charts = excluded.charts WHERE excluded.as_of >= series.as_of""",
            charts,
        )
        connection.executemany("DELETE FROM records WHERE account_id = ?", [(a,) for a in touched])
        if explainer is not None and touched:
            _write_records(connection, explainer, touched)
    return len(rows)


def _upgrade(connection: sqlite3.Connection) -> None:
    """Bring a schema-1 (or unstamped) store to this layout inside the write's transaction.

    Only the ``name`` column is added here; the ``records`` table is created with the others.
    Accounts not written now keep no name and no records until they are written again: the
    service computes their answers per request, as before."""
    columns = [c[1] for c in connection.execute("PRAGMA table_info(snapshots)")]
    if columns and "name" not in columns:
        connection.execute("ALTER TABLE snapshots ADD COLUMN name TEXT")


_CHUNK = 500  # ids per IN (...) query: well under SQLite's limit on bound parameters


def _write_records(connection: sqlite3.Connection, explainer, accounts: Sequence[str]) -> None:
    """Precompute, for each account, what the service answers for its newest stored date."""
    from serving.answers import HISTORY_DATES, model_key, records

    key = model_key(explainer)
    connection.execute("DELETE FROM records WHERE model != ?", [key])  # one model's records per store
    for start in range(0, len(accounts), _CHUNK):
        history = _frame(_history_rows(connection, accounts[start : start + _CHUNK], HISTORY_DATES))
        connection.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)", records(explainer, history))


def _history_rows(connection: sqlite3.Connection, account_ids: Sequence[str], limit: int) -> list[tuple]:
    """Each account's latest ``limit`` snapshot rows, oldest first (grid columns, then the features JSON)."""
    marks = ",".join("?" * len(account_ids))
    query = f"""
        SELECT account_id, as_of, contract_id, renewal_date, name, features FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY as_of DESC) AS recent
            FROM snapshots WHERE account_id IN ({marks})
        ) WHERE recent <= ? ORDER BY account_id, as_of
    """
    return connection.execute(query, [*account_ids, limit]).fetchall()


def _charts(charts: list[MetricSeries]) -> list[dict]:
    return [
        {**asdict(c), "points": [[d.isoformat(), None if v is None else round(v, 4)] for d, v in c.points]}
        for c in charts
    ]


def write_predictions(path: Path | str, log: pd.DataFrame) -> int:
    """Add one scoring run to the store's prediction log, in one transaction.

    A run is a date and a model: its earlier rows (the same date scored again by the same
    model) are replaced, every other date and model is left alone.
    """
    path = Path(path)
    frame = log[_PREDICTION_COLUMNS].astype(object).where(log[_PREDICTION_COLUMNS].notna(), None)
    for column in ("as_of", "renewal_date"):
        frame[column] = pd.to_datetime(log[column]).dt.strftime("%Y-%m-%d").where(log[column].notna(), None)
    rows = list(frame.itertuples(index=False, name=None))
    as_of, version = _PREDICTION_COLUMNS.index("as_of"), _PREDICTION_COLUMNS.index("model_version")
    runs = sorted({(row[as_of], row[version]) for row in rows})
    with _write_transaction(path, [_PREDICTIONS]) as connection:
        connection.executemany("DELETE FROM predictions WHERE as_of = ? AND model_version = ?", runs)
        marks = ", ".join("?" * len(_PREDICTION_COLUMNS))
        connection.executemany(f"INSERT INTO predictions VALUES ({marks})", rows)
    return len(rows)


def read_predictions(path: Path | str) -> pd.DataFrame:
    """The store's prediction log (empty when the store has none yet); ``StoreError`` for a path that is no store."""
    check_store(path)
    connection = _open_read_only(Path(path))
    try:
        exists = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'predictions'")
        if exists.fetchone() is None:
            return pd.DataFrame(columns=_PREDICTION_COLUMNS)
        frame = pd.read_sql_query("SELECT * FROM predictions ORDER BY as_of, model_version, account_id", connection)
    finally:
        connection.close()
    for column in ("as_of", "renewal_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


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
        return _frame(_history_rows(self.connection, account_ids, limit))

    def latest(self, account_ids: Sequence[str]) -> pd.DataFrame:
        """Each known account's most recent snapshot; unknown ids are simply absent."""
        return self.history(account_ids, limit=1)

    def score_records(self, model: str, account_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """Each known account's name and precomputed score (JSON) at its newest stored date, by ``model``.

        The score is None when the store holds none for this model and date (another model
        wrote the store, or it was written without one): the caller computes it then. One
        statement, so a write committing meanwhile is seen entirely or not at all.
        """
        if not account_ids:
            return {}
        marks = ",".join("?" * len(account_ids))
        query = f"""
            SELECT s.account_id, s.name, r.score FROM snapshots s
            JOIN (SELECT account_id, MAX(as_of) AS newest FROM snapshots WHERE account_id IN ({marks})
                  GROUP BY account_id) n ON s.account_id = n.account_id AND s.as_of = n.newest
            LEFT JOIN records r ON r.account_id = s.account_id AND r.model = ? AND r.as_of = s.as_of
        """
        rows = self.connection.execute(query, [*account_ids, model])
        return {account: (name, score) for account, name, score in rows}

    def page_records(self, model: str, account_ids: Sequence[str]) -> dict[str, str]:
        """Each account's precomputed page (JSON) at its newest stored date, by ``model``; absent when none is."""
        if not account_ids:
            return {}
        marks = ",".join("?" * len(account_ids))
        query = f"""
            SELECT r.account_id, r.page FROM records r
            JOIN (SELECT account_id, MAX(as_of) AS newest FROM snapshots WHERE account_id IN ({marks})
                  GROUP BY account_id) n ON r.account_id = n.account_id AND r.as_of = n.newest
            WHERE r.model = ?
        """
        return dict(self.connection.execute(query, [*account_ids, model]).fetchall())

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
    """Rows of the snapshots table (grid columns, then features) as a snapshot frame: dates as timestamps,
    features as columns."""
    if not rows:
        return pd.DataFrame(columns=list(_GRID))
    grid = pd.DataFrame([r[:-1] for r in rows], columns=list(_GRID))
    features = pd.DataFrame.from_records([json.loads(r[-1]) for r in rows])
    frame = pd.concat([grid, features], axis=1)
    for column in ("as_of", "renewal_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


def store_from_tables(
    path: Path | str, tables, current: pd.DataFrame, as_of: pd.Timestamp, months: int = 6, explainer=None
) -> int:
    """Write ``current`` (the scoring snapshots at ``as_of``) with the earlier monthly snapshots and
    weekly charts the account pages need, so the service can show a trend and what changed.

    With an ``explainer`` (the model that scored ``current``), each account's score, reasons,
    page and change are computed now and stored beside its snapshots, for that model: the
    service then reads them instead of running the model per request."""
    from explain.history import metric_series, monthly_dates, snapshots_at
    from explain.pages import SERIES_WEEKS, with_names

    accounts = current["account_id"].astype("str").tolist()
    if not accounts:  # no contract in force: an empty store still tells the service there is nothing to serve
        return write_snapshots(path, current)
    earlier = monthly_dates(as_of, months)[:-1]
    frames = [snapshots_at(tables, earlier, accounts), current] if earlier else [current]
    snapshots = with_names(pd.concat([f for f in frames if len(f)], ignore_index=True), tables)
    series = metric_series(tables, accounts, as_of, SERIES_WEEKS)
    return write_snapshots(path, snapshots, series, as_of, explainer=explainer)
