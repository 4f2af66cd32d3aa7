"""What-if scenarios and the notebook's matplotlib pictures of an explanation."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from explain import plots, whatif
from explain.charts import waterfall_steps
from explain.history import snapshots_at
from explain.pages import default_as_of, renewing_accounts
from explain.playbook import Playbook
from explain.reasons import Explainer
from tests.explain_fixtures import BANDS, make_explanation, make_trend


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def explainer(small_demo):
    return Explainer(small_demo.bundle, Playbook.load())


@pytest.fixture(scope="module")
def row(small_demo):
    as_of = default_as_of(small_demo.tables)
    account = renewing_accounts(small_demo.tables, as_of, 365)[0]
    return snapshots_at(small_demo.tables, [as_of], [account])


def test_what_if_scores_the_changed_row_with_the_same_model(explainer, row, small_demo):
    original = row.copy()
    scenario = whatif.what_if(explainer, row, {"seat_utilization_30d": 0.95, "tickets_urgent_90d": 0.0})
    changed = row.copy()
    changed["seat_utilization_30d"] = 0.95
    changed["tickets_urgent_90d"] = 0.0
    bundle = small_demo.bundle
    assert scenario.before.churn_risk == pytest.approx(bundle.churn_probability(row, warn=False)[0])
    assert scenario.after.churn_risk == pytest.approx(bundle.churn_probability(changed, warn=False)[0])
    assert scenario.points == pytest.approx(100 * (scenario.after.churn_risk - scenario.before.churn_risk))
    assert scenario.changes["seat_utilization_30d"][1] == 0.95
    assert {m.feature for m in scenario.movers} <= {"seat_utilization_30d", "tickets_urgent_90d"}
    assert scenario.after.features, "the scenario has every feature's points, for a waterfall"
    assert row.equals(original), "the input row is left alone"
    assert "churn risk" in scenario.summary and "→" in scenario.summary


def test_what_if_without_a_real_change_keeps_the_risk(explainer, row):
    value = row["seat_utilization_30d"].iloc[0]
    scenario = whatif.what_if(explainer, row.iloc[0], {"seat_utilization_30d": value})
    assert scenario.after.churn_risk == pytest.approx(scenario.before.churn_risk)
    assert scenario.movers == []


def test_what_if_can_make_a_value_missing(explainer, row):
    scenario = whatif.what_if(explainer, row, {"nps_last_score": None, "seat_utilization_30d": 0.9})
    assert scenario.changes["nps_last_score"][1] is None
    assert np.isfinite(scenario.after.churn_risk)
    table = scenario.table()
    assert list(table.columns) == ["now", "what if"]
    assert {"churn risk", "risk band", "input: nps_last_score", "input: seat_utilization_30d"} <= set(table.index)
    assert table.loc["input: nps_last_score", "what if"] == "missing"


@pytest.mark.parametrize("context", ["contract_term_days", "plan", "days_to_renewal", "tenure_days", "segment"])
def test_what_if_offers_no_change_to_context(explainer, row, context):
    """Moving an enterprise account to a monthly plan is not a play: context is who the account is."""
    with pytest.raises(ValueError, match=f"'{context}' is context"):
        whatif.what_if(explainer, row, {context: 30.0})


def test_suggested_changes_are_actionable(explainer, small_demo):
    book = small_demo.snapshots.frame.head(40)
    for explanation in explainer.explain(book, detail=True, warn=False):
        for name in whatif.suggest_change(explainer, explanation):
            assert not explainer.catalog[name].is_context


def test_what_if_names_a_misspelt_input(explainer, row):
    with pytest.raises(KeyError, match="seat_utilization_30d"):
        whatif.what_if(explainer, row, {"seat_utilisation_30d": 0.5})
    with pytest.raises(ValueError, match="one snapshot row"):
        whatif.what_if(explainer, row.iloc[:0], {"seat_utilization_30d": 0.5})
    with pytest.raises(ValueError, match="at least one change"):
        whatif.what_if(explainer, row, {})


def test_suggested_change_moves_a_risk_driver_to_the_typical_renewing_value(explainer, row):
    explanation = explainer.explain(row, detail=True, warn=False)[0]
    change = whatif.suggest_change(explainer, explanation)
    assert len(change) == 1
    ((name, value),) = change.items()
    assert name in {r.feature for r in explanation.features if r.points > 0}
    assert value == explainer.reference[name]["typical"]


def test_waterfall_draws_the_page_steps_between_the_average_and_the_account():
    explanation = make_explanation()
    fig = plots.plot_waterfall(explanation, top=5)
    ax = fig.axes[0]
    steps = waterfall_steps(explanation, 5)
    assert len(ax.get_yticklabels()) == len(steps) + 2
    assert ax.get_yticklabels()[0].get_text() == "Comparable accounts"
    assert ax.get_yticklabels()[-1].get_text() == "This account"
    bars = ax.patches
    assert bars[-1].get_width() == pytest.approx(explanation.churn_risk * 100)
    assert explanation.account_id in ax.get_title()


def test_risk_trend_and_group_plots_draw_with_and_without_history():
    explanation = make_explanation()
    fig = plots.plot_risk_trend(make_trend(), BANDS, title="ACME")
    assert fig.axes[0].get_title() == "ACME" and fig.axes[0].lines
    empty = plots.plot_risk_trend([], BANDS)
    assert not empty.axes[0].lines
    gap = plots.plot_risk_trend(make_trend([0.1, None, 0.3]), BANDS)
    assert len(gap.axes[0].lines[0].get_xdata()) == 2
    groups = plots.plot_group_points(explanation)
    assert len(groups.axes[0].patches) == len(explanation.groups)
