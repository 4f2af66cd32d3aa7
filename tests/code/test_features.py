"""Feature values checked by hand on a world small enough to count on your fingers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features, build_scoring_snapshots, build_training_snapshots
from features.catalog import DRIVER_GROUPS
from features.load import load_tables
from features.snapshots import GRID_COLUMNS, LABEL_COLUMNS
from tests.conftest import as_tables, write_frames

AS_OF = pd.Timestamp("2024-03-01")


def crafted_frames() -> dict[str, pd.DataFrame]:
    """Account A: 10 seats, 4 active users on weekdays since 2023, 2 in the last 30 days. B joined 10 days ago."""
    days = pd.date_range("2023-01-01", "2024-06-30")
    weekdays = days[days.day_of_week < 5]
    recent = weekdays >= AS_OF - pd.Timedelta(days=30)
    usage_a = pd.DataFrame(
        {"account_id": "A", "date": weekdays, "metric": "active_users", "value": np.where(recent, 2.0, 4.0)}
    )
    modules = pd.DataFrame(
        {
            "account_id": "A",
            "date": [AS_OF - pd.Timedelta(days=d) for d in (1, 5, 40, 45)],
            "metric": ["feature.reports", "feature.api", "feature.reports", "feature.mobile"],
            "value": 1.0,
        }
    )
    usage_b = pd.DataFrame(
        {
            "account_id": "B",
            "date": pd.date_range(AS_OF - pd.Timedelta(days=10), periods=5),
            "metric": "active_users",
            "value": 3.0,
        }
    )
    return {
        "accounts": pd.DataFrame(
            {
                "account_id": ["A", "B"],
                "name": ["Acme", "Beta"],
                "segment": ["smb", "enterprise"],
                "industry": ["software", None],
                "region": ["na", "emea"],
                "created_at": [pd.Timestamp("2023-01-01"), AS_OF - pd.Timedelta(days=10)],
            }
        ),
        "contracts": pd.DataFrame(
            {
                "contract_id": ["A-1", "A-2", "B-1"],
                "account_id": ["A", "A", "B"],
                "start_date": pd.to_datetime(["2023-01-01", "2024-01-01", str((AS_OF - pd.Timedelta(days=10)).date())]),
                "end_date": pd.to_datetime(["2024-01-01", "2025-01-01", "2025-02-19"]),
                "arr": [1000.0, 1500.0, 90000.0],
                "seats": [10.0, 10.0, 100.0],
                "plan": ["pro", "pro", "enterprise"],
                "discount_pct": [0.2, 0.0, 0.1],
                "auto_renew": [True, False, None],
            }
        ),
        "usage": pd.concat([usage_a, modules, usage_b], ignore_index=True),
        "support_tickets": pd.DataFrame(
            {
                "ticket_id": ["T1", "T2", "T3", "T4"],
                "account_id": "A",
                "opened_at": pd.to_datetime(
                    ["2024-02-01 09:00", "2024-02-10 12:00", "2024-02-20", "2024-02-25"], format="ISO8601"
                ),
                "closed_at": pd.to_datetime(["2024-02-03 09:00", "2024-03-05", None, "2024-02-26"], format="ISO8601"),
                "priority": ["normal", "urgent", "high", "low"],
                "csat": [4.0, 1.0, None, 2.0],
                "escalated": [False, True, None, False],
            }
        ),
        "nps": pd.DataFrame(
            {
                "account_id": "A",
                "responded_at": pd.to_datetime(["2023-09-15", "2024-02-15", "2024-03-15"]),
                "score": [9.0, 4.0, 0.0],
            }
        ),
        "relationship_events": pd.DataFrame(
            {
                "account_id": "A",
                "date": pd.to_datetime(["2023-01-05", "2023-12-01", "2024-01-10", "2024-03-10"]),
                "event": ["champion_added", "champion_left", "qbr_held", "champion_added"],
            }
        ),
        "invoices": pd.DataFrame(
            {
                "account_id": "A",
                "invoice_id": ["I1", "I2", "I3"],
                "due_date": pd.to_datetime(["2024-01-15", "2024-02-15", "2024-03-15"]),
                "paid_at": pd.to_datetime(["2024-01-10", "2024-03-10", None]),  # I2 paid after as_of: overdue at as_of
                "amount": 500.0,
                "status": ["paid", "paid", "overdue"],
            }
        ),
    }


@pytest.fixture(scope="module")
def snapshot() -> pd.DataFrame:
    result = build_scoring_snapshots(as_tables(crafted_frames()), AS_OF)
    return result.frame.set_index("account_id")


def test_usage_levels_trends_and_recency(snapshot):
    a = snapshot.loc["A"]
    # The 30 days before 2024-03-01 (Jan 31 .. Feb 29) hold 22 weekdays at 2 users;
    # the 30 before them (Jan 1 .. Jan 30) hold 22 weekdays at 4 users.
    assert a["usage_active_users_mean_30d"] == pytest.approx(22 * 2 / 30)
    assert a["usage_active_users_trend_30d"] == pytest.approx(-0.5)
    assert a["usage_active_users_days_since_last"] == 1.0  # Thursday 29 Feb
    assert a["usage_active_users_active_day_share_30d"] == pytest.approx(22 / 30)
    assert a["seat_utilization_30d"] == pytest.approx(22 * 2 / 30 / 10)


def test_new_account_is_averaged_over_the_days_it_existed(snapshot):
    b = snapshot.loc["B"]
    assert b["usage_active_users_mean_30d"] == pytest.approx(5 * 3 / 10)
    assert np.isnan(b["usage_active_users_trend_30d"])  # nothing observable in the 30 days before


def test_module_breadth_counts_modules_not_events(snapshot):
    a = snapshot.loc["A"]
    assert a["modules_used_30d"] == 2  # reports and api
    assert a["modules_used_change_30d"] == 0  # reports and mobile in the 30 days before


def test_support_reads_tickets_as_they_stood(snapshot):
    a = snapshot.loc["A"]
    assert a["tickets_open"] == 2  # T2 closes after as_of, T3 never closed
    assert a["oldest_open_ticket_age_days"] == pytest.approx(19.5)  # T2 opened Feb 10 at noon
    assert a["urgent_high_open_over_14d"] == 1  # T2 (urgent, 19.5 days); T3 is 10 days old
    assert a["tickets_urgent_30d"] == 1
    assert a["tickets_normal_30d"] == 1
    assert a["median_resolution_days_90d"] == pytest.approx(1.5)  # T1: 2 days, T4: 1 day
    assert a["csat_mean_90d"] == pytest.approx(3.0)  # T1 and T4 only: T2's rating came after as_of
    assert a["escalations_90d"] == 0  # T2's escalation is only known once it closed


def test_relationship_state_before_as_of(snapshot):
    a = snapshot.loc["A"]
    assert a["nps_last_score"] == 4.0
    assert a["nps_change"] == -5.0
    assert a["days_since_nps_response"] == 15.0
    assert a["days_since_champion_left"] == 91.0
    assert a["has_champion"] == 0.0  # the new champion arrives after as_of
    assert np.isnan(a["exec_sponsor_present"])  # unknown, not "no"
    assert a["days_since_qbr"] == 51.0
    assert a["qbrs_365d"] == 1.0


def test_commercial_changes_at_last_renewal(snapshot):
    a = snapshot.loc["A"]
    assert a["arr"] == 1500.0
    assert a["prior_renewals"] == 1
    assert a["arr_change_at_last_renewal"] == pytest.approx(0.5)
    assert a["price_per_seat_change_at_last_renewal"] == pytest.approx(0.5)
    assert a["discount_change_at_last_renewal"] == pytest.approx(-0.2)
    assert a["price_per_seat_change_12m"] == pytest.approx(0.5)  # vs A-1, in force on 2023-03-02
    assert a["discount_change_12m"] == pytest.approx(-0.2)
    assert np.isnan(snapshot.loc["B", "price_per_seat_change_12m"])  # no contract a year ago
    assert a["auto_renew"] == 0.0
    assert a["days_to_renewal"] == 306.0
    assert a["tenure_days"] == 425.0
    assert snapshot.loc["B", "plan"] == "enterprise"
    assert pd.isna(snapshot.loc["B", "industry"])
    assert np.isnan(snapshot.loc["B", "auto_renew"])


def test_billing_is_point_in_time(snapshot):
    a = snapshot.loc["A"]
    assert a["overdue_invoices_open"] == 1  # I2: due Feb 15, paid only on Mar 10
    assert a["failed_or_late_invoices_90d"] == 1
    assert a["days_late_mean_90d"] == pytest.approx((0 + 15) / 2)


def test_absent_optional_tables_give_missing_features_not_zero():
    frames = crafted_frames()
    for name in ("support_tickets", "nps", "relationship_events", "invoices"):
        frames.pop(name)
    result = build_scoring_snapshots(as_tables(frames), AS_OF)
    a = result.frame.set_index("account_id").loc["A"]
    for name in ("tickets_open", "nps_last_score", "has_champion", "qbrs_365d", "overdue_invoices_open"):
        assert np.isnan(a[name]), name
    assert result.summary()["missing_tables"] == ["support_tickets", "nps", "relationship_events", "invoices"]


def test_every_column_is_in_the_catalog_and_every_catalog_entry_is_a_column(tables):
    result = build_training_snapshots(tables)
    feature_columns = [c for c in result.frame.columns if c not in (*GRID_COLUMNS, *LABEL_COLUMNS)]
    assert feature_columns == result.catalog.names
    assert len(set(result.catalog.names)) == len(result.catalog)
    assert {f.group for f in result.catalog} == set(DRIVER_GROUPS)
    assert all(f.description and f.unit for f in result.catalog)


def test_partitions_in_parallel_give_the_same_frame_as_one_process(frames, tmp_path):
    """Through the real loader (categorical keys), with a metric only one account ever used."""
    frames = dict(frames)
    usage = frames["usage"]
    rare = usage[(usage["account_id"] == "A0") & (usage["metric"] == "active_users")].head(20).assign(metric="exports")
    frames["usage"] = pd.concat([frames["usage"], rare], ignore_index=True)
    tables = load_tables(write_frames(frames, tmp_path / "data", fmt="parquet"))
    assert isinstance(tables.usage["account_id"].dtype, pd.CategoricalDtype)
    one = build_training_snapshots(tables).frame
    many = build_training_snapshots(tables, workers=2, partitions=3).frame
    assert (one["usage_exports_mean_90d"] == 0).any()  # accounts that never used it: zero, not missing
    pd.testing.assert_frame_equal(one, many)


def test_metric_names_that_differ_only_in_spelling_are_summed_per_day():
    grid = pd.DataFrame(
        {
            "account_id": ["A"],
            "contract_id": ["A-1"],
            "as_of": [pd.Timestamp("2023-01-10")],
            "renewal_date": [pd.Timestamp("2024-01-01")],
            "horizon_days": [90],
        }
    )
    frames = crafted_frames()
    baseline, _ = build_features(as_tables(frames), grid)
    extra = frames["usage"][frames["usage"]["metric"] == "active_users"].head(3).assign(metric="Active Users")
    frames["usage"] = pd.concat([frames["usage"], extra], ignore_index=True)
    frame, catalog = build_features(as_tables(frames), grid)
    assert catalog.names.count("usage_active_users_mean_7d") == 1
    share = "usage_active_users_active_day_share_30d"
    assert frame.loc[0, share] == baseline.loc[0, share]  # the same days, counted once
    assert frame.loc[0, "usage_active_users_mean_7d"] > baseline.loc[0, "usage_active_users_mean_7d"]


def test_contract_term_features_read_the_term_so_far(snapshot):
    """A's term began on 2024-01-01 (contract A-2): only what happened from then until as_of counts."""
    a = snapshot.loc["A"]
    assert a["tickets_urgent_high_term"] == 2  # T2 (urgent) and T3 (high); T3 is still open
    assert a["escalations_term"] == 0  # T2's escalation is known only once it closed, after as_of
    assert a["csat_mean_term"] == pytest.approx(3.0)  # T1 and T4, closed before as_of
    assert a["failed_or_late_invoices_term"] == 1  # I2 unpaid on as_of; I3 not yet due
    assert a["nps_mean_term"] == 4.0  # the 2023 answer is the previous term's, the March one is later
    # Jan 1 .. Feb 29: 22 weekdays at 4 users (to Jan 30), 22 at 2; the year before: 260 weekdays at 4,
    # over the 364 days observed (the usage export begins on Monday 2023-01-02).
    term, year_before = (22 * 4 + 22 * 2) / 60, 4 * 260 / 364
    assert a["active_users_term_vs_previous_term"] == pytest.approx(term / year_before - 1)
    # The term is 60 days old: its opening is the term so far; its first 30 days all at 4 users.
    assert a["active_users_30d_vs_term_opening"] == pytest.approx((22 * 2 / 30) / term - 1)
    assert a["seat_utilization_change_term"] == pytest.approx((22 * 2 / 30 - 22 * 4 / 30) / 10)
    b = snapshot.loc["B"]
    assert np.isnan(b["active_users_term_vs_previous_term"])  # the account did not exist the year before
    assert b["tickets_urgent_high_term"] == 0 and np.isnan(b["nps_mean_term"])


def test_contract_term_features_go_missing_without_their_tables():
    frames = crafted_frames()
    for name in ("support_tickets", "nps", "invoices"):
        frames.pop(name)
    a = build_scoring_snapshots(as_tables(frames), AS_OF).frame.set_index("account_id").loc["A"]
    for name in ("tickets_urgent_high_term", "escalations_term", "csat_mean_term", "nps_mean_term"):
        assert np.isnan(a[name]), name
    assert np.isnan(a["failed_or_late_invoices_term"])
