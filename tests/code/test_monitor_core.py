"""Monitoring core: PSI and its noise, drift records, CBPE-style estimates, exact on hand-made data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.catalog import Catalog, Feature
from monitor.drift import ALARM_PSI, feature_drift, noise_threshold, psi, score_drift
from monitor.estimate import estimate, expected_auc
from training.reference import fit_reference

CATALOG = Catalog(
    (
        Feature("seat_utilization_30d", "util", "fraction", "adoption"),
        Feature("days_since_qbr", "days", "days", "relationship", clock=True),
        Feature("segment", "segment", "category", "commercial", kind="categorical", role="context"),
    )
)


def _frame(n: int, seed: int, util_scale: float = 1.0, segments=("smb", "mid_market")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "seat_utilization_30d": rng.beta(6, 3, n) * util_scale,
            "days_since_qbr": rng.integers(0, 200, n).astype(float),
            "segment": rng.choice(list(segments), n),
        }
    )


@pytest.fixture(scope="module")
def reference():
    train = _frame(5000, 0)
    return fit_reference(train, list(train.columns), ["segment"], np.full(5000, 0.1), (0.1, 0.3))


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([0.5, 0.5], [0.6, 0.4]) == pytest.approx(0.1 * (np.log(1.2) - np.log(0.8)))
    assert psi([0.5, 0.5], [0.9, 0.1]) > psi([0.5, 0.5], [0.7, 0.3]) > 0


def test_the_noise_threshold_is_what_two_samples_of_one_population_rarely_exceed():
    rng = np.random.default_rng(3)
    n, m, bins = 2000, 400, 10
    edges = np.linspace(0.1, 0.9, bins - 1)
    values = []
    for _ in range(300):
        a, b = rng.random(n), rng.random(m)
        shares_a = np.bincount(np.searchsorted(edges, a), minlength=bins) / n
        shares_b = np.bincount(np.searchsorted(edges, b), minlength=bins) / m
        values.append(psi(shares_a, shares_b))
    assert np.mean(np.array(values) > noise_threshold(bins, n, m)) < 0.01
    assert np.mean(values) == pytest.approx((bins - 1) * (1 / n + 1 / m), rel=0.25)


def test_a_stable_book_raises_no_alarm(reference):
    drift = feature_drift(reference, _frame(800, 1), CATALOG)
    assert not any(d["alarm"] for d in drift)
    assert {d["feature"] for d in drift} == {"seat_utilization_30d", "days_since_qbr", "segment"}


def test_a_halved_metric_a_new_segment_and_a_vanished_column_alarm_and_are_named(reference):
    book = _frame(800, 2, util_scale=0.5, segments=("smb", "mid_market", "public_sector"))
    book["days_since_qbr"] = book["days_since_qbr"] + 365  # a clock: moves with the calendar, never alarms
    drift = {d["feature"]: d for d in feature_drift(reference, book, CATALOG)}
    assert drift["seat_utilization_30d"]["alarm"] and drift["seat_utilization_30d"]["value"] > ALARM_PSI
    assert drift["segment"]["alarm"] and drift["segment"]["new_categories"] == ["public_sector"]
    assert drift["days_since_qbr"]["value"] > ALARM_PSI and not drift["days_since_qbr"]["alarm"]
    gone = feature_drift(reference, book.drop(columns="seat_utilization_30d"), CATALOG)
    record = next(d for d in gone if d["feature"] == "seat_utilization_30d")
    assert record["alarm"] and record["missing_now"] == 1.0 and "missing in 100% of rows" in record["why"][0]


def test_score_drift_compares_risk_and_bands(reference):
    quiet = score_drift(reference, np.full(500, 0.1), (0.1, 0.3))
    assert not quiet["alarm"] and quiet["bands_now"]["medium"] == 1.0
    loud = score_drift(reference, np.full(500, 0.45), (0.1, 0.3))
    assert loud["alarm"] and loud["bands_now"]["high"] == 1.0


def test_expected_auc_is_the_expected_share_of_correctly_ordered_pairs():
    rng = np.random.default_rng(1)
    p = np.round(rng.random(40) * 0.6, 1)  # ties on purpose
    num = sum(
        p[i] * (1 - p[j]) * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
        for i in range(40)
        for j in range(40)
        if i != j
    )
    den = sum(p[i] * (1 - p[j]) for i in range(40) for j in range(40) if i != j)
    assert expected_auc(p) == pytest.approx(num / den)
    draws = [roc_auc_score(rng.random(40) < p, p) for _ in range(3000)]
    assert expected_auc(p) == pytest.approx(np.mean(draws), abs=0.02)


def test_estimates_of_open_renewals_add_the_probabilities_with_intervals():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    arr = np.array([100.0, 200.0, 300.0, 400.0])
    out = estimate(p, arr)
    assert out["open_renewals"] == 4 and out["expected_churn"] == pytest.approx(1.0)
    assert out["expected_arr_lost"] == pytest.approx(10 + 40 + 90 + 160)
    assert out["churn_lo"] <= 1.0 <= out["churn_hi"] and out["arr_lost_lo"] <= 300 <= out["arr_lost_hi"]
    assert 0.5 < out["expected_auc"] < 1 and out["auc_lo"] <= out["auc_hi"]


def test_realized_metrics_match_a_hand_computation_on_a_cut_of_the_data(small_demo):
    """Train on the data cut at a date, score the book that day, then read the outcomes from the full data."""
    from features.outcomes import renewal_outcomes
    from monitor.realized import realized
    from training.cutoff import replay
    from training.dataset import from_snapshots

    tables = small_demo.tables
    cutoff = (tables.data_end - pd.Timedelta(days=364)).normalize()
    book = replay(tables, from_snapshots(small_demo.snapshots.frame, small_demo.snapshots.catalog), cutoff).book
    outcomes = renewal_outcomes(tables.contracts, tables.data_end)
    report = realized(book, outcomes)
    # by hand: a long contract's own outcome; a monthly plan: did a contract of the account ending in
    # [cutoff, cutoff + 90) churn (every one of them known)
    by_id = outcomes.set_index("contract_id")
    labels = []
    for row in book.itertuples():
        if row.cadence != "monthly":
            outcome = by_id.loc[row.contract_id, "outcome"]
            labels.append({"churned": 1, "renewed": 0}.get(outcome, np.nan))
            continue
        window = outcomes[
            (outcomes["account_id"] == row.account_id)
            & (outcomes["end_date"] >= cutoff)
            & (outcomes["end_date"] < cutoff + pd.Timedelta(days=90))
        ].sort_values("end_date")
        first_churn = window.index[window["outcome"] == "churned"]
        before = window.loc[: first_churn[0]] if len(first_churn) else window
        labels.append(np.nan if (before["outcome"] == "open").any() else float(len(first_churn) > 0))
    hand = book.assign(churned=labels).dropna(subset=["churned"])
    assert report["n"] == len(hand) > 100
    assert report["churn_rate"] == pytest.approx(hand["churned"].mean())
    assert report["mean_risk"] == pytest.approx(hand["churn_risk"].mean())
    assert report["auc"] == pytest.approx(roc_auc_score(hand["churned"], hand["churn_risk"]))
    renewed = hand.loc[hand["churned"] == 0, "arr"].sum()
    assert report["arr_renewed"] == pytest.approx(renewed) and report["arr_due"] == pytest.approx(hand["arr"].sum())
    assert report["arr_lo80"] <= report["arr_expected"] <= report["arr_hi80"]
    assert set(report["by_cadence"]) <= {"monthly", "annual", "multi-year"}
