"""Snapshot grids: where each training row is taken, which rows are dropped, who is scored."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.outcomes import renewal_outcomes
from features.snapshots import RISK_WINDOW_DAYS, label_rows, scoring_grid, training_grid, window_labels
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
    grid = training_grid(tables, outcomes, horizons=[30, 90], jitter=0)
    row = grid[grid["contract_id"] == "C1"].set_index("horizon_days")
    assert row.loc[90, "as_of"] == pd.Timestamp("2024-03-03")
    assert row.loc[30, "as_of"] == pd.Timestamp("2024-05-02")
    assert set(row["churned"]) == {0}
    assert (row["outcome_date"] == pd.Timestamp("2024-06-01")).all()  # the label is known at the renewal


def test_horizons_cover_every_distance_up_to_a_year_and_stay_put_per_contract():
    tables, outcomes = world([ANNUAL, RENEWAL])
    first = training_grid(tables, outcomes)
    again = training_grid(tables, outcomes)
    pd.testing.assert_frame_equal(first, again)  # deterministic jitter
    days = first.loc[first["contract_id"] == "C1", "horizon_days"]
    assert days.between(1, 365).all() and days.nunique() == len(days) >= 5
    jitters = {
        int(training_grid(tables, outcomes, horizons=[150], jitter=30)["horizon_days"].iloc[0]) for _ in range(2)
    }
    assert len(jitters) == 1 and 120 <= jitters.pop() <= 180


def test_monthly_plan_risk_is_cancelling_within_the_window():
    chain = [(f"M{m}", "A1", f"2024-{m:02d}-01", f"2024-{m + 1:02d}-01", 100.0) for m in range(1, 10)]
    tables, outcomes = world([ANNUAL, RENEWAL, *chain])  # monthly from January, cancelled at the end of September
    grid = training_grid(tables, outcomes)
    monthly = grid[grid["account_id"] == "A1"].sort_values("as_of")
    assert (monthly["horizon_days"] == RISK_WINDOW_DAYS).all()
    assert (monthly["outcome_date"] == monthly["as_of"] + pd.Timedelta(days=RISK_WINDOW_DAYS)).all()
    assert (monthly["as_of"].diff().dropna() == pd.Timedelta(days=RISK_WINDOW_DAYS)).all()  # windows do not overlap
    for _, row in monthly.iterrows():
        cancels_inside = row["as_of"] <= pd.Timestamp("2024-10-01") < row["as_of"] + pd.Timedelta(days=90)
        assert row["churned"] == int(cancels_inside)
    assert monthly["churned"].sum() == 1
    assert (monthly["renewal_date"] >= monthly["as_of"]).all()  # the next monthly renewal, for the scores file


def test_a_window_with_an_open_renewal_is_censored():
    frames = [(f"M{m}", "A1", f"2026-{m:02d}-01", f"2026-{m + 1:02d}-01", 100.0) for m in range(1, 10)]
    _, outcomes = world([ANNUAL, RENEWAL, *frames])
    labels = window_labels(
        pd.DataFrame({"account_id": ["A1"], "as_of": [pd.Timestamp("2026-08-15")]}), outcomes, RISK_WINDOW_DAYS
    )
    assert outcomes.set_index("contract_id").loc["M8", "outcome"] == "open"
    assert labels["churned"].isna().all()


def test_label_rows_reads_outcomes_of_a_book_scored_in_the_past():
    chain = [(f"M{m}", "A1", f"2024-{m:02d}-01", f"2024-{m + 1:02d}-01", 100.0) for m in range(1, 10)]
    tables, outcomes = world([ANNUAL, RENEWAL, *chain])
    book = scoring_grid(tables.contracts, pd.Timestamp("2024-08-10")).set_index("account_id")
    assert book.loc["A1", "horizon_days"] == RISK_WINDOW_DAYS and book.loc["A0", "horizon_days"] == 295
    labels = label_rows(book.reset_index(), outcomes).set_axis(book.index)
    assert labels.loc["A1", "churned"] == 1.0  # cancelled at the end of September, within 90 days
    assert outcomes.set_index("contract_id").loc["C2", "outcome"] == "open"
    assert np.isnan(labels.loc["A0", "churned"])  # C2 renews after the data ends: not known yet


def test_open_contracts_get_no_training_row():
    tables, outcomes = world([ANNUAL, RENEWAL, ("C3", "A0", "2025-06-01", "2026-06-01", 1000.0)])
    grid = training_grid(tables, outcomes)
    assert "C3" not in set(grid["contract_id"])
    assert outcomes.set_index("contract_id").loc["C3", "outcome"] == "open"


def test_snapshot_after_the_successor_started_is_dropped():
    early = ("C2", "A0", "2024-02-01", "2025-06-01", 1000.0)  # renewed four months early: nothing left to predict
    tables, outcomes = world([ANNUAL, early])
    grid = training_grid(tables, outcomes, horizons=[90], jitter=0)
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
