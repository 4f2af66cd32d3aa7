"""What the model may never say: one more urgent ticket, escalation or failed payment, or a champion leaving,
never lowers an account's risk (the catalog's monotone features, trained under LightGBM constraints)."""

from __future__ import annotations

import pandas as pd
import pytest

from explain.reasons import Explainer
from explain.whatif import what_if
from features.catalog import build_catalog

ADVERSE = (
    "tickets_urgent_30d",
    "tickets_urgent_90d",
    "tickets_urgent_high_180d",
    "slow_urgent_high_tickets_200d",
    "urgent_high_open_over_14d",
    "escalations_90d",
    "failed_or_late_invoices_90d",
    "failed_or_late_invoices_365d",
    "tickets_urgent_high_term",
    "escalations_term",
    "failed_or_late_invoices_term",
)


@pytest.fixture(scope="module")
def book(small_demo) -> tuple[Explainer, pd.DataFrame]:
    frame = small_demo.snapshots.frame
    return Explainer(small_demo.bundle), frame.iloc[small_demo.result.split["test"]].sample(25, random_state=4)


def _one_more(row: pd.Series, names) -> dict[str, float]:
    return {name: float(pd.to_numeric(row[name]) if pd.notna(row[name]) else 0.0) + 1.0 for name in names}


def test_the_catalog_holds_adverse_events_to_their_side_and_the_model_is_trained_so(small_demo):
    catalog = build_catalog(["active_users"])
    for name in (*ADVERSE, "champion_losses_300d", "champion_lost_unreplaced_300d"):
        assert catalog[name].monotone and catalog[name].monotone_constraint == 1, name
    assert catalog["has_champion"].monotone_constraint == -1  # having a champion never raises the risk
    assert catalog["seat_utilization_30d"].monotone_constraint == 0  # usage is learned, not assumed
    constraints = dict(
        zip(small_demo.bundle.schema.names, small_demo.result.params["monotone_constraints"], strict=True)
    )
    assert all(constraints[name] == catalog[name].monotone_constraint for name in constraints if name in catalog)


@pytest.mark.parametrize("feature", ADVERSE)
def test_one_more_adverse_event_never_lowers_the_risk(book, feature):
    explainer, rows = book
    for _, row in rows.iterrows():
        scenario = what_if(explainer, row, _one_more(row, [feature]))
        assert scenario.after.churn_risk >= scenario.before.churn_risk - 1e-12, (row["account_id"], scenario.summary)


def test_a_champion_leaving_never_lowers_the_risk(book):
    explainer, rows = book
    with_champion = rows[pd.to_numeric(rows["has_champion"]) == 1]
    assert len(with_champion) >= 5
    for _, row in with_champion.iterrows():
        changes = {"has_champion": 0.0, **_one_more(row, ["champion_losses_300d", "champion_lost_unreplaced_300d"])}
        scenario = what_if(explainer, row, changes)
        assert scenario.after.churn_risk >= scenario.before.churn_risk - 1e-12, (row["account_id"], scenario.summary)
