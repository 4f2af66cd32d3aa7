"""What changed: only true reasons, in the right direction, in the catalog's own words.

Most tests build the two attributions by hand, so every share of the change is known exactly:
risk goes from 23% to 41% while the raw score rises by 1.0, so a feature whose contribution
rose by 0.5 accounts for exactly 9 of the 18 points.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from explain.change import (
    CLOCK_TOLERANCE_DAYS,
    change_points,
    change_summary,
    describe_changes,
    explain_change,
    movement_phrase,
)
from explain.playbook import Playbook
from explain.reasons import Explainer, attribute
from features.catalog import Catalog, Feature, build_catalog

NAN = float("nan")

CATALOG = Catalog(
    (
        Feature(
            "usage_logins_mean_30d",
            "Average daily logins over the last 30 days",
            "logins per day",
            "usage",
            label="daily logins (30-day average)",
            concept="usage_logins_level",
        ),
        Feature(
            "usage_logins_mean_7d",
            "Average daily logins over the last 7 days",
            "logins per day",
            "usage",
            label="daily logins (7-day average)",
            concept="usage_logins_level",
        ),
        Feature(
            "usage_logins_trend_30d",
            "Change in average daily logins",
            "fraction",
            "usage",
            label="logins trend over 30 days",
            missing="Too little logins history to measure a 30-day trend",
            concept="usage_logins_trend",
        ),
        Feature(
            "tickets_urgent_30d",
            "Urgent tickets opened in the last 30 days",
            "tickets",
            "support",
            label="urgent-priority tickets (30 days)",
        ),
        Feature(
            "median_resolution_days_90d",
            "Median days to resolve tickets closed in the last 90 days",
            "days",
            "support",
            label="median time to resolve",
            missing="No tickets closed in the last 90 days",
        ),
        Feature(
            "csat_mean_90d",
            "Average CSAT of tickets closed in the last 90 days",
            "score 1-5",
            "support",
            label="CSAT",
            missing="No CSAT rating in the last 90 days",
        ),
        Feature(
            "days_since_qbr",
            "Days since the last business review",
            "days",
            "relationship",
            label="days since the last business review",
            missing="No business review on record",
            clock=True,
        ),
        Feature("has_champion", "1 if a champion is in place", "flag", "relationship", label="champion in place"),
        Feature(
            "days_to_renewal",
            "Days to the renewal date",
            "days",
            "commercial",
            label="days to renewal",
            role="context",
            clock=True,
        ),
        Feature("seats", "Licensed seats", "seats", "commercial", label="licensed seats", role="context"),
    )
)
NAMES = CATALOG.names

# A quiet account, then: every feature has a value.
THEN = {
    "usage_logins_mean_30d": 52.0,
    "usage_logins_mean_7d": 50.0,
    "usage_logins_trend_30d": -0.2,
    "tickets_urgent_30d": 0.0,
    "median_resolution_days_90d": 3.0,
    "csat_mean_90d": 4.5,
    "days_since_qbr": 40.0,
    "has_champion": 1.0,
    "days_to_renewal": 120.0,
    "seats": 50.0,
}


def frames(now: dict, *, days: int = 30, then: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One account's row then (2024-01-01) and ``days`` later, with ``now`` laid over ``then``."""
    before = {"account_id": "A1", "as_of": pd.Timestamp("2024-01-01"), **THEN, **(then or {})}
    after = {**before, "as_of": pd.Timestamp("2024-01-01") + pd.Timedelta(days=days), **now}
    return pd.DataFrame([before]), pd.DataFrame([after])


def attributions(
    delta: dict,
    *,
    risk=(0.23, 0.41),
    points_then: dict | None = None,
    points_now: dict | None = None,
    names: list[str] = NAMES,
):
    """Hand-made attributions: contributions all 0.1 then, moved by ``delta`` (which must add up to 1.0).

    Points are 18 times the contributions at both dates unless given (a feature's single-score
    points then and now).
    """
    assert sum(delta.values()) == pytest.approx(1.0 if risk[1] > risk[0] else -1.0)
    c_then = np.full((1, len(names)), 0.1)
    c_now = c_then + np.array([[delta.get(n, 0.0) for n in names]])

    def points(contributions, given):
        p = 18.0 * contributions
        for name, value in (given or {}).items():
            p[0, names.index(name)] = value
        return p

    def one(contributions, churn_risk, given):
        return SimpleNamespace(
            features=names,
            contributions=contributions,
            raw=contributions.sum(axis=1),
            churn_risk=np.array([churn_risk]),
            points=points(contributions, given),
        )

    return one(c_then, risk[0], points_then), one(c_now, risk[1], points_now)


def change_for(
    now: dict,
    delta: dict,
    *,
    days: int = 30,
    then: dict | None = None,
    movers: int = 3,
    catalog: Catalog = CATALOG,
    base: dict = THEN,
    reference: dict | None = None,
    **kwargs,
):
    a_then, a_now = attributions(delta, names=catalog.names, **kwargs)
    before, after = frames(now, days=days, then={**base, **(then or {})})
    before, after = before[["account_id", "as_of", *catalog.names]], after[["account_id", "as_of", *catalog.names]]
    return describe_changes(catalog, a_then, a_now, before, after, movers, reference)[0]


def by_feature(change) -> dict:
    return {m.feature: m for m in change.movers}


# 1. Only movers that moved the risk the way it moved -------------------------------------------------------------


def test_a_value_that_barely_moved_is_not_named_as_a_change():
    """Daily logins 52 to 51 is no news when renewing accounts spread over 40 (a quarter of that is 10)."""
    now, delta = (
        {"usage_logins_mean_30d": 51.0, "tickets_urgent_30d": 3.0},
        {
            "usage_logins_mean_30d": 0.6,
            "tickets_urgent_30d": 0.4,
        },
    )
    reference = {"usage_logins_mean_30d": {"typical": 50.0, "spread": 40.0}}
    assert [m.feature for m in change_for(now, delta).movers] == ["usage_logins_mean_30d", "tickets_urgent_30d"]
    assert [m.feature for m in change_for(now, delta, reference=reference).movers] == ["tickets_urgent_30d"]
    far = {**now, "usage_logins_mean_30d": 30.0}
    assert "usage_logins_mean_30d" in by_feature(change_for(far, delta, reference=reference))


def test_risk_up_names_only_features_whose_points_rose_with_their_own_numbers():
    change = change_for(
        {"tickets_urgent_30d": 3.0, "usage_logins_mean_30d": 41.0, "csat_mean_90d": 3.0, "usage_logins_trend_30d": 0.1},
        {"tickets_urgent_30d": 0.5, "usage_logins_mean_30d": 0.4, "csat_mean_90d": 0.3, "usage_logins_trend_30d": -0.2},
    )
    assert change.points == pytest.approx(18.0)
    assert [m.feature for m in change.movers] == ["tickets_urgent_30d", "usage_logins_mean_30d", "csat_mean_90d"]
    assert [m.points for m in change.movers] == pytest.approx([9.0, 7.2, 5.4])
    assert change.summary == (
        "Risk up 18 points in the last 30 days (23% to 41%), mostly because "
        "urgent-priority tickets (30 days) rose from 0 to 3, daily logins (30-day average) fell from 52 to 41 "
        "and CSAT fell from 4.5 to 3"
    )
    assert "trend" not in change.summary, "the rising trend took 3.6 points off: it is no reason the risk went up"
    logins = by_feature(change)["usage_logins_mean_30d"]
    assert (logins.value_then, logins.value_now) == (52.0, 41.0)


def test_risk_down_names_only_features_whose_points_fell():
    # the same two snapshots the other way round: now the trend fell, and its points rose
    change = change_for(
        {
            "tickets_urgent_30d": 0.0,
            "usage_logins_mean_30d": 52.0,
            "csat_mean_90d": 4.5,
            "usage_logins_trend_30d": -0.2,
        },
        {
            "tickets_urgent_30d": -0.5,
            "usage_logins_mean_30d": -0.4,
            "csat_mean_90d": -0.3,
            "usage_logins_trend_30d": 0.2,
        },
        then={
            "tickets_urgent_30d": 3.0,
            "usage_logins_mean_30d": 41.0,
            "csat_mean_90d": 3.0,
            "usage_logins_trend_30d": 0.1,
        },
        risk=(0.41, 0.23),
    )
    assert change.points == pytest.approx(-18.0)
    assert [m.points for m in change.movers] == pytest.approx([-9.0, -7.2, -5.4])
    assert change.summary == (
        "Risk down 18 points in the last 30 days (41% to 23%), mostly because "
        "urgent-priority tickets (30 days) fell from 3 to 0, daily logins (30-day average) rose from 41 to 52 "
        "and CSAT rose from 3 to 4.5"
    )


def test_a_rising_trend_whose_points_fell_is_no_reason_the_risk_went_up():
    # its share of the change is the largest (+0.6 of the raw score), but on the two pages its points fell 4 -> 2
    change = change_for(
        {"usage_logins_trend_30d": 0.1, "tickets_urgent_30d": 2.0},
        {"usage_logins_trend_30d": 0.6, "tickets_urgent_30d": 0.4},
        points_then={"usage_logins_trend_30d": 4.0},
        points_now={"usage_logins_trend_30d": 2.0},
    )
    assert [m.feature for m in change.movers] == ["tickets_urgent_30d"]
    assert change.summary == (
        "Risk up 18 points in the last 30 days (23% to 41%), "
        "partly because urgent-priority tickets (30 days) rose from 0 to 2"
    )


def test_a_contribution_that_fell_is_no_reason_the_risk_went_up_even_if_its_page_points_rose():
    # the trend's contribution fell (-0.2 of the raw score) though its single-score points rose 1 -> 3
    change = change_for(
        {"usage_logins_trend_30d": 0.1, "tickets_urgent_30d": 2.0},
        {"usage_logins_trend_30d": -0.2, "tickets_urgent_30d": 1.2},
        points_then={"usage_logins_trend_30d": 1.0},
        points_now={"usage_logins_trend_30d": 3.0},
    )
    assert [m.feature for m in change.movers] == ["tickets_urgent_30d"]
    assert [m.points for m in change.movers] == pytest.approx([21.6])


def test_mostly_needs_half_of_the_change_else_partly():
    # tickets account for 5.4 of 18 points; seats (context, never named) for the rest
    change = change_for({"tickets_urgent_30d": 1.0, "seats": 30.0}, {"tickets_urgent_30d": 0.3, "seats": 0.7})
    assert [m.feature for m in change.movers] == ["tickets_urgent_30d"]
    assert ", partly because urgent-priority tickets (30 days) rose from 0 to 1" in change.summary
    change = change_for({"tickets_urgent_30d": 1.0, "seats": 30.0}, {"tickets_urgent_30d": 0.5, "seats": 0.5})
    assert ", mostly because urgent-priority tickets (30 days) rose from 0 to 1" in change.summary


def test_one_fact_is_said_once_and_the_next_fact_takes_its_place():
    change = change_for(
        {"usage_logins_mean_7d": 20.0, "usage_logins_mean_30d": 41.0, "tickets_urgent_30d": 1.0, "csat_mean_90d": 4.0},
        {"usage_logins_mean_7d": 0.4, "usage_logins_mean_30d": 0.3, "tickets_urgent_30d": 0.2, "csat_mean_90d": 0.1},
    )
    assert [m.feature for m in change.movers] == ["usage_logins_mean_7d", "tickets_urgent_30d", "csat_mean_90d"]
    # the 30-day average states the same fact: its 5.4 points count towards "mostly"
    assert ", mostly because daily logins (7-day average) fell from 50 to 20, " in change.summary


def test_a_feature_whose_value_did_not_change_is_not_named():
    change = change_for({"tickets_urgent_30d": 1.0}, {"csat_mean_90d": 0.8, "tickets_urgent_30d": 0.2})
    assert [m.feature for m in change.movers] == ["tickets_urgent_30d"]


def test_tiny_shares_and_the_movers_limit():
    change = change_for(
        {"tickets_urgent_30d": 1.0, "csat_mean_90d": 4.4, "usage_logins_mean_30d": 51.0},
        {"tickets_urgent_30d": 0.99, "csat_mean_90d": 0.005, "usage_logins_mean_30d": 0.005},
    )
    assert [m.feature for m in change.movers] == ["tickets_urgent_30d"], "0.09 points is noise, not a reason"
    change = change_for(
        {"tickets_urgent_30d": 1.0, "csat_mean_90d": 4.0}, {"tickets_urgent_30d": 0.6, "csat_mean_90d": 0.4}, movers=1
    )
    assert [m.feature for m in change.movers] == ["tickets_urgent_30d"]


def test_phrases_agree_with_the_values():
    change = change_for(
        {
            "has_champion": 0.0,
            "usage_logins_trend_30d": -0.5,
            "usage_logins_mean_30d": 52.4,
            "usage_logins_mean_7d": 60.0,
        },
        {
            "has_champion": 0.8,
            "usage_logins_trend_30d": 0.2,
            "usage_logins_mean_30d": 0.1,
            "usage_logins_mean_7d": -0.1,
        },
    )
    assert [(m.phrase, m.value_then, m.value_now) for m in change.movers] == [
        ("champion in place changed from yes to no", 1.0, 0.0),
        ("logins trend over 30 days fell from \u221220% to \u221250%", -0.2, -0.5),
        ("daily logins (30-day average) moved slightly (52)", 52.0, 52.4),  # 52 and 52.4 both read "52"
    ]


# 2. Time passing is not news ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("qbr_now", [70.0, 70.0 - CLOCK_TOLERANCE_DAYS, 70.0 + CLOCK_TOLERANCE_DAYS])
def test_a_clock_that_only_ticked_is_not_named(qbr_now):
    change = change_for(
        {"days_since_qbr": qbr_now, "tickets_urgent_30d": 1.0}, {"days_since_qbr": 0.7, "tickets_urgent_30d": 0.3}
    )
    assert [m.feature for m in change.movers] == ["tickets_urgent_30d"]
    assert "business review" not in change.summary


def test_a_clock_reset_by_an_event_is_named():
    # a business review 5 days ago: the clock fell from 200 days to 5
    change = change_for(
        {"days_since_qbr": 5.0}, {"days_since_qbr": -1.0}, then={"days_since_qbr": 200.0}, risk=(0.41, 0.23)
    )
    assert change.summary == (
        "Risk down 18 points in the last 30 days (41% to 23%), mostly because "
        "days since the last business review fell from 200 days to 5 days"
    )
    # a business review 25 days ago, 5 days after the last snapshot: rose by 20, clearly less than 30
    change = change_for({"days_since_qbr": 25.0}, {"days_since_qbr": 1.0}, then={"days_since_qbr": 5.0})
    assert [m.phrase for m in change.movers] == ["days since the last business review rose from 5 days to 25 days"]


def test_a_clock_moved_at_one_date_is_named():
    # a what-if: same as_of, so no change is time passing
    change = change_for({"days_since_qbr": 200.0}, {"days_since_qbr": 1.0}, days=0)
    assert [m.phrase for m in change.movers] == ["days since the last business review rose from 40 days to 200 days"]


def test_context_is_never_named_and_time_passing_is_said_as_such():
    change = change_for(
        {"days_to_renewal": 90.0, "seats": 40.0, "days_since_qbr": 70.0},
        {"days_to_renewal": 0.6, "seats": 0.3, "days_since_qbr": 0.1},
    )
    assert change.movers == []
    assert change.summary == (
        "Risk up 18 points in the last 30 days (23% to 41%), "
        "from time passing and the contract's terms, not from a change in the account"
    )


def test_many_small_changes_when_nothing_stands_out_and_time_is_not_the_cause():
    small = {f: THEN[f] + 0.01 for f in ("usage_logins_mean_30d", "usage_logins_mean_7d", "csat_mean_90d")}
    change = change_for(
        {**small, "seats": 40.0},
        {"usage_logins_mean_30d": 0.003, "usage_logins_mean_7d": 0.003, "csat_mean_90d": 0.004, "seats": 0.99},
    )
    assert change.movers == []
    assert change.summary.endswith(", from time passing and the contract's terms, not from a change in the account")
    change = change_for(
        small,
        # the rest of the change came through interactions: features whose values did not change
        {"usage_logins_mean_30d": 0.003, "usage_logins_mean_7d": 0.003, "csat_mean_90d": 0.004, "has_champion": 0.99},
    )
    assert change.summary == "Risk up 18 points in the last 30 days (23% to 41%), from many small changes"


# 3. Missing is said as what it means --------------------------------------------------------------------------------


def test_a_window_without_events_is_said_in_the_catalogs_words():
    change = change_for(
        {"median_resolution_days_90d": NAN, "csat_mean_90d": NAN},
        {"median_resolution_days_90d": 0.6, "csat_mean_90d": 0.4},
        then={"csat_mean_90d": 4.2},
    )
    assert [m.phrase for m in change.movers] == [
        "no tickets closed in the last 90 days (median time to resolve was 3 days)",
        "no CSAT rating in the last 90 days (CSAT was 4.2)",
    ]
    assert "no longer on record" not in change.summary
    assert by_feature(change)["csat_mean_90d"].value_now is None


def test_no_longer_on_record_only_when_the_whole_group_stopped():
    support = {"tickets_urgent_30d": NAN, "median_resolution_days_90d": NAN, "csat_mean_90d": NAN}
    change = change_for(support, {"median_resolution_days_90d": 0.7, "csat_mean_90d": 0.3})
    assert [m.phrase for m in change.movers] == [
        "median time to resolve is no longer on record (was 3 days)",
        "CSAT is no longer on record (was 4.5)",
    ]
    # one support input still has a value: the support data did not stop
    change = change_for({**support, "tickets_urgent_30d": 0.0}, {"median_resolution_days_90d": 1.0})
    assert [m.phrase for m in change.movers] == [
        "no tickets closed in the last 90 days (median time to resolve was 3 days)"
    ]


def test_the_real_catalogs_support_features_say_why_their_values_went_missing():
    catalog = build_catalog(["active_users"])
    support = Catalog(tuple(catalog[n] for n in catalog.in_group("support")))
    quiet = {n: 0.0 for n in support.names} | {
        "tickets_open": 1.0,
        "oldest_open_ticket_age_days": 12.0,
        "median_resolution_days_90d": 3.0,
        "csat_mean_90d": 4.2,
    }
    # the last tickets closed over 90 days ago; the one open ticket is still open, 30 days older
    change = change_for(
        {"oldest_open_ticket_age_days": 42.0, "median_resolution_days_90d": NAN, "csat_mean_90d": NAN},
        {"oldest_open_ticket_age_days": 0.5, "median_resolution_days_90d": 0.3, "csat_mean_90d": 0.2},
        catalog=support,
        base=quiet,
    )
    assert [m.phrase for m in change.movers] == [
        "no tickets closed in the last 90 days (median time to resolve was 3 days)",
        "no CSAT rating in the last 90 days (CSAT was 4.2)",
    ]
    # the open ticket was closed, and rated well
    change = change_for(
        {"tickets_open": 0.0, "oldest_open_ticket_age_days": NAN, "csat_mean_90d": 4.8},
        {"oldest_open_ticket_age_days": -0.6, "tickets_open": -0.3, "csat_mean_90d": -0.1},
        catalog=support,
        base=quiet,
        risk=(0.41, 0.23),
    )
    assert [m.phrase for m in change.movers] == [
        "no tickets open (age of the oldest open ticket was 12 days)",  # open tickets states the same fact
        "CSAT rose from 4.2 to 4.8",
    ]


def test_a_value_that_appeared_says_what_was_there_before():
    change = change_for({"csat_mean_90d": 2.0}, {"csat_mean_90d": 1.0}, then={"csat_mean_90d": NAN})
    assert [m.phrase for m in change.movers] == ["CSAT is now 2 (before: no CSAT rating in the last 90 days)"]
    change = change_for(
        {"usage_logins_trend_30d": -0.1}, {"usage_logins_trend_30d": 1.0}, then={"usage_logins_trend_30d": NAN}
    )
    assert [m.phrase for m in change.movers] == [
        "logins trend over 30 days is now \u221210% (before: too little logins history to measure a 30-day trend)"
    ]
    empty = {"tickets_urgent_30d": NAN, "median_resolution_days_90d": NAN, "csat_mean_90d": NAN}
    change = change_for(
        {"csat_mean_90d": 2.0, "tickets_urgent_30d": 0.0, "median_resolution_days_90d": 4.0},
        {"csat_mean_90d": 1.0},
        then=empty,
    )
    assert [m.phrase for m in change.movers] == ["CSAT is now 2 (none on record before)"]


def test_movement_and_summary_wording():
    assert movement_phrase("open tickets", "0", "2", 0.0, 2.0) == "open tickets rose from 0 to 2"
    assert movement_phrase("latest NPS score", "not on record", "4 out of 10", None, 4.0) == (
        "latest NPS score is now 4 out of 10 (none on record before)"
    )
    assert movement_phrase(
        "latest NPS score", "not on record", "4 out of 10", None, 4.0, missing="No NPS response on record"
    ) == ("latest NPS score is now 4 out of 10 (before: no NPS response on record)")
    assert movement_phrase("CSAT", "4.2", "not on record", 4.2, None) == "CSAT has no value now (was 4.2)"
    assert movement_phrase("CSAT", "4.2", "not on record", 4.2, None, group_missing=True) == (
        "CSAT is no longer on record (was 4.2)"
    )
    assert movement_phrase("plan", "pro", "starter", "pro", "starter") == "plan changed from pro to starter"
    assert change_summary(0.2, 30, 0.10, 0.102, []) == "Risk about the same in the last 30 days (10%)"
    assert (
        change_summary(-12.0, 30, 0.40, 0.28, [])
        == "Risk down 12 points in the last 30 days (40% to 28%), from many small changes"
    )
    assert (
        change_summary(1.0, 1, 0.10, 0.11, [])
        == "Risk up 1 point since yesterday (10% to 11%), from many small changes"
    )


# 4. The real model ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explainer(small_demo):
    return Explainer(small_demo.bundle, Playbook.load())


@pytest.fixture(scope="module")
def pairs(small_demo):
    """Every account's consecutive training snapshots: real changes, weeks or months apart."""
    frame = small_demo.snapshots.frame.sort_values(["account_id", "as_of"]).reset_index(drop=True)
    same = frame["account_id"].eq(frame["account_id"].shift(-1)).to_numpy()
    first = np.flatnonzero(same)[:400]
    return frame.iloc[first].reset_index(drop=True), frame.iloc[first + 1].reset_index(drop=True)


def test_change_points_add_up_to_the_change_in_risk(small_demo):
    frame = small_demo.snapshots.frame
    then, now = frame.iloc[:200].reset_index(drop=True), frame.iloc[200:400].reset_index(drop=True)
    a, b = attribute(small_demo.bundle, then), attribute(small_demo.bundle, now)
    np.testing.assert_allclose(change_points(a, b).sum(axis=1), 100 * (b.churn_risk - a.churn_risk), atol=1e-9)


def test_the_feature_that_changed_is_the_mover(explainer, small_demo):
    row = small_demo.snapshots.frame.iloc[[0]].reset_index(drop=True)
    later = row.copy()
    later["as_of"] = later["as_of"] + pd.Timedelta(days=30)
    later["seat_utilization_30d"] = 0.01
    later["usage_active_users_mean_30d"] = 0.1
    later["active_users_vs_peak_7m"] = 0.05
    change = explain_change(explainer, row, later)[0]
    assert change.points == pytest.approx(100 * (change.churn_risk_now - change.churn_risk_then))
    assert change.movers, change
    changed = {"seat_utilization_30d", "usage_active_users_mean_30d", "active_users_vs_peak_7m"}
    assert {m.feature for m in change.movers} <= changed
    if change.points > 0.5:
        assert change.summary.startswith(f"Risk up {abs(change.points):.0f} point")  # "1 point", "2 points"
        assert "because" in change.summary and "fell from" in change.summary


def test_real_changes_keep_every_rule(explainer, small_demo, pairs):
    then, now = pairs
    changes = explain_change(explainer, then, now)
    a_then, a_now = attribute(small_demo.bundle, then, warn=False), attribute(small_demo.bundle, now, warn=False)
    catalog, column = explainer.catalog, {n: j for j, n in enumerate(a_now.features)}
    named = 0
    for i, change in enumerate(changes):
        sign = 1.0 if change.points >= 0 else -1.0
        elapsed = (change.as_of_now - change.as_of_then).days
        facts = [catalog[m.feature].fact for m in change.movers]
        assert len(facts) == len(set(facts)), change
        for m in change.movers:
            feature, j = catalog[m.feature], column[m.feature]
            named += 1
            assert not feature.is_context, m
            assert sign * m.points >= 0.1, m
            assert sign * (a_now.points[i, j] - a_then.points[i, j]) > 0, m
            assert m.phrase in change.summary or abs(change.points) < 0.5
            if m.value_then is not None and m.value_now is not None and not isinstance(m.value_now, str):
                step = m.value_now - m.value_then
                if feature.clock:
                    assert abs(step - elapsed) > CLOCK_TOLERANCE_DAYS, m
                if re.search(r" rose from ", m.phrase):
                    assert step > 0, m
                if re.search(r" fell from ", m.phrase):
                    assert step < 0, m
            if "no longer on record" in m.phrase:
                group = [n for n in a_now.features if catalog[n].group == feature.group]
                assert now.loc[i, group].isna().all(), m
    assert named > 50, "the pairs should name plenty of movers"


def test_a_value_that_moved_to_its_worrying_side_is_never_why_the_risk_fell():
    from explain.change import _choose
    from features.catalog import Feature

    tickets = Feature("tickets_urgent_high_term", "urgent tickets", "tickets", "support", riskier="higher")
    usage = Feature("usage_logins_mean_30d", "logins", "logins per day", "usage", riskier="lower")
    then, now = {tickets.name: 13.0, usage.name: 40.0}, {tickets.name: 15.0, usage.name: 52.0}
    share = np.array([3.0, 2.0])  # both "explain" a fall in risk by the points they moved
    moved = np.array([1.0, 1.0])
    falling = _choose([tickets, usage], share, moved, then, now, elapsed=30, k=3, direction=-1.0)
    assert falling == [1]  # usage rose (reassuring): a reason the risk fell; more urgent tickets are not
    rising = _choose([tickets, usage], share, moved, then, now, elapsed=30, k=3, direction=1.0)
    assert rising == [0]  # and the other way round when the risk rose
