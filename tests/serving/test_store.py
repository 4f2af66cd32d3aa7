"""The SQLite snapshot store: what churn score / build-features write is what the service reads back."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import date

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from explain.records import MetricSeries
from serving.runtime import ModelLoadError, Runtime
from serving.store import SCHEMA_VERSION, SnapshotStore, StoreError, check_store, write_snapshots

LEGACY_SCHEMA = """
CREATE TABLE snapshots (
    account_id TEXT NOT NULL, as_of TEXT NOT NULL, contract_id TEXT, renewal_date TEXT, features TEXT NOT NULL,
    PRIMARY KEY (account_id, as_of)
);
CREATE TABLE series (account_id TEXT PRIMARY KEY, as_of TEXT NOT NULL, charts TEXT NOT NULL);
"""


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "B"],
            "as_of": pd.to_datetime(["2026-09-01", "2026-10-01", "2026-11-01", "2026-11-01"]),
            "contract_id": ["C1", "C1", "C1", "C2"],
            "renewal_date": pd.to_datetime(["2027-01-01"] * 3 + ["2027-09-01"]),
            "arr": [100.0, 110.0, np.nan, 5.0],
            "plan": ["pro", "pro", "pro", None],
        }
    )


def test_round_trip_keeps_values_and_says_missing_as_missing(tmp_path):
    path = tmp_path / "store.db"
    assert write_snapshots(path, _frame()) == 4
    store = SnapshotStore(path)
    history = store.history(["A"], limit=6)
    assert history["as_of"].tolist() == list(pd.to_datetime(["2026-09-01", "2026-10-01", "2026-11-01"]))
    assert history["arr"].iloc[:2].tolist() == [100.0, 110.0] and pd.isna(history["arr"].iloc[2])
    assert store.history(["A"], limit=2)["as_of"].min() == pd.Timestamp("2026-10-01")
    latest = store.latest(["B", "NOPE", "A"])
    assert sorted(latest["account_id"]) == ["A", "B"] and latest["plan"].isna().sum() == 1
    assert len(store) == 2 and store.latest_date() == pd.Timestamp("2026-11-01")


def test_writing_a_date_again_replaces_it(tmp_path):
    path = tmp_path / "store.db"
    write_snapshots(path, _frame())
    again = _frame().iloc[[2]].assign(arr=7.0)
    write_snapshots(path, again)
    store = SnapshotStore(path)
    assert len(store.history(["A"])) == 3
    assert store.latest(["A"])["arr"].item() == 7.0


def test_renewing_takes_the_latest_date_and_the_horizon(tmp_path):
    path = tmp_path / "store.db"
    write_snapshots(path, _frame())
    store = SnapshotStore(path)
    assert store.renewing(pd.Timestamp("2026-11-01"), 90) == ["A"]
    assert store.renewing(pd.Timestamp("2026-11-01"), 365) == ["A", "B"]


def test_a_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no snapshot store here"):
        SnapshotStore(tmp_path / "nope.db")


def test_build_features_as_of_writes_the_store(data_dir, tmp_path):
    store = tmp_path / "s.db"
    args = ["build-features", "--data", str(data_dir), "--as-of", "2024-06-01", "--out", str(tmp_path / "s.parquet")]
    result = CliRunner().invoke(app, [*args, "--store", str(store), "--store-months", "2"])
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(tmp_path / "s.parquet")
    reader = SnapshotStore(store)
    assert reader.latest_date() == pd.Timestamp("2024-06-01")
    assert set(reader.latest(scored["account_id"].tolist())["account_id"]) == set(scored["account_id"])
    assert reader.series(scored["account_id"].tolist()), "weekly charts for the account pages"


def test_store_without_as_of_is_refused_before_any_work(data_dir, tmp_path):
    args = ["build-features", "--data", str(data_dir), "--out", str(tmp_path / "t.parquet")]
    result = CliRunner().invoke(app, [*args, "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 2 and "--store needs --as-of" in result.output
    assert not (tmp_path / "s.db").exists() and not (tmp_path / "t.parquet").exists()


def test_a_date_with_no_contract_in_force_writes_an_empty_store(data_dir, tmp_path):
    store = tmp_path / "empty.db"
    args = ["build-features", "--data", str(data_dir), "--as-of", "2010-01-01", "--out", str(tmp_path / "e.parquet")]
    result = CliRunner().invoke(app, [*args, "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert len(SnapshotStore(store)) == 0


# issue #11: a store that never loses newer data, is never written by a reader, and is checked ----------


def _charts(end: str, weeks: int = 4) -> list[MetricSeries]:
    last = pd.Timestamp(end)
    points = [((last - pd.Timedelta(weeks=weeks - 1 - k)).date(), float(k)) for k in range(weeks)]
    return [MetricSeries("active_users", "Active users", "users", "engagement", points)]


def _one_date(as_of: str) -> pd.DataFrame:
    return _frame().iloc[[0]].assign(as_of=pd.Timestamp(as_of))


def test_writing_an_older_date_after_a_newer_one_keeps_the_newer_charts(tmp_path):
    path = tmp_path / "store.db"
    write_snapshots(path, _one_date("2026-11-01"), {"A": _charts("2026-10-26")}, "2026-11-01")
    write_snapshots(path, _one_date("2026-10-01"), {"A": _charts("2026-09-28")}, "2026-10-01")
    store = SnapshotStore(path)
    assert store.latest_date() == pd.Timestamp("2026-11-01")
    assert store.series(["A"])["A"][0].points[-1][0] == date(2026, 10, 26), "the newer date's charts are kept"
    assert store.series_dates(["A"]) == {"A": pd.Timestamp("2026-11-01")}
    assert len(store.history(["A"])) == 2, "the older date's snapshot is still added"
    write_snapshots(path, _one_date("2026-12-01"), {"A": _charts("2026-11-30")}, "2026-12-01")
    assert store.series(["A"])["A"][0].points[-1][0] == date(2026, 11, 30), "a newer date replaces them"


def test_scoring_an_older_date_after_a_newer_one_keeps_the_newer_charts(data_dir, tmp_path):
    def build(store, as_of):
        args = ["build-features", "--data", str(data_dir), "--as-of", as_of, "--out", str(tmp_path / "s.parquet")]
        result = CliRunner().invoke(app, [*args, "--store", str(store), "--store-months", "2"])
        assert result.exit_code == 0, result.output

    build(tmp_path / "newer_only.db", "2024-06-01")
    build(tmp_path / "s.db", "2024-06-01")
    build(tmp_path / "s.db", "2024-05-01")
    reader, expected = SnapshotStore(tmp_path / "s.db"), SnapshotStore(tmp_path / "newer_only.db")
    assert reader.latest_date() == pd.Timestamp("2024-06-01")
    ids = expected.latest([f"A{i}" for i in range(20)])["account_id"].tolist()
    assert ids and reader.series(ids) == expected.series(ids), "the older date's charts replaced the newer ones"
    assert set(reader.series_dates(ids).values()) == {pd.Timestamp("2024-06-01")}
    ends = [charts[0].points[-1][0] for charts in reader.series(ids).values() if charts and charts[0].points]
    assert max(ends) >= date(2024, 5, 20), "the served charts end in late May, not April"


def _mlflow_like(path):
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, experiment_id INTEGER);"
        "INSERT INTO experiments VALUES (0, 'Default');"
    )
    connection.commit()
    connection.close()
    return path


def _untouched(path, before: bytes):
    assert path.read_bytes() == before
    assert not path.with_name(path.name + "-wal").exists() and not path.with_name(path.name + "-shm").exists()


@pytest.mark.parametrize("kind", ["zero-bytes", "mlflow", "text"])
def test_opening_a_file_for_reading_never_writes_to_it(tmp_path, kind):
    path = tmp_path / "not-a-store.db"
    if kind == "zero-bytes":
        path.touch()
    elif kind == "mlflow":
        _mlflow_like(path)
    else:
        path.write_text("account_id,arr\nA,1\n")
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"not a snapshot store|empty file"):
        SnapshotStore(path)
    with pytest.raises(StoreError):
        check_store(path)
    _untouched(path, before)
    if kind == "mlflow":
        connection = sqlite3.connect(path)
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"experiments", "runs"}


def test_the_real_mlflow_database_is_not_a_store(tmp_path):
    """A real MLflow tracking store (made here, with MLflow's own migrations) is refused and left alone."""
    from mlflow.tracking import MlflowClient

    source = tmp_path / "made" / "mlflow.db"
    source.parent.mkdir()
    MlflowClient(tracking_uri=f"sqlite:///{source}").create_experiment("not-a-store")
    path = tmp_path / "mlflow.db"
    shutil.copyfile(source, path)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a snapshot store"):
        SnapshotStore(path)
    with pytest.raises(StoreError, match="refusing to write"):
        write_snapshots(path, _frame())
    _untouched(path, before)


@pytest.mark.parametrize("kind", ["mlflow", "text"])
def test_store_on_a_file_that_is_not_a_store_is_refused_and_left_alone(data_dir, tmp_path, kind):
    path = tmp_path / "mlflow.db"
    if kind == "mlflow":
        _mlflow_like(path)
    else:
        path.write_text("not sqlite at all\n" * 20)
    before = path.read_bytes()
    args = ["build-features", "--data", str(data_dir), "--as-of", "2024-06-01", "--out", str(tmp_path / "s.parquet")]
    result = CliRunner().invoke(app, [*args, "--store", str(path)])
    assert result.exit_code == 2, result.output
    assert "not a snapshot store" in result.output and "refusing to write" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "s.parquet").exists()  # refused before any work: no --out either
    _untouched(path, before)


def test_an_empty_file_becomes_a_store_and_an_unstamped_one_is_upgraded(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    write_snapshots(empty, _frame())
    assert len(SnapshotStore(empty)) == 2
    legacy = tmp_path / "legacy.db"
    connection = sqlite3.connect(legacy)
    connection.executescript(LEGACY_SCHEMA)
    connection.close()
    with pytest.raises(StoreError, match="upgrades it in place"):
        SnapshotStore(legacy)
    write_snapshots(legacy, _frame())
    assert SnapshotStore(legacy).latest_date() == pd.Timestamp("2026-11-01")


def test_another_schema_version_is_refused_by_reader_and_writer(tmp_path):
    path = tmp_path / "store.db"
    write_snapshots(path, _frame())
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        SnapshotStore(path)
    with pytest.raises(StoreError, match="refusing to write"):
        write_snapshots(path, _frame())


def _big_store(path) -> None:
    n = 400
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "as_of": pd.Timestamp("2026-11-01"),
            "contract_id": "C",
            "renewal_date": pd.Timestamp("2027-01-01"),
            "arr": np.arange(n, dtype=float),
        }
    )
    write_snapshots(path, frame)


def _damage(path) -> None:
    with open(path, "r+b") as handle:  # a few pages in: table and index pages, not the header
        handle.seek(4096 * 3)
        handle.write(b"\x07" * 200)


def test_a_damaged_store_is_refused_at_open_and_fails_readiness(tmp_path):
    path = tmp_path / "store.db"
    _big_store(path)
    store = SnapshotStore(path)
    assert store.ready()
    _damage(path)
    assert not store.ready()
    with pytest.raises(StoreError, match="damaged"):
        store.check()
    with pytest.raises(StoreError, match="damaged"):
        SnapshotStore(path)
    with pytest.raises(StoreError, match="damaged"):
        write_snapshots(path, _frame())


def test_a_rebuilt_store_renamed_into_place_is_served_without_a_restart(tmp_path):
    path = tmp_path / "store.db"
    write_snapshots(path, _frame())
    store = SnapshotStore(path)
    assert store.latest_date() == pd.Timestamp("2026-11-01")
    rebuilt = tmp_path / "store.db.new"
    write_snapshots(rebuilt, _frame().assign(as_of=pd.Timestamp("2026-12-01"), account_id="Z"))
    os.replace(rebuilt, path)
    assert store.latest_date() == pd.Timestamp("2026-12-01")
    assert list(store.latest(["Z"])["account_id"]) == ["Z"] and store.ready()
    broken = tmp_path / "broken.db"
    _mlflow_like(broken)
    os.replace(broken, path)
    assert store.latest_date() == pd.Timestamp("2026-12-01"), "a bad replacement is not served"
    assert not store.ready()
    again = tmp_path / "again.db"
    write_snapshots(again, _frame())
    os.replace(again, path)
    assert store.ready() and store.latest_date() == pd.Timestamp("2026-11-01")


def test_the_runtime_refuses_a_damaged_store_at_start_and_reports_readiness(small_demo, tmp_path):
    path = tmp_path / "store.db"
    _big_store(path)
    runtime = Runtime.load(str(small_demo.model), str(path))
    assert runtime.ready() and runtime.readiness() is None
    _damage(path)
    assert not runtime.ready() and "damaged" in runtime.readiness()
    with pytest.raises(ModelLoadError, match=r"cannot open the snapshot store .*damaged"):
        Runtime.load(str(small_demo.model), str(path))
    _mlflow_like(tmp_path / "mlflow.db")
    with pytest.raises(ModelLoadError, match="not a snapshot store"):
        Runtime.load(str(small_demo.model), str(tmp_path / "mlflow.db"))


def test_a_store_written_after_the_start_is_served(small_demo, tmp_path):
    path = tmp_path / "later.db"
    runtime = Runtime.load(str(small_demo.model), str(path))
    assert runtime.store is None and runtime.ready()
    with pytest.raises(StoreError, match="no snapshot store"):
        runtime.score_accounts(["A"], 1)
    write_snapshots(path, _frame())
    assert [r.found for r in runtime.score_accounts(["A", "NOPE"], 1)] == [True, False]
    assert runtime.ready()
