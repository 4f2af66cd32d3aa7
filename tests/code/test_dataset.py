"""Bring your own snapshot table: forgiving about form, strict about meaning."""

from __future__ import annotations

import pandas as pd
import pytest

from features.load import DataError
from training.dataset import from_snapshots_file


def write(tmp_path, frame: pd.DataFrame, name: str = "mine.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path, index=False)
    return path


def byo(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer": [f"c{i}" for i in range(n)],
            "snapshot_date": pd.date_range("2024-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
            "Did Not Renew": ["Yes", "no", "TRUE", "false", "1", "0", "YES", "No"][:n],
            "logins_30d": ["12", "", " 7 ", "3.5", "", "0", "44", "1"][:n],
            "plan": ["pro", "starter", "pro", "", "enterprise", "pro", "starter", "pro"][:n],
            "mrr": [100, 200, 300, 400, 500, 600, 700, 800][:n],
        }
    )


def test_yes_no_true_false_and_one_zero_labels_in_any_case(tmp_path):
    table = from_snapshots_file(write(tmp_path, byo()), label="Did Not Renew", id_col="customer")
    assert table.y.tolist() == [1, 0, 1, 0, 1, 0, 1, 0]


def test_numbers_stored_as_text_with_blanks_become_numbers(tmp_path):
    table = from_snapshots_file(write(tmp_path, byo()), label="Did Not Renew", id_col="customer")
    logins = table.frame["logins_30d"]
    assert logins.dtype == "float64"
    assert logins.isna().sum() == 2
    assert logins.iloc[2] == 7.0


def test_other_text_becomes_a_categorical_feature(tmp_path):
    table = from_snapshots_file(write(tmp_path, byo()), label="Did Not Renew", id_col="customer")
    assert table.catalog["plan"].kind == "categorical"
    assert "customer" not in table.features and "Did Not Renew" not in table.features
    assert table.catalog["logins_30d"].group == "usage"
    assert table.catalog["mrr"].group == "commercial"


def test_snapshot_date_is_not_a_feature_but_can_be_the_time_column(tmp_path):
    path = write(tmp_path, byo())
    table = from_snapshots_file(path, label="Did Not Renew", id_col="customer", time_col="snapshot_date")
    assert table.time_col == "snapshot_date"
    assert "snapshot_date" not in table.features
    assert table.frame["snapshot_date"].dtype.kind == "M"


def test_unreadable_labels_are_named_with_their_rows(tmp_path):
    frame = byo()
    frame.loc[3, "Did Not Renew"] = "maybe"
    with pytest.raises(DataError, match=r"Did Not Renew.*line 5 \(maybe\).*yes/no"):
        from_snapshots_file(write(tmp_path, frame), label="Did Not Renew", id_col="customer")


def test_missing_label_column_is_explained(tmp_path):
    with pytest.raises(DataError, match="--label column is missing"):
        from_snapshots_file(write(tmp_path, byo()), label="churned", id_col="customer")


def test_parquet_tables_work_the_same(tmp_path):
    table = from_snapshots_file(write(tmp_path, byo(), "mine.parquet"), label="Did Not Renew", id_col="customer")
    assert table.y.sum() == 4
