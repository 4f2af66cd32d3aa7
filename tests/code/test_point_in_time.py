"""No leakage: nothing dated on or after as_of may change a snapshot's features.

Hypothesis picks a snapshot, a table and a row dated on or after the snapshot's as_of, then
changes, deletes or adds such a row (or moves a later fact, like a close date, to another
later date). The features of that snapshot must come out identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import build_features, build_training_snapshots
from tests.conftest import as_tables, tiny_frames

FRAMES = tiny_frames(seed=3)
TABLES = as_tables(FRAMES)
GRID = build_training_snapshots(TABLES).frame[["account_id", "contract_id", "as_of", "renewal_date", "horizon_days"]]

# For each table: the column that dates a row. Contracts are dated by their start.
DATED_BY = {
    "contracts": "start_date",
    "usage": "date",
    "support_tickets": "opened_at",
    "nps": "responded_at",
    "relationship_events": "date",
    "invoices": "due_date",
}


def features_of(frames: dict[str, pd.DataFrame], grid_row: pd.DataFrame) -> pd.DataFrame:
    frame, _ = build_features(as_tables(frames), grid_row)
    return frame


def _later(as_of: pd.Timestamp, draw, days: int = 400, whole_day: bool = False) -> pd.Timestamp:
    hours = 0 if whole_day else draw(st.integers(0, 23))
    return as_of + pd.Timedelta(days=draw(st.integers(0, days)), hours=hours)


@st.composite
def future_edit(draw):
    """A copy of the frames with one row dated on/after as_of changed, deleted or added, and the grid row."""
    row = GRID.iloc[[draw(st.integers(0, len(GRID) - 1))]].reset_index(drop=True)
    account, as_of = row.at[0, "account_id"], row.at[0, "as_of"]
    frames = {name: frame.copy() for name, frame in FRAMES.items()}
    table = draw(st.sampled_from(sorted(DATED_BY)))
    frame = frames[table]
    dated = pd.to_datetime(frame[DATED_BY[table]])
    candidates = np.flatnonzero((dated >= as_of).to_numpy())
    action = draw(st.sampled_from(["change", "delete", "add"] if len(candidates) else ["add"]))
    if action == "add":
        template = frame[frame["account_id"] == account]
        new = (template if len(template) else frame).iloc[[0]].copy()
        new["account_id"] = account
        new[DATED_BY[table]] = _later(as_of, draw, whole_day=table == "usage")
        for id_column in ("contract_id", "ticket_id", "invoice_id"):
            if id_column in new:
                new[id_column] = "NEW-ROW"
        if table == "support_tickets":
            new["closed_at"] = pd.NaT
        if table == "contracts":
            new["end_date"] = new["start_date"] + pd.Timedelta(days=draw(st.integers(1, 800)))
        frames[table] = pd.concat([frame, new], ignore_index=True)
    else:
        position = candidates[draw(st.integers(0, len(candidates) - 1))]
        if table == "contracts" and frame.iloc[position]["contract_id"] == row.at[0, "contract_id"]:
            return frames, row  # the snapshot's own contract is part of the grid, not of the history
        if action == "delete":
            frames[table] = frame.drop(index=frame.index[position]).reset_index(drop=True)
        else:
            frames[table] = _change_row(frame, position, as_of, table, draw)
    frames.update(_move_later_facts(frames, account, as_of, draw))
    # An edit may land two usage rows on the same later day; keep the data valid (both are after as_of).
    frames["usage"] = frames["usage"].drop_duplicates(["account_id", "date", "metric"], keep="last")
    return frames, row


def _change_row(frame: pd.DataFrame, position: int, as_of: pd.Timestamp, table: str, draw) -> pd.DataFrame:
    frame = frame.copy()
    index = frame.index[position]
    frame.loc[index, DATED_BY[table]] = _later(as_of, draw, whole_day=table == "usage")
    if table == "usage":
        frame.loc[index, "value"] = float(draw(st.integers(0, 1000)))
    elif table == "nps":
        frame.loc[index, "score"] = float(draw(st.integers(0, 10)))
    elif table == "support_tickets":
        frame.loc[index, "priority"] = draw(st.sampled_from(["low", "normal", "high", "urgent"]))
        frame.loc[index, "closed_at"] = pd.NaT
    elif table == "contracts":
        frame.loc[index, "arr"] = float(draw(st.integers(0, 10**6)))
        frame.loc[index, "end_date"] = frame.loc[index, "start_date"] + pd.Timedelta(days=draw(st.integers(1, 800)))
    elif table == "relationship_events":
        frame.loc[index, "event"] = draw(st.sampled_from(["champion_left", "champion_added", "qbr_held"]))
    return frame


def _move_later_facts(frames, account, as_of, draw) -> dict[str, pd.DataFrame]:
    """Facts recorded later about earlier rows: a ticket's close, CSAT and escalation, an invoice's payment."""
    tickets = frames["support_tickets"].copy()
    open_then = (tickets["account_id"] == account) & (pd.to_datetime(tickets["opened_at"]) < as_of)
    open_then &= ~(pd.to_datetime(tickets["closed_at"]) < as_of)
    if open_then.any():
        closed = _later(as_of, draw)
        tickets.loc[open_then, "closed_at"] = closed if draw(st.booleans()) else pd.NaT
        tickets.loc[open_then, "csat"] = float(draw(st.integers(1, 5)))
        tickets.loc[open_then, "escalated"] = draw(st.booleans())
    invoices = frames["invoices"].copy()
    unpaid_then = (invoices["account_id"] == account) & ~(pd.to_datetime(invoices["paid_at"]) < as_of)
    unpaid_then &= invoices["status"] != "failed"
    if unpaid_then.any():
        invoices.loc[unpaid_then, "paid_at"] = _later(as_of, draw)
        invoices.loc[unpaid_then, "status"] = "paid"
    return {"support_tickets": tickets, "invoices": invoices}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(future_edit())
def test_rows_on_or_after_as_of_change_no_feature(edit):
    frames, row = edit
    before = features_of(FRAMES, row)
    after = features_of(frames, row)
    pd.testing.assert_frame_equal(before, after[before.columns])


def test_the_grid_has_snapshots_of_every_kind():
    """The property above is only as good as the grid it samples from."""
    assert len(GRID) >= 10
    assert GRID["account_id"].nunique() >= 4
    assert (GRID["renewal_date"] - GRID["as_of"]).dt.days.min() < 90  # monthly contracts observed at their start


@pytest.mark.parametrize("table", sorted(DATED_BY))
def test_a_row_just_before_as_of_is_seen(table):
    """The other side of the boundary: the property is not passing because nothing is ever read."""
    sensitive = {
        "usage": "usage_active_users_mean_7d",
        "support_tickets": "tickets_open",
        "nps": "nps_last_score",
        "relationship_events": "days_since_qbr",
        "invoices": "overdue_invoices_open",
        "contracts": "prior_renewals",
    }[table]
    row = GRID.iloc[[len(GRID) // 2]].reset_index(drop=True)
    account, as_of = row.at[0, "account_id"], row.at[0, "as_of"]
    frames = {name: frame.copy() for name, frame in FRAMES.items()}
    day_before = as_of - pd.Timedelta(hours=12)
    new = {
        "usage": {
            "account_id": account,
            "date": as_of - pd.Timedelta(days=1),
            "metric": "active_users",
            "value": 999.0,
        },
        "support_tickets": {"ticket_id": "NEW", "account_id": account, "opened_at": day_before, "priority": "urgent"},
        "nps": {"account_id": account, "responded_at": day_before, "score": 0.0},
        "relationship_events": {"account_id": account, "date": day_before, "event": "qbr_held"},
        "invoices": {"account_id": account, "invoice_id": "NEW", "due_date": day_before, "status": "overdue"},
        "contracts": {
            "contract_id": "NEW",
            "account_id": account,
            "start_date": pd.Timestamp("2000-01-01"),
            "end_date": pd.Timestamp("2000-06-01"),
            "arr": 1.0,
        },
    }[table]
    base = frames[table]
    if table == "usage":
        base = base[
            ~((base["account_id"] == account) & (base["date"] == new["date"]) & (base["metric"] == "active_users"))
        ]
    frames[table] = pd.concat([base, pd.DataFrame([new])], ignore_index=True)
    assert not features_of(FRAMES, row)[sensitive].equals(features_of(frames, row)[sensitive])


TERM_EVENTS = {
    "support_tickets": ("tickets_urgent_high_term", "opened_at", {"ticket_id": "NEW", "priority": "urgent"}),
    "invoices": ("failed_or_late_invoices_term", "due_date", {"invoice_id": "NEW", "status": "failed"}),
    "nps": ("nps_mean_term", "responded_at", {"score": 0.0}),
}


@pytest.mark.parametrize("table", sorted(TERM_EVENTS))
def test_contract_term_features_see_the_term_up_to_as_of_only(table):
    """Counted: an event inside the term, before as_of. Not counted: one on the as_of day, or before the term."""
    name, dated_by, extra = TERM_EVENTS[table]
    annual = GRID[(GRID["renewal_date"] - GRID["as_of"]).dt.days.between(30, 300)]
    row = annual.iloc[[len(annual) // 2]].reset_index(drop=True)
    account, as_of = row.at[0, "account_id"], row.at[0, "as_of"]
    contract = FRAMES["contracts"].set_index("contract_id").loc[row.at[0, "contract_id"]]
    assert contract["end_date"] - contract["start_date"] >= pd.Timedelta(days=90)  # a term worth the name

    def with_event(when: pd.Timestamp) -> pd.DataFrame:
        frames = {k: v.copy() for k, v in FRAMES.items()}
        new = pd.DataFrame([{"account_id": account, dated_by: when, **extra}])
        frames[table] = pd.concat([frames[table], new], ignore_index=True)
        return features_of(frames, row)[name]

    before = features_of(FRAMES, row)[name]
    assert not with_event(as_of - pd.Timedelta(hours=12)).equals(before)
    pd.testing.assert_series_equal(with_event(as_of + pd.Timedelta(hours=1)), before)
    pd.testing.assert_series_equal(with_event(contract["start_date"] - pd.Timedelta(days=2)), before)


def test_a_plan_shorter_than_the_risk_window_has_no_contract_term():
    contracts = FRAMES["contracts"].set_index("contract_id")
    term = (contracts["end_date"] - contracts["start_date"]).dt.days
    short = GRID[GRID["contract_id"].map(term).to_numpy() < 90].reset_index(drop=True)
    assert len(short)
    frame = features_of(FRAMES, short)
    for name in ("tickets_urgent_high_term", "failed_or_late_invoices_term", "active_users_30d_vs_term_opening"):
        assert frame[name].isna().all(), name
