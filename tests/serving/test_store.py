"""The SQLite snapshot store: what churn score / build-features write is what the service reads back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from serving.store import SnapshotStore, StoreError, write_snapshots


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
