"""Exploratory analysis behind notebook 01: data quality, renewal outcomes, cohort curves, signals."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from demo.simulator import ensure_demo_data
from features import explore, explore_plots
from features.build import build_training_snapshots
from features.outcomes import renewal_outcomes
from tests.conftest import as_tables, tiny_frames

D = pd.Timestamp


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- data quality


def test_data_quality_describes_every_table_of_the_contract(tables, frames):
    quality = explore.data_quality(tables).set_index("table")
    assert list(quality.index) == list(explore.DATE_COLUMNS)
    for name, frame in frames.items():
        assert quality.loc[name, "present"]
        assert quality.loc[name, "rows"] == len(frame)
        assert quality.loc[name, "accounts"] == frame["account_id"].nunique()
        assert 0 < quality.loc[name, "account_coverage"] <= 1
    assert quality.loc["accounts", "account_coverage"] == 1
    assert quality.loc["usage", "date_from"] == frames["usage"]["date"].min()
    assert "csat" in quality.loc["support_tickets", "columns_with_missing"]
    assert quality.loc["usage", "columns_with_missing"] == ""


def test_data_quality_marks_an_absent_optional_table():
    frames = tiny_frames()
    del frames["nps"]
    quality = explore.data_quality(as_tables(frames)).set_index("table")
    assert not quality.loc["nps", "present"]
    assert pd.isna(quality.loc["nps", "rows"])
    assert quality.loc["usage", "present"]


def test_column_missing_counts_empty_values(tables, frames):
    missing = explore.column_missing(tables).set_index(["table", "column"])
    tickets = frames["support_tickets"]
    assert missing.loc[("support_tickets", "csat"), "missing"] == tickets["csat"].isna().sum()
    assert missing.loc[("support_tickets", "csat"), "missing_share"] == pytest.approx(tickets["csat"].isna().mean())
    assert missing.loc[("accounts", "account_id"), "missing"] == 0


def test_rows_per_month_adds_up_to_each_table_and_has_no_gaps(tables, frames):
    counts = explore.rows_per_month(tables)
    assert "accounts" not in counts.columns
    assert counts["usage"].sum() == len(frames["usage"])
    assert counts["support_tickets"].sum() == len(frames["support_tickets"])
    months = pd.Series(counts.index)
    assert (months.diff().dropna() <= pd.Timedelta(days=31)).all()


# --------------------------------------------------------------------------- renewal outcomes


def _outcomes(rows):
    columns = ["contract_id", "account_id", "end_date", "arr", "outcome", "renewed_arr"]
    return pd.DataFrame(rows, columns=columns)


def test_renewal_rate_and_gross_and_net_arr_retention():
    outcomes = _outcomes(
        [
            ("C1", "A", D("2025-02-01"), 100.0, "renewed", 120.0),  # expansion: gross counts 100, net 120
            ("C2", "B", D("2025-03-01"), 50.0, "churned", 0.0),
            ("C3", "C", D("2025-03-15"), 100.0, "renewed", 80.0),  # contraction
            ("C4", "C", D("2025-05-01"), 70.0, "renewed", 70.0),  # next quarter
            ("C5", "A", D("2025-03-20"), 999.0, "open", np.nan),  # open: never counted
        ]
    )
    accounts = pd.DataFrame({"account_id": ["A", "B", "C"], "segment": ["smb", "smb", "enterprise"]})
    out = explore.renewals_by_period(outcomes, accounts).set_index(["period", "segment"])
    q1 = out.loc[("2025Q1", "all")]
    assert q1["contracts"] == 3 and q1["renewed"] == 2 and q1["churned"] == 1
    assert q1["renewal_rate"] == pytest.approx(2 / 3)
    assert q1["arr_up_for_renewal"] == pytest.approx(250.0)
    assert q1["gross_arr_retention"] == pytest.approx((100 + 0 + 80) / 250)
    assert q1["net_arr_retention"] == pytest.approx((120 + 0 + 80) / 250)
    smb = out.loc[("2025Q1", "smb")]
    assert smb["renewal_rate"] == pytest.approx(0.5)
    assert smb["net_arr_retention"] == pytest.approx(120 / 150)
    assert out.loc[("2025Q2", "enterprise"), "gross_arr_retention"] == pytest.approx(1.0)
    assert ("2025Q2", "smb") not in out.index


def test_renewals_by_period_on_real_outcomes_are_shares(tables):
    outcomes = renewal_outcomes(tables.contracts, tables.data_end)
    out = explore.renewals_by_period(outcomes, tables.accounts, freq="Y")
    labelled = outcomes[outcomes["outcome"] != "open"]
    assert out.loc[out["segment"] == "all", "contracts"].sum() == len(labelled)
    assert out["renewal_rate"].between(0, 1).all()
    assert (out["gross_arr_retention"].dropna() <= 1 + 1e-12).all()
    assert (out["net_arr_retention"].dropna() >= out["gross_arr_retention"].dropna() - 1).all()


# --------------------------------------------------------------------------- cohorts


def _cohort_world():
    """Two accounts signed up on 2024-01-01: A churns after a year, B renews after a 14-day gap and stays."""
    accounts = pd.DataFrame(
        {
            "account_id": ["A", "B", "OLD"],
            "segment": ["smb", "smb", "smb"],
            "created_at": [D("2024-01-01"), D("2024-01-01"), D("2021-01-01")],
        }
    )
    contracts = pd.DataFrame(
        {
            "contract_id": ["A1", "B1", "B2", "OLD1"],
            "account_id": ["A", "B", "B", "OLD"],
            "start_date": [D("2024-01-01"), D("2024-01-01"), D("2025-01-15"), D("2023-06-01")],
            "end_date": [D("2025-01-01"), D("2025-01-01"), D("2026-01-15"), D("2025-06-01")],
            "arr": [100.0, 100.0, 100.0, 100.0],
        }
    )
    days = pd.date_range("2024-01-01", "2025-06-30")
    usage = pd.DataFrame(
        {"account_id": "B", "date": days, "metric": "active_users", "value": 1.0},
    )
    return as_tables({"accounts": accounts, "contracts": contracts, "usage": usage})


def test_cohort_retention_follows_contracts_through_renewal_gaps():
    tables = _cohort_world()
    outcomes = renewal_outcomes(tables.contracts, tables.data_end)
    curves = explore.cohort_retention(tables, outcomes)
    assert set(curves["cohort"]) == {"2024"}  # OLD signed up before the data starts: left out
    curve = curves.set_index("months_since_signup")
    # 2024-01-01 to 2025-06-30 is 546 days: months 0..17 are observable
    assert curve.index.max() == 17
    assert (curve["accounts"] == 2).all()
    # A's contract ends on day 366, after month 12 (day 365.25): both retained through month 12
    assert (curve.loc[0:12, "retention"] == 1.0).all()
    # B's 14-day gap before its renewal does not count as churn
    assert (curve.loc[13:17, "retention"] == 0.5).all()


def test_cohort_retention_is_a_share_on_real_data(tables):
    outcomes = renewal_outcomes(tables.contracts, tables.data_end)
    curves = explore.cohort_retention(tables, outcomes, freq="Q", since=D("2023-01-01"))
    assert len(curves)
    assert curves["retention"].between(0, 1).all()
    assert (curves["retained"] <= curves["accounts"]).all()


def test_cohort_retention_with_no_new_accounts_is_empty():
    tables = _cohort_world()
    outcomes = renewal_outcomes(tables.contracts, tables.data_end)
    curves = explore.cohort_retention(tables, outcomes, since=D("2030-01-01"))
    assert curves.empty and list(curves.columns) == [
        "cohort",
        "months_since_signup",
        "accounts",
        "retained",
        "retention",
    ]


# --------------------------------------------------------------------------- signals


def _signal_frame():
    return pd.DataFrame(
        {
            "contract_id": ["C1", "C1", "C2", "C2", "C3", "C4"],
            "horizon_days": [90, 30, 90, 30, 90, 90],
            "churned": [0, 0, 1, 1, 0, 1],
            "x": [1.0, 3.0, 5.0, np.nan, 3.0, 7.0],
            "y": [0.0, 0.0, 1.0, 2.0, 0.0, 4.0],
        }
    )


def test_signal_comparison_splits_renewed_and_churned():
    frame = _signal_frame()
    frame = frame[frame["horizon_days"] == 90]
    out = explore.signal_comparison(frame, ["x", "y"]).set_index(["signal", "outcome"])
    assert list(out.index.get_level_values(0).unique()) == ["x", "y"]
    assert out.loc[("x", "renewed"), "median"] == 2.0
    assert out.loc[("x", "churned"), "median"] == 6.0
    assert out.loc[("x", "churned"), "contracts"] == 2
    assert out.loc[("y", "churned"), "mean"] == 2.5


def test_signal_comparison_counts_missing_values():
    out = explore.signal_comparison(_signal_frame(), ["x"]).set_index("outcome")
    assert out.loc["churned", "missing_share"] == pytest.approx(1 / 3)
    assert out.loc["renewed", "missing_share"] == 0.0


def test_signal_trajectories_keep_contracts_seen_at_every_horizon():
    out = explore.signal_trajectories(_signal_frame(), ["x"])
    # C3 and C4 were only observed at 90 days: left out, so the 90-day medians are C1's and C2's
    renewed = out[out["outcome"] == "renewed"].set_index("days_before_renewal")
    assert renewed.loc[90, "median"] == 1.0 and renewed.loc[30, "median"] == 3.0
    churned = out[out["outcome"] == "churned"].set_index("days_before_renewal")
    assert churned.loc[90, "median"] == 5.0
    assert churned.loc[30, "contracts"] == 0  # its only value is missing
    assert list(out["days_before_renewal"][:2]) == [90, 30]  # towards the renewal


def test_unknown_signal_is_a_clear_error():
    with pytest.raises(KeyError, match="not_a_feature"):
        explore.signal_comparison(_signal_frame(), ["not_a_feature"])


def test_main_signals_keeps_those_the_snapshots_have():
    frame = pd.DataFrame(columns=["seat_utilization_30d", "nps_last_score", "other"])
    assert explore.main_signals(frame) == ["seat_utilization_30d", "nps_last_score"]


# --------------------------------------------------------------------------- demo data and plots


def test_ensure_demo_data_generates_only_into_a_missing_or_empty_directory(tmp_path):
    target = tmp_path / "demo"
    assert ensure_demo_data(target, accounts=20, years=1)
    assert (target / "accounts.parquet").exists()
    assert not ensure_demo_data(target, accounts=20, years=1)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "accounts.csv").write_text("account_id\n")
    assert not ensure_demo_data(other)
    assert sorted(p.name for p in other.iterdir()) == ["accounts.csv"]


def test_every_exploration_runs_on_the_demo_world_and_draws(small_demo):
    tables = small_demo.tables
    outcomes = small_demo.snapshots.outcomes
    snapshots = build_training_snapshots(tables, horizons=(30, 90, 180), jitter=0)
    signals = explore.main_signals(snapshots.frame)
    assert signals == list(explore.MAIN_SIGNALS)
    figures = [
        explore_plots.plot_rows_per_month(explore.rows_per_month(tables)),
        explore_plots.plot_renewals_by_period(explore.renewals_by_period(outcomes, tables.accounts)),
        explore_plots.plot_cohort_retention(explore.cohort_retention(tables, outcomes)),
        explore_plots.plot_signal_comparison(snapshots.frame, signals, snapshots.catalog),
        explore_plots.plot_signal_trajectories(explore.signal_trajectories(snapshots.frame), snapshots.catalog),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        titled = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
        assert titled, "every plot has a title"
        assert all(ax.get_xlabel() or ax.get_xticklabels() for ax in titled)
    comparison = figures[3]
    assert comparison.axes[1].get_title() == small_demo.snapshots.catalog["seat_utilization_30d"].label
