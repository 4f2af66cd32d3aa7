"""Snapshot grids: where each training row is taken, which rows are dropped, who is scored."""

from __future__ import annotations

import pandas as pd

from features.outcomes import renewal_outcomes
from features.snapshots import scoring_grid, training_grid
from tests.conftest import as_tables, tiny_frames


def world(contract_rows: list[tuple]) -> tuple:
    frames = tiny_frames(seed=1, n_accounts=2)
    rows = pd.DataFrame(contract_rows, columns=["contract_id", "account_id", "start_date", "end_date", "arr"])
    frames["contracts"] = rows.assign(seats=10.0, plan="pro", discount_pct=0.0, auto_renew=True)
    tables = as_tables(frames)
    return tables, renewal_outcomes(tables.contracts, tables.data_end)


ANNUAL = ("C1", "A0", "2023-06-01", "2024-06-01", 1000.0)
RENEWAL = ("C2", "A0", "2024-06-01", "2025-06-01", 1000.0)
MONTHLY = ("M1", "A1", "2024-03-01", "2024-04-01", 100.0)


def test_annual_contract_is_observed_horizon_days_before_renewal():
    tables, outcomes = world([ANNUAL, RENEWAL])
    grid = training_grid(tables, outcomes, horizons=[30, 90])
    row = grid[grid["contract_id"] == "C1"].set_index("horizon_days")
    assert row.loc[90, "as_of"] == pd.Timestamp("2024-03-03")
    assert row.loc[30, "as_of"] == pd.Timestamp("2024-05-02")
    assert set(row["churned"]) == {0}


def test_short_contract_is_observed_the_day_after_it_starts_once():
    tables, outcomes = world([ANNUAL, MONTHLY])
    grid = training_grid(tables, outcomes, horizons=[30, 60, 90])
    rows = grid[grid["contract_id"] == "M1"]
    assert len(rows) == 1  # every horizon lands on the same day: one row, under the shortest horizon
    assert rows.iloc[0]["as_of"] == pd.Timestamp("2024-03-02")
    assert rows.iloc[0]["horizon_days"] == 30


def test_open_contracts_get_no_training_row():
    tables, outcomes = world([ANNUAL, RENEWAL, ("C3", "A0", "2025-06-01", "2026-06-01", 1000.0)])
    grid = training_grid(tables, outcomes)
    assert "C3" not in set(grid["contract_id"])
    assert outcomes.set_index("contract_id").loc["C3", "outcome"] == "open"


def test_snapshot_after_the_successor_started_is_dropped():
    early = ("C2", "A0", "2024-02-01", "2025-06-01", 1000.0)  # renewed four months early: nothing left to predict
    tables, outcomes = world([ANNUAL, early])
    grid = training_grid(tables, outcomes, horizons=[90])
    assert "C1" not in set(grid["contract_id"])


def test_account_with_no_activity_before_as_of_is_skipped():
    before_data = ("OLD", "A0", "2020-01-01", "2021-01-01", 1000.0)
    tables, outcomes = world([before_data, ANNUAL])
    assert "OLD" not in set(training_grid(tables, outcomes)["contract_id"])


def test_scoring_grid_takes_the_contract_in_force():
    tables, _ = world([ANNUAL, RENEWAL, MONTHLY])
    grid = scoring_grid(tables.contracts, pd.Timestamp("2024-06-01")).set_index("account_id")
    assert grid.loc["A0", "contract_id"] == "C1"  # C2 starts on as_of itself: not yet visible
    grid = scoring_grid(tables.contracts, pd.Timestamp("2024-06-02")).set_index("account_id")
    assert grid.loc["A0", "contract_id"] == "C2"
    assert "A1" not in grid.index  # the monthly contract ended in April
    assert grid["as_of"].dt.normalize().eq(pd.Timestamp("2024-06-02")).all()
