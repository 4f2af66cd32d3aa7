"""Reading one account's rows: the same features and the same export-wide facts as reading the whole export."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from features.build import build_scoring_snapshots
from features.load import DataError, load_tables
from features.schema import TABLES


@pytest.fixture(scope="module")
def book(small_demo):
    as_of = pd.Timestamp(small_demo.tables.data_end) + pd.Timedelta(days=1) - pd.DateOffset(months=2)
    frame = build_scoring_snapshots(small_demo.tables, as_of).frame.set_index("account_id")
    return as_of, frame


def _as_csv(tables, folder):
    """The demo export written again as CSV files (the other format a user may bring)."""
    folder.mkdir()
    for table in TABLES:
        frame = tables.get(table.name)
        if frame is not None:
            frame.to_csv(folder / f"{table.name}.csv", index=False)
    return folder


def _same_rows(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.columns) == list(right.columns)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_numeric_dtype(a):
            np.testing.assert_allclose(a.astype(float), b.astype(float), equal_nan=True, err_msg=column)
        else:
            assert a.astype("str").tolist() == b.astype("str").tolist(), column


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_one_accounts_rows_give_the_features_the_whole_export_gives(small_demo, book, tmp_path, fmt):
    as_of, whole = book
    data = small_demo.data
    if fmt == "csv":
        data = _as_csv(small_demo.tables, tmp_path / "csv")
    # an account whose usage begins after the export does, and one that never used every metric
    first = small_demo.tables.usage.groupby("account_id", observed=True)["date"].min()
    late = [a for a in first[first > small_demo.tables.usage_start].index if a in whole.index][:2]
    picked = [*late, whole.index[0]]
    subset = load_tables(data, accounts=picked)

    assert set(subset.accounts["account_id"]) == set(picked)
    assert len(subset.usage) < len(small_demo.tables.usage) / 50
    assert subset.data_end == small_demo.tables.data_end
    assert subset.usage_start == small_demo.tables.usage_start
    assert subset.usage_metrics == small_demo.tables.usage_metrics
    own = build_scoring_snapshots(subset, as_of).frame.set_index("account_id").loc[picked]
    _same_rows(own, whole.loc[picked])


def test_an_account_without_rows_in_a_table_gets_an_empty_typed_table(small_demo, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_demo.data, data)
    tickets = small_demo.tables.support_tickets
    quiet = sorted(set(small_demo.tables.accounts["account_id"]) - set(tickets["account_id"]))[0]
    subset = load_tables(data, accounts=[quiet])
    assert subset.support_tickets.empty
    assert list(subset.support_tickets.columns) == list(tickets.columns)
    assert pd.api.types.is_datetime64_any_dtype(subset.support_tickets["opened_at"])


def test_a_bad_row_is_reported_with_its_line_in_the_whole_file(small_demo, tmp_path):
    data = _as_csv(small_demo.tables, tmp_path / "data")
    contracts = pd.read_csv(data / "contracts.csv")
    account = contracts.loc[40, "account_id"]
    contracts.loc[40, "end_date"] = contracts.loc[40, "start_date"]
    contracts.to_csv(data / "contracts.csv", index=False)

    with pytest.raises(DataError) as subset_error:
        load_tables(data, accounts=[account])
    with pytest.raises(DataError) as whole_error:
        load_tables(data)
    assert str(subset_error.value) == str(whole_error.value)
    assert "line 42" in str(subset_error.value)


def test_a_metric_one_account_never_used_is_still_a_column_of_its_features(small_demo, book, tmp_path):
    """The metric vocabulary is the export's: without it, one account's build would lack the logins columns."""
    as_of, whole = book
    data = tmp_path / "data"
    shutil.copytree(small_demo.data, data)
    account = whole.index[0]
    usage = pd.read_parquet(data / "usage.parquet")
    usage = usage[~((usage["account_id"] == account) & (usage["metric"] == "logins")).to_numpy()]
    usage.to_parquet(data / "usage.parquet", index=False)

    subset = load_tables(data, accounts=[account])
    assert "logins" not in set(subset.usage["metric"].astype("str"))
    assert "logins" in subset.usage_metrics
    own = build_scoring_snapshots(subset, as_of).frame
    logins = [c for c in whole.columns if "logins" in c]
    assert logins and set(logins) <= set(own.columns)
    assert (own[[c for c in logins if c.endswith("_30d") and "mean" in c]].fillna(0) == 0).all().all()
