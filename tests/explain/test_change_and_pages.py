"""The history behind the account and portfolio pages (what changed itself: tests/explain/test_change.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from explain.history import metric_series, monthly_dates, snapshots_at, tables_for_accounts
from explain.pages import (
    UnknownAccountError,
    account_pages,
    default_as_of,
    explain_accounts,
    portfolio,
    renewing_accounts,
)
from explain.playbook import Playbook
from explain.reasons import Explainer


@pytest.fixture(scope="module")
def explainer(small_demo):
    return Explainer(small_demo.bundle, Playbook.load())


@pytest.fixture(scope="module")
def as_of(small_demo):
    return default_as_of(small_demo.tables)


@pytest.fixture(scope="module")
def renewing(small_demo, as_of):
    return renewing_accounts(small_demo.tables, as_of, 180)


def test_snapshots_at_past_dates_are_point_in_time(small_demo, as_of, renewing):
    accounts = renewing[:5]
    dates = monthly_dates(as_of, 3)
    assert dates[-1] == as_of and dates[0] == as_of - pd.DateOffset(months=2)
    frame = snapshots_at(small_demo.tables, dates, accounts)
    assert set(frame["account_id"]) <= set(accounts) and set(frame["as_of"]) <= set(dates)
    # cutting the tables at the earliest date changes nothing about the snapshots on it
    cut = dates[0]
    t = small_demo.tables
    earlier = tables_for_accounts(t, accounts)
    earlier = type(t)(
        **{
            **earlier.__dict__,
            "usage": earlier.usage[earlier.usage["date"] < cut],
            "support_tickets": earlier.support_tickets[earlier.support_tickets["opened_at"] < cut],
        }
    )
    first = frame[frame["as_of"] == cut].reset_index(drop=True)
    again = snapshots_at(earlier, [cut], accounts).reset_index(drop=True)
    usage_columns = [c for c in first.columns if c.startswith("usage_") or c.startswith("tickets_")]
    pd.testing.assert_frame_equal(first[usage_columns], again[usage_columns])


def test_weekly_series_count_zero_weeks_and_leave_unknown_weeks_empty(small_demo, as_of, renewing):
    series = metric_series(small_demo.tables, renewing[:3], as_of, weeks=26)
    for charts in series.values():
        names = [s.name for s in charts]
        assert "usage_active_users" in names and "tickets_opened" in names and "modules_used" in names
        for chart in charts:
            assert len(chart.points) == 26 and chart.points[-1][0] < as_of.date()
    usage = small_demo.tables.usage
    account = renewing[0]
    week_start = pd.Timestamp(series[account][0].points[-1][0])
    rows = usage[(usage["account_id"] == account) & (usage["metric"] == "active_users")]
    rows = rows[(rows["date"] >= week_start) & (rows["date"] < week_start + pd.Timedelta(days=7))]
    chart = next(s for s in series[account] if s.name == "usage_active_users")
    assert chart.points[-1][1] == pytest.approx(rows["value"].sum() / 7)


def test_explain_accounts_with_compare(explainer, small_demo, as_of, renewing):
    explanations = explain_accounts(explainer, small_demo.tables, renewing[:4], as_of, compare_days=30)
    assert [e.account_id for e in explanations] == renewing[:4]
    for e in explanations:
        assert e.as_of == as_of.date() and e.plays is not None
        if e.change is not None:
            assert (e.change.as_of_now - e.change.as_of_then).days == 30
            assert e.change.churn_risk_now == pytest.approx(e.churn_risk)


def test_unknown_account_is_a_clear_error(explainer, small_demo, as_of):
    with pytest.raises(UnknownAccountError, match=r"no contract in force on .* NOPE"):
        explain_accounts(explainer, small_demo.tables, ["NOPE"], as_of)


def test_account_page_has_six_monthly_points_and_weekly_metrics(explainer, small_demo, as_of, renewing):
    pages = account_pages(explainer, small_demo.tables, renewing[:2], as_of)
    page = pages[renewing[0]]
    assert 1 <= len(page.trend) <= 6 and page.trend[-1].as_of == as_of.date()
    assert page.trend[-1].churn_risk == pytest.approx(page.explanation.churn_risk)
    assert page.series and page.explanation.features
    assert page.bands == explainer.bands


def test_portfolio_lists_renewals_in_the_horizon_by_arr_at_risk(explainer, small_demo, as_of):
    book, pages = portfolio(explainer, small_demo.tables, as_of, horizon_days=120, top=15)
    assert len(book.rows) == len(pages) <= 15
    assert all(r.days_to_renewal <= 120 for r in book.rows)
    at_risk = [r.arr_at_risk for r in book.rows]
    assert at_risk == sorted(at_risk, reverse=True)
    everyone, _ = portfolio(explainer, small_demo.tables, as_of, horizon_days=120)
    assert [r.account_id for r in book.rows] == [r.account_id for r in everyone.rows][:15]
    assert len(everyone.rows) > 15 and everyone.shows_all and not book.shows_all
    # the totals are the whole renewing book's, not the 15 rows shown
    assert book.totals.accounts == len(everyone.rows)
    assert book.arr_at_risk_total == pytest.approx(sum(r.arr_at_risk for r in everyone.rows))
    assert book.arr_total == pytest.approx(sum(r.arr or 0.0 for r in everyone.rows))
    assert book.totals.bands == {b: sum(r.risk_band == b for r in everyone.rows) for b in ("high", "medium", "low")}
    assert everyone.totals == everyone.totals.of_rows(everyone.rows)
