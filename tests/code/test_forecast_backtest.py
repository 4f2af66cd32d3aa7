"""The out-of-sample forecast backtest: cutoffs, what a refit may learn from, and what actually renewed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from features.catalog import Catalog, Feature
from features.outcomes import renewal_outcomes
from features.snapshots import label_rows, scoring_grid
from tests.conftest import as_tables, tiny_frames
from training.dataset import TrainingTable
from training.forecast import renewal_events
from training.forecast_run import (
    backtest_cutoffs,
    cutoff_rows,
    forecast_backtest,
    known_at,
    realized_survival,
)

MONTH = 365.25 / 12
CUTOFF = pd.Timestamp("2024-03-15")


def world() -> tuple:
    """A0: annual C1 renewed into C2 (still open). A1: monthly from March, cancelled at its June renewal."""
    frames = tiny_frames(seed=1, n_accounts=2)
    rows = pd.DataFrame(
        [
            ("C1", "A0", "2023-06-01", "2024-06-01", 1000.0),
            ("C2", "A0", "2024-06-01", "2025-06-01", 1000.0),
            ("M1", "A1", "2024-03-01", "2024-04-01", 100.0),
            ("M2", "A1", "2024-04-01", "2024-05-01", 100.0),
            ("M3", "A1", "2024-05-01", "2024-06-01", 100.0),
        ],
        columns=["contract_id", "account_id", "start_date", "end_date", "arr"],
    )
    frames["contracts"] = rows.assign(seats=10.0, plan="pro", discount_pct=0.0, auto_renew=True)
    tables = as_tables(frames)
    return tables, renewal_outcomes(tables.contracts, tables.data_end)


def scored_at_cutoff(tables) -> pd.DataFrame:
    grid = scoring_grid(tables.contracts, CUTOFF)
    terms = tables.contracts.set_index("contract_id").loc[grid["contract_id"]]
    return grid.assign(
        arr=terms["arr"].to_numpy(),
        contract_term_days=(terms["end_date"] - terms["start_date"]).dt.days.to_numpy(),
        # annual: 0.8 at its renewal; monthly: 0.9 at each renewal
        renewal_probability=np.where(grid["account_id"] == "A0", 0.8, 0.9 ** (90 / MONTH)),
    )


def test_what_renewed_follows_each_accounts_chain_of_contracts():
    tables, outcomes = world()
    events = renewal_events(scored_at_cutoff(tables), CUTOFF, CUTOFF + pd.DateOffset(months=3))
    events["renewed"] = realized_survival(events, outcomes)
    got = {(r.account_id, str(r.renewal_date.date())): r.renewed for r in events.itertuples()}
    assert got == {
        ("A0", "2024-06-01"): 1.0,  # C1 renewed into C2
        ("A1", "2024-04-01"): 1.0,  # M1 renewed
        ("A1", "2024-05-01"): 1.0,  # M2 renewed
        ("A1", "2024-06-01"): 0.0,  # M3 churned
    }


def test_what_renewed_agrees_with_the_labels_of_the_book():
    """label_rows: did C1 renew (yes); did A1 cancel within 90 days of the cutoff (yes, in June)."""
    tables, outcomes = world()
    grid = scoring_grid(tables.contracts, CUTOFF)
    labels = label_rows(grid, outcomes).set_index(grid["account_id"])["churned"]
    asked = pd.DataFrame(
        {
            "piece": [0, 1],
            "contract_id": grid["contract_id"].to_numpy(),  # C1, M1
            "renewal_date": [pd.Timestamp("2024-06-01"), CUTOFF + pd.Timedelta(days=90)],  # C1's date; the window's end
        }
    )
    assert grid["account_id"].tolist() == ["A0", "A1"]
    assert realized_survival(asked, outcomes).tolist() == (1.0 - labels[["A0", "A1"]]).tolist() == [1.0, 0.0]


def test_a_renewal_after_an_open_outcome_is_unknown():
    _, outcomes = world()
    events = pd.DataFrame(
        {
            "piece": [0, 0],
            "contract_id": ["C1", "C1"],
            "renewal_date": pd.to_datetime(["2024-06-01", "2025-06-01"]),  # C2, ending 2025-06-01, is open
        }
    )
    got = realized_survival(events, outcomes)
    assert got[0] == 1.0 and np.isnan(got[1])


def test_forecast_against_actual_at_one_cutoff_by_hand():
    tables, outcomes = world()
    month, quarter = cutoff_rows(scored_at_cutoff(tables), CUTOFF, outcomes)
    assert (month["horizon"], month["renewals"]) == ("next month", 1)  # A1 on April 1st
    assert (month["forecast"], month["actual"]) == (pytest.approx(90.0), 100.0)
    assert month["error_pct"] == pytest.approx(-0.1)
    assert (quarter["horizon"], quarter["contracts"], quarter["renewals"]) == ("next quarter", 2, 4)
    assert quarter["forecast"] == pytest.approx(800.0 + 100 * (0.9 + 0.81 + 0.729))
    assert quarter["actual"] == 1000.0 + 100.0 + 100.0
    assert (quarter["forecast_monthly_plans"], quarter["actual_monthly_plans"]) == (pytest.approx(243.9), 200.0)


def test_cutoffs_are_the_latest_months_whose_next_quarter_is_known():
    cutoffs = backtest_cutoffs(pd.Timestamp("2026-10-31"), 8, grace_days=30)
    assert [str(c.date()) for c in cutoffs] == [f"{m}-01" for m in pd.period_range("2025-12", "2026-07", freq="M")]
    # the last renewal of July-September is on 09-30, known 30 days later: 10-30
    assert backtest_cutoffs(pd.Timestamp("2026-10-30"), 1)[0] == pd.Timestamp("2026-07-01")
    assert backtest_cutoffs(pd.Timestamp("2026-10-29"), 1)[0] == pd.Timestamp("2026-06-01")


def test_a_refit_learns_only_from_outcomes_known_before_the_cutoff():
    frame = pd.DataFrame(
        {
            "row": ["known", "in grace", "open then", "edge known", "edge unknown", "observed after"],
            "as_of": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-03-01", "2024-02-01", "2024-02-02", "2024-06-01"]
            ),
            "outcome_date": pd.to_datetime(
                ["2024-04-15", "2024-05-10", "2024-07-01", "2024-05-01", "2024-05-02", "2024-09-01"]
            ),
            "churned": [0, 1, 0, 1, 0, 1],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    table = TrainingTable(frame, Catalog((Feature("x", "x", "x", "usage"),)), time_col="outcome_date")
    kept = known_at(table, pd.Timestamp("2024-06-01"), grace_days=30)
    assert kept.frame["row"].tolist() == ["known", "edge known", "observed after"]
    assert kept.time_col == "outcome_date"


class ConstantModel:
    def churn_probability(self, frame, warn=True):
        return np.full(len(frame), 0.1)


def test_the_backtest_refits_at_every_cutoff_on_the_past_only(tables):
    seen = []

    def fit(table, cutoff):
        outcome, as_of = table.frame["outcome_date"], table.frame["as_of"]
        seen.append(
            SimpleNamespace(cutoff=cutoff, ok=((outcome < cutoff - pd.Timedelta(days=30)) | (as_of >= cutoff)).all())
        )
        return ConstantModel()

    report = forecast_backtest(tables, 2, fit=fit)
    assert [s.cutoff for s in seen] == backtest_cutoffs(tables.data_end, 2)
    assert all(s.ok for s in seen)
    assert report.rows["horizon"].tolist() == ["next month", "next quarter"] * 2
    assert (report.rows["trained_through"] < report.rows["cutoff"] - pd.Timedelta(days=30)).all()
    assert report.coverage["horizon"].tolist() == ["next month", "next quarter"]
    assert (report.coverage["cutoffs"] == 2).all()


def test_the_backtest_with_real_refits_on_a_small_demo(small_demo):
    report = forecast_backtest(small_demo.tables, 1)
    rows = report.rows
    assert len(rows) == 2 and rows["forecast"].gt(0).all() and rows["actual"].gt(0).all()
    assert rows["error_pct"].abs().lt(0.5).all()
    assert (rows["trained_through"] < rows["cutoff"] - pd.Timedelta(days=30)).all()
    assert rows[["inside_80", "inside_95"]].isin([True, False]).all().all()
