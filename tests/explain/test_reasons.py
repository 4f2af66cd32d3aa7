"""Contributions, points and driver groups: exact, additive, order-preserving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

from explain.evaluate import explanation_hit_rate
from explain.reasons import Explainer, attribute, reason_columns, to_points, top_risk_groups
from features.catalog import DRIVER_GROUPS


@pytest.fixture(scope="module")
def rows(small_demo):
    return small_demo.snapshots.frame.iloc[small_demo.result.split["test"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def attribution(small_demo, rows):
    return attribute(small_demo.bundle, rows)


def test_contributions_are_tree_shap_and_add_up_to_the_raw_score(small_demo, rows, attribution):
    bundle = small_demo.bundle
    raw = bundle.raw_score(rows)
    np.testing.assert_allclose(attribution.contributions.sum(axis=1) + attribution.average_raw, raw, atol=1e-9)
    explainer = shap.TreeExplainer(bundle.booster)
    values = explainer.shap_values(bundle.matrix(rows))
    values = values[1] if isinstance(values, list) else values
    np.testing.assert_allclose(attribution.contributions, values, atol=1e-6)


def test_peer_baseline_plus_points_is_the_risk(attribution):
    total = attribution.points.sum(axis=1)
    np.testing.assert_allclose(total, 100 * (attribution.churn_risk - attribution.baseline_risk), atol=1e-9)


def _context_mask(bundle, attribution):
    return np.array([bundle.catalog[name].is_context for name in attribution.features])


def test_context_features_get_no_points_and_are_never_reasons(small_demo, rows, attribution):
    context = _context_mask(small_demo.bundle, attribution)
    assert context.any() and not context.all()
    assert np.all(attribution.points[:, context] == 0)
    assert np.abs(attribution.contributions[:, context]).sum() > 0  # the model does use them: as the baseline
    explanations = Explainer(small_demo.bundle).explain(rows, risk_reasons=3, protective_reasons=2, detail=True)
    for e in explanations:
        named = [r.feature for r in (*e.risk_drivers, *e.protective, *e.features)]
        assert not any(small_demo.bundle.catalog[name].is_context for name in named)


def test_points_keep_each_actionable_deltas_sign_and_order(small_demo, rows, attribution):
    """Points are each actionable feature's distance from its peers' average contribution, times one factor >= 0."""
    from training.peers import PeerBaselines

    context = _context_mask(small_demo.bundle, attribution)
    peers = PeerBaselines.from_json(small_demo.bundle.metadata["peers"], attribution.features)
    means, _ = peers.assign(rows)
    deltas = np.where(context, 0.0, attribution.contributions - means)
    moved = np.abs(attribution.raw - attribution.baseline_raw) > 1e-6
    p = attribution.points
    assert np.all(np.sign(p[moved]) == np.sign(deltas[moved]) * (np.abs(p[moved]) > 0))
    for i in np.flatnonzero(moved)[:50]:
        assert np.array_equal(np.argsort(deltas[i], kind="stable"), np.argsort(p[i], kind="stable"))


def test_peer_baseline_compares_an_account_with_its_own_cadence_and_horizon(small_demo, rows, attribution):
    term = rows["contract_term_days"].to_numpy()
    groups = attribution.peer_group
    assert all("monthly" in g for g in groups[term < 60])
    assert not any("monthly" in g for g in groups[term >= 300])
    annual = term >= 300
    # an annual account's baseline is an annual account's risk, not the monthly-dominated average row
    assert attribution.baseline_risk[annual].mean() > attribution.baseline_risk[term < 60].mean()


def test_a_fact_is_said_once(small_demo, rows):
    catalog = small_demo.bundle.catalog
    explanations = Explainer(small_demo.bundle).explain(rows, risk_reasons=5, protective_reasons=5)
    for e in explanations:
        for reasons in (e.risk_drivers, e.protective):
            facts = [catalog[r.feature].fact for r in reasons]
            assert len(facts) == len(set(facts))


def test_a_reason_carries_the_points_of_its_whole_fact(small_demo, rows, attribution):
    """A reason's points are its fact's, over the fact's features that may speak that way."""
    explainer = Explainer(small_demo.bundle)
    head = rows.head(30).reset_index(drop=True)
    reassuring, _ = explainer._sides(head, attribution.features)
    mine = attribute(small_demo.bundle, head)
    allowed = np.where(reassuring, 0.0, mine.points)
    facts = list(dict.fromkeys(mine.facts))
    for i, e in enumerate(explainer.explain(head, risk_reasons=3, protective_reasons=0)):
        for r in e.risk_drivers:
            fact = small_demo.bundle.catalog[r.feature].fact
            members = [j for j, f in enumerate(mine.facts) if f == fact]
            assert fact in facts and r.points == pytest.approx(allowed[i, members].sum())


def test_a_reassuring_value_is_never_a_risk_driver(small_demo, rows):
    """Usage above the typical renewing account's is not a reason to worry, whatever the model's interactions say."""
    explainer = Explainer(small_demo.bundle)
    catalog, reference = small_demo.bundle.catalog, small_demo.bundle.metadata["reference"]
    checked = 0
    for e in explainer.explain(rows, risk_reasons=5, protective_reasons=5):
        for r, sign in [*((r, +1) for r in e.risk_drivers), *((r, -1) for r in e.protective)]:
            feature, typical = catalog[r.feature], (reference.get(r.feature) or {}).get("typical")
            if not feature.riskier or typical is None or r.value is None:
                continue
            checked += 1
            worrying = r.value < typical if feature.riskier == "lower" else r.value > typical
            assert worrying if sign > 0 else not worrying, (r.feature, r.value, typical, r.sentence)
    assert checked > 100


def test_a_value_near_the_typical_one_is_no_reason_either_way(small_demo, rows):
    """Within a quarter of the renewing accounts' interquartile range of their median, a value is typical: no reason."""
    explainer, near = Explainer(small_demo.bundle), 0.25  # the rule as the README states it
    reference = small_demo.bundle.metadata["reference"]
    assert all("spread" in v for v in reference.values() if "typical" in v)
    near_values, said = 0, 0
    for e in explainer.explain(rows, risk_reasons=5, protective_reasons=5):
        for r in [*e.risk_drivers, *e.protective]:
            values = reference.get(r.feature) or {}
            if "typical" in values and r.value is not None:
                said += 1
                assert abs(r.value - values["typical"]) > near * values["spread"], (r.feature, r.sentence)
    for name, values in reference.items():
        if name in rows and "typical" in values:
            column = pd.to_numeric(rows[name], errors="coerce")
            near_values += int((abs(column - values["typical"]) <= near * values["spread"]).sum())
    assert said > 100 and near_values > 100  # the rule had values to bar, and reasons are still said


def test_points_at_the_average_raw_score_use_the_calibrators_slope(small_demo):
    calibrator = small_demo.bundle.calibrator
    contributions = np.array([[0.3, -0.3]])
    points = to_points(contributions, np.array([0.0]), 0.0, calibrator)
    assert points[0, 0] > 0 > points[0, 1]
    assert points.sum() == pytest.approx(0.0)


def test_group_shares_are_the_sums_of_their_features(attribution):
    groups = attribution.group_points()
    assert groups.shape[1] == len(DRIVER_GROUPS)
    np.testing.assert_allclose(groups.sum(axis=1), attribution.points.sum(axis=1), atol=1e-9)
    names = np.asarray(attribution.groups)
    for j, group in enumerate(DRIVER_GROUPS):
        np.testing.assert_allclose(groups[:, j], attribution.points[:, names == group].sum(axis=1), atol=1e-9)


def test_top_groups_only_name_groups_that_add_risk(attribution):
    shares = attribution.group_points()
    for i, tops in enumerate(top_risk_groups(attribution, 3)):
        assert len(tops) <= 3
        values = [shares[i, DRIVER_GROUPS.index(g)] for g in tops]
        assert all(v > 0 for v in values) and values == sorted(values, reverse=True)


def test_explanations_hold_top_drivers_protective_factors_and_groups(small_demo, rows):
    explanations = Explainer(small_demo.bundle).explain(rows.head(40), detail=True)
    assert len(explanations) == 40
    for e in explanations:
        assert len(e.risk_drivers) <= 3 and len(e.protective) <= 2
        assert all(r.points > 0 for r in e.risk_drivers) and all(r.points < 0 for r in e.protective)
        assert [r.points for r in e.risk_drivers] == sorted((r.points for r in e.risk_drivers), reverse=True)
        assert {g.group for g in e.groups} <= set(DRIVER_GROUPS)
        assert sum(g.points for g in e.groups) == pytest.approx(100 * (e.churn_risk - e.peer_churn_risk))
        assert sum(r.points for r in e.features) == pytest.approx(100 * (e.churn_risk - e.peer_churn_risk))
        assert e.renewal_probability == pytest.approx(1 - e.churn_risk)
        assert e.summary.startswith(e.risk_band.capitalize())
        for reason in e.risk_drivers + e.protective:
            assert reason.group == small_demo.bundle.catalog[reason.feature].group
            assert reason.sentence and "nan" not in reason.sentence
        data = e.to_dict()
        assert isinstance(data["as_of"], str) and "features" not in data


def test_missing_values_are_explained_as_missing(small_demo, rows):
    frame = rows.head(20).copy()
    frame["nps_last_score"] = np.nan
    for e in Explainer(small_demo.bundle).explain(frame, detail=True):
        nps = [r for r in e.features if r.feature == "nps_last_score"]
        if nps:
            assert nps[0].value is None and nps[0].sentence == "No NPS response on record"


def test_reason_columns_flatten_the_top_reasons(small_demo, rows):
    explanations = Explainer(small_demo.bundle).explain(rows.head(10), risk_reasons=2, protective_reasons=0)
    columns = reason_columns(explanations, 2)
    assert list(columns.columns) == [
        "top_groups",
        *(f"reason_{n}{s}" for n in (1, 2) for s in ("", "_group", "_feature", "_points")),
    ]
    first = explanations[0].risk_drivers[0]
    assert columns.loc[0, "reason_1"] == first.sentence and columns.loc[0, "reason_1_group"] == first.group


def test_reference_numbers_travel_with_the_bundle(small_demo, tmp_path):
    from training.bundle import ModelBundle

    reference = small_demo.bundle.metadata["reference"]
    assert 0 < reference["seat_utilization_30d"]["typical"] < 1
    assert "category_churn" in reference["segment"]
    loaded = ModelBundle.load(small_demo.bundle.save(tmp_path / "b"))
    assert loaded.metadata["reference"] == reference


def test_hit_rate_counts_the_true_group_among_the_top_three(small_demo, rows):
    rows = rows.drop_duplicates("contract_id", keep="last").reset_index(drop=True)  # one truth per renewal
    churned = rows[rows["churned"] == 1]
    attribution = attribute(small_demo.bundle, churned)
    best = [tops[0] if tops else "usage" for tops in top_risk_groups(attribution, 1)]
    truth = pd.DataFrame({"contract_id": churned["contract_id"], "primary_driver": best})
    assert explanation_hit_rate(small_demo.bundle, rows, truth)["explanation_hit_rate"] == pytest.approx(
        np.mean([bool(t) for t in top_risk_groups(attribution, 1)])
    )
    absent = [next(g for g in DRIVER_GROUPS if g not in tops) for tops in top_risk_groups(attribution, 3)]
    truth = pd.DataFrame({"contract_id": churned["contract_id"], "primary_driver": absent})
    assert explanation_hit_rate(small_demo.bundle, rows, truth)["explanation_hit_rate"] == 0.0
    unknown = truth.assign(primary_driver="unobservable")
    assert explanation_hit_rate(small_demo.bundle, rows, unknown) == {}


def test_a_renewal_beyond_the_trained_range_is_scored_at_its_edge_and_said_so(small_demo, rows):
    bundle = small_demo.bundle
    furthest = bundle.metadata["max_horizon_days"]
    assert 300 <= furthest <= 365
    annual = rows[rows["contract_term_days"] >= 300].head(5)
    far, edge = annual.assign(days_to_renewal=900.0), annual.assign(days_to_renewal=furthest)
    np.testing.assert_allclose(bundle.churn_probability(far), bundle.churn_probability(edge))
    assert bundle.beyond_trained_horizon(far).all() and not bundle.beyond_trained_horizon(edge).any()
    explanations = Explainer(bundle).explain(pd.concat([far, edge], ignore_index=True))
    assert all("beyond the" in e.horizon_note and "900 days" in e.horizon_note for e in explanations[:5])
    assert all(e.horizon_note == "" for e in explanations[5:])


def test_a_feature_the_caller_did_not_send_is_not_provided_not_absent(small_demo, rows):
    """ "No invoices due in the last 90 days" states a fact; a payload that omitted the invoices states none."""
    from explain.sentences import NOT_SENT_COLUMN

    catalog = small_demo.bundle.catalog
    explainer = Explainer(small_demo.bundle)
    sample = rows.head(40).copy()
    # the driver group the model leans on most for these rows: its features are the ones omitted
    weights = pd.Series(
        [
            r.group
            for e in explainer.explain(sample, risk_reasons=69, protective_reasons=69, detail=True)
            for r in e.features
        ]
    )
    group = weights.value_counts().index[0]
    omitted = [f.name for f in catalog if f.group == group and f.name in sample.columns]
    sample[omitted] = np.nan
    sent_all = explainer.explain(sample, risk_reasons=69, protective_reasons=69, detail=True)
    unsent_all = explainer.explain(
        sample.assign(**{NOT_SENT_COLUMN: [tuple(omitted)] * len(sample)}),
        risk_reasons=69,
        protective_reasons=69,
        detail=True,
    )
    sent, unsent = next(
        (s, u) for s, u in zip(sent_all, unsent_all, strict=True) if any(r.feature in omitted for r in u.features)
    )
    said = {r.feature: r.sentence for r in sent.features}
    told = {r.feature: r.sentence for r in unsent.features}
    named = [name for name in omitted if name in told]
    assert named
    for name in named:
        assert told[name].endswith(": not provided")
        assert said[name] == (catalog[name].missing or said[name])  # the data's own missing text, when known
        assert "No invoices" not in told[name] and "No urgent" not in told[name]
