"""Evaluation metrics checked by hand and against scikit-learn; the rules score's rules; plots written."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from training import evaluate

ALL_KEYS = {
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "mean_risk",
    "lift_at_10",
    "lift_at_20",
    "capture_at_10",
    "capture_at_20",
    "arr_capture_at_20",
    "arr_capture_at_10",
    "churn_rate",
    "n",
}


def _noisy_scores(seed: int, n: int, base_rate: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < base_rate).astype(int)
    p = np.clip(base_rate + 0.3 * (y - base_rate) + rng.normal(0, 0.15, n), 0.001, 0.999)
    return y, p


# --- expected calibration error ---------------------------------------------------------------


def test_ece_is_zero_when_each_bin_predicts_its_own_churn_rate():
    # Three bins, p constant within each and equal to that bin's churn rate.
    y = np.array([1] + [0] * 9 + [1] * 5 + [0] * 5 + [1] * 9 + [0])
    p = np.array([0.1] * 10 + [0.5] * 10 + [0.9] * 10)
    assert evaluate.expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)


def test_ece_is_large_when_badly_miscalibrated():
    y = np.array([0] * 50 + [1] * 50)
    p = np.array([0.95] * 50 + [0.05] * 50)  # confidently wrong everywhere
    assert evaluate.expected_calibration_error(y, p) == pytest.approx(0.95)


def test_ece_weights_bins_by_size_by_hand():
    # Bin [0.2, 0.267): 3 rows, mean p 0.2, churn rate 1/3 -> gap 2/15; bin of 0.8: 1 row, churned -> gap 0.2.
    y = np.array([1, 0, 0, 1])
    p = np.array([0.2, 0.2, 0.2, 0.8])
    expected = 0.75 * abs(1 / 3 - 0.2) + 0.25 * abs(1 - 0.8)
    assert evaluate.expected_calibration_error(y, p) == pytest.approx(expected)


def test_ece_puts_probability_one_in_the_last_bin():
    assert evaluate.expected_calibration_error([1, 1], [1.0, 1.0], bins=15) == pytest.approx(0.0)
    assert evaluate.expected_calibration_error([1, 0], [1.0, 0.95], bins=10) == pytest.approx(0.475)


def test_the_ece_floor_is_zero_for_certain_outcomes_and_the_sampling_error_for_uncertain_ones():
    assert evaluate.ece_noise_floor(np.array([0.0, 1.0, 1.0, 0.0])) == pytest.approx(0.0)
    # one bin of 400 independent rows at p = 0.2: E|rate - 0.2| = sqrt(2/pi) * sqrt(0.2 * 0.8 / 400)
    expected = np.sqrt(2 / np.pi) * np.sqrt(0.2 * 0.8 / 400)
    assert evaluate.ece_noise_floor(np.full(400, 0.2), draws=4000) == pytest.approx(expected, rel=0.05)


def test_snapshots_of_one_contract_share_an_outcome_in_the_ece_floor():
    p = np.full(400, 0.2)
    independent = evaluate.ece_noise_floor(p)
    # every row one contract: all churn (|1 - 0.2|) or all renew (0.2), E = 0.2 * 0.8 + 0.8 * 0.2
    one_contract = evaluate.ece_noise_floor(p, groups=np.zeros(400, dtype=int), draws=4000)
    assert one_contract == pytest.approx(0.32, abs=0.02) and one_contract > 10 * independent
    five_rows_each = evaluate.ece_noise_floor(p, groups=np.arange(400) // 5, draws=2000)
    assert five_rows_each == pytest.approx(np.sqrt(5) * evaluate.ece_noise_floor(p, draws=2000), rel=0.1)


def test_the_ece_floor_is_the_same_however_many_draws_are_held_at_once(monkeypatch):
    p = np.random.default_rng(3).random(250)
    groups = np.arange(250) // 3
    whole = evaluate.ece_noise_floor(p, groups, seed=5)
    monkeypatch.setattr(evaluate, "_ECE_FLOOR_CELLS", 1000)  # 4 draws of 250 rows at a time
    assert evaluate.ece_noise_floor(p, groups, seed=5) == pytest.approx(whole, abs=1e-12)


def test_ece_is_near_zero_for_a_calibrated_model_on_random_data():
    rng = np.random.default_rng(1)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(int)
    assert evaluate.expected_calibration_error(y, p) < 0.01
    assert evaluate.expected_calibration_error(y, p * 0.3) > 0.2


# --- risk_metrics -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_headline_metrics_agree_with_scikit_learn(seed):
    y, p = _noisy_scores(seed, 2000)
    metrics = evaluate.risk_metrics(y, p)
    assert metrics["test_roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["test_pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert metrics["test_brier"] == pytest.approx(brier_score_loss(y, p))
    assert metrics["test_log_loss"] == pytest.approx(log_loss(y, p))
    assert metrics["test_churn_rate"] == pytest.approx(y.mean())
    assert metrics["test_n"] == 2000.0


def test_log_loss_is_clipped_so_a_confident_mistake_is_finite():
    metrics = evaluate.risk_metrics([1, 0], [0.0, 0.0])
    assert metrics["test_log_loss"] == pytest.approx(-math.log(1e-15) / 2, rel=1e-6)


def test_exact_keys_with_and_without_arr_and_prefix():
    y, p = _noisy_scores(3, 500)
    with_arr = evaluate.risk_metrics(y, p, np.full(500, 1000.0))
    assert set(with_arr) == {f"test_{k}" for k in ALL_KEYS}
    without_arr = evaluate.risk_metrics(y, p, prefix="calib_")
    assert set(without_arr) == {f"calib_{k}" for k in ALL_KEYS if not k.startswith("arr_")}
    assert all(isinstance(v, float) and math.isfinite(v) for v in with_arr.values())
    project_names = {"test_roc_auc", "test_pr_auc", "test_brier", "test_log_loss", "test_ece", "test_lift_at_10"}
    assert project_names | {"test_arr_capture_at_20"} <= set(with_arr)


@pytest.mark.parametrize("positives", [3, 5, 10, 25])
def test_perfect_ranking(positives):
    n = 50
    y = np.array([1] * positives + [0] * (n - positives))
    p = np.linspace(0.99, 0.01, n)  # churners get the highest scores
    metrics = evaluate.risk_metrics(y, p)
    assert metrics["test_roc_auc"] == 1.0 and metrics["test_pr_auc"] == pytest.approx(1.0)
    for share, k in ((10, 5), (20, 10)):  # ceil(10% of 50) = 5 rows, ceil(20%) = 10 rows
        capture = min(1.0, k / positives)
        assert metrics[f"test_capture_at_{share}"] == pytest.approx(capture)
        assert metrics[f"test_lift_at_{share}"] == pytest.approx(min(k, positives) / k / (positives / n))


def test_lift_and_capture_by_hand_on_ten_rows():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    metrics = evaluate.risk_metrics(y, p)
    # Base rate 3/10. Top 10% = 1 row (a churner); top 20% = 2 rows (1 churner of 2).
    assert metrics["test_lift_at_10"] == pytest.approx(1.0 / 0.3)
    assert metrics["test_lift_at_20"] == pytest.approx(0.5 / 0.3)
    assert metrics["test_capture_at_10"] == pytest.approx(1 / 3)
    assert metrics["test_capture_at_20"] == pytest.approx(1 / 3)


def test_arr_capture_by_hand():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    arr = np.array([100.0, 50.0, 9999.0, 1, 1, 1, 1, 1, 1, 850.0])  # renewals' ARR never counts
    metrics = evaluate.risk_metrics(y, p, arr)
    # Churned ARR = 100 + 50 + 850 = 1000; top 20% (2 rows) hold 150 of it, top 10% (1 row) 100.
    assert metrics["test_arr_capture_at_20"] == pytest.approx(0.15)
    assert metrics["test_arr_capture_at_10"] == pytest.approx(0.10)


def test_top_share_is_ceil_in_exact_arithmetic():
    # 10% of 30 is exactly 3 rows (float 0.1 * 30 would round up to 4); 10% of 31 is 4 rows.
    y = np.array([1, 1, 1, 1] + [0] * 26)
    p = np.linspace(1, 0, 30)
    assert evaluate.risk_metrics(y, p)["test_capture_at_10"] == pytest.approx(3 / 4)
    y31, p31 = np.append(y, 0), np.append(p, -0.0)
    assert evaluate.risk_metrics(y31, p31)["test_capture_at_10"] == pytest.approx(1.0)


def test_undefined_metrics_are_omitted_not_nan():
    no_churn = evaluate.risk_metrics(np.zeros(50), np.full(50, 0.1), np.full(50, 100.0))
    assert set(no_churn) == {"test_brier", "test_log_loss", "test_ece", "test_churn_rate", "test_mean_risk", "test_n"}
    assert no_churn["test_brier"] == pytest.approx(0.01) and no_churn["test_churn_rate"] == 0.0

    all_churn = evaluate.risk_metrics(np.ones(20), np.full(20, 0.7), np.full(20, 100.0))
    assert "test_roc_auc" not in all_churn and "test_pr_auc" not in all_churn
    assert all_churn["test_lift_at_10"] == pytest.approx(1.0)  # defined: every account churns
    assert all_churn["test_capture_at_20"] == pytest.approx(0.2)

    zero_churned_arr = evaluate.risk_metrics([1, 0, 0], [0.9, 0.1, 0.2], [0.0, 5.0, 5.0])
    assert not any(k.startswith("test_arr_capture") for k in zero_churned_arr)

    assert evaluate.risk_metrics([], []) == {"test_n": 0.0}
    for metrics in (no_churn, all_churn, zero_churned_arr):
        assert all(math.isfinite(v) for v in metrics.values())


def test_missing_arr_counts_as_zero():
    metrics = evaluate.risk_metrics([1, 1, 0], [0.9, 0.1, 0.5], [np.nan, 100.0, 1.0])
    assert metrics["test_arr_capture_at_20"] == 0.0  # the top row's ARR is unknown: nothing claimed


def test_ties_are_broken_deterministically_by_original_order():
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    p = np.full(10, 0.5)
    metrics = evaluate.risk_metrics(y, p, np.arange(1.0, 11.0))
    assert metrics["test_capture_at_10"] == 0.0  # top row = row 0, a renewal
    assert metrics["test_capture_at_20"] == pytest.approx(1 / 5)  # rows 0 and 1
    assert metrics["test_arr_capture_at_20"] == pytest.approx(2 / (2 + 4 + 6 + 8 + 10))
    assert metrics == evaluate.risk_metrics(y.copy(), p.copy(), np.arange(1.0, 11.0))
    flipped = evaluate.risk_metrics(y[::-1], p)  # same scores, churner first: result follows the order
    assert flipped["test_capture_at_10"] == pytest.approx(1 / 5)


@pytest.mark.parametrize(
    ("y", "p", "arr"),
    [
        ([0, 1, 1], [0.1, 0.2], None),
        ([0, 2, 1], [0.1, 0.2, 0.3], None),
        ([0, 1, 1], [0.1, np.nan, 0.3], None),
        ([0, 1, 1], [0.1, 0.2, 0.3], [1.0, 2.0]),
    ],
)
def test_bad_inputs_are_refused(y, p, arr):
    with pytest.raises(ValueError):
        evaluate.risk_metrics(y, p, arr)


# --- metrics_by_segment -----------------------------------------------------------------------


def test_metrics_by_segment_keys_and_values():
    rng = np.random.default_rng(2)
    n = 330
    y = (rng.random(n) < 0.3).astype(int)
    segment = np.array(["smb"] * 200 + ["enterprise"] * 90 + ["tiny"] * 10 + ["no_churn"] * 30, dtype=object)
    y[300:] = 0
    p, arr = rng.random(n), rng.random(n) * 1000
    metrics = evaluate.metrics_by_segment(y, p, arr, pd.Series(segment, index=np.arange(n) + 1000))

    smb = segment == "smb"
    expected_smb = {f"{k}__smb": v for k, v in evaluate.risk_metrics(y[smb], p[smb], arr[smb]).items()}
    assert {k: v for k, v in metrics.items() if k.endswith("__smb")} == expected_smb
    assert "test_roc_auc__enterprise" in metrics and "test_arr_capture_at_20__enterprise" in metrics
    # Too few rows or one class: no AUC-type metrics, but the rest of the segment is still reported.
    for name in ("tiny", "no_churn"):
        assert f"test_roc_auc__{name}" not in metrics and f"test_pr_auc__{name}" not in metrics
        assert metrics[f"test_n__{name}"] == float((segment == name).sum())
    assert all(k.startswith("test_") and k.count("__") == 1 for k in metrics)
    assert all(math.isfinite(v) for v in metrics.values())


def test_metrics_by_segment_names_are_safe_metric_keys():
    y = np.array([0, 1] * 15)
    segment = np.array(["mid market/EU"] * 10 + [None] * 10 + ["smb"] * 10, dtype=object)
    metrics = evaluate.metrics_by_segment(y, np.linspace(0, 1, 30), None, segment, prefix="valid_", min_rows=5)
    suffixes = {k.split("__")[1] for k in metrics}
    assert suffixes == {"mid_market_EU", "missing", "smb"}
    assert "valid_roc_auc__smb" in metrics and not any("arr_capture" in k for k in metrics)


# --- rules_health_score -----------------------------------------------------------------------

TOTAL_WEIGHT = sum(rule.weight for rule in evaluate.HEALTH_RULES)


@pytest.mark.parametrize(
    ("columns", "weight"),
    [
        ({"usage_logins_days_since_last": 31}, 2),
        ({"usage_active_users_days_since_last": 45}, 2),
        ({"usage_active_users_trend_30d": -0.31}, 2),
        ({"seat_utilization_30d": 0.29}, 1),
        ({"modules_used_30d": 2}, 1),
        ({"nps_last_score": 6}, 1),
        ({"tickets_urgent_30d": 1, "tickets_high_30d": 1}, 1),
        ({"tickets_urgent_30d": 2, "tickets_high_30d": np.nan}, 1),
        ({"urgent_high_open_over_14d": 1}, 1),
        ({"has_champion": 0}, 1),
        ({"failed_or_late_invoices_90d": 1}, 1),
        ({"arr_change_at_last_renewal": 0.2}, 1),
    ],
)
def test_each_rule_triggers_alone(columns, weight):
    score = evaluate.rules_health_score(pd.DataFrame({k: [v] for k, v in columns.items()}))
    assert score.tolist() == [pytest.approx(weight / TOTAL_WEIGHT)]


@pytest.mark.parametrize(
    "columns",
    [
        {"usage_logins_days_since_last": 30},
        {"usage_logins_days_since_last": 3, "usage_active_users_days_since_last": 60},  # logins known: they decide
        {"usage_active_users_trend_30d": -0.3},
        {"seat_utilization_30d": 0.3},
        {"modules_used_30d": 3},
        {"nps_last_score": 7},
        {"tickets_urgent_30d": 1, "tickets_high_30d": 0, "urgent_high_open_over_14d": 0},
        {"has_champion": 1},
        {"failed_or_late_invoices_90d": 0},
        {"arr_change_at_last_renewal": 0.15},
    ],
)
def test_rules_do_not_trigger_at_or_inside_their_thresholds(columns):
    assert evaluate.rules_health_score(pd.DataFrame({k: [v] for k, v in columns.items()})).tolist() == [0.0]


def test_rules_ignore_missing_values_and_columns():
    frame = pd.DataFrame(
        {
            "usage_logins_days_since_last": [45, 2, np.nan],
            "usage_active_users_trend_30d": [-0.5, 0.1, np.nan],
            "nps_last_score": [3, 9, np.nan],
            "has_champion": pd.array([False, True, None], dtype="boolean"),
            "segment": ["smb", "smb", "enterprise"],
        },
        index=[10, 20, 30],
    )
    score = evaluate.rules_health_score(frame)
    assert isinstance(score, np.ndarray) and score.dtype == float and score.shape == (3,)
    assert score[0] == pytest.approx((2 + 2 + 1 + 1) / TOTAL_WEIGHT)
    assert score[1] == 0.0 and score[2] == 0.0  # healthy, and unknown: nothing triggers
    assert evaluate.rules_health_score(pd.DataFrame(index=range(4))).tolist() == [0.0] * 4
    fired = evaluate.health_rules_triggered(frame)
    assert list(fired.index) == [10, 20, 30] and list(fired.columns) == [r.name for r in evaluate.HEALTH_RULES]


def test_rules_score_is_one_when_everything_fires_and_always_in_range():
    worst = {
        "usage_logins_days_since_last": 90,
        "usage_active_users_trend_30d": -0.9,
        "seat_utilization_30d": 0.05,
        "modules_used_30d": 1,
        "nps_last_score": 2,
        "tickets_urgent_30d": 3,
        "tickets_high_30d": 2,
        "urgent_high_open_over_14d": 2,
        "has_champion": 0,
        "failed_or_late_invoices_90d": 2,
        "arr_change_at_last_renewal": 0.3,
    }
    assert evaluate.rules_health_score(pd.DataFrame({k: [v] for k, v in worst.items()})).tolist() == [1.0]
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({k: rng.normal(v, abs(v) + 1, 300) for k, v in worst.items()})
    frame = frame.mask(rng.random(frame.shape) < 0.2)
    score = evaluate.rules_health_score(frame)
    assert ((score >= 0) & (score <= 1)).all() and 0 < score.mean() < 1


# --- lift_table -------------------------------------------------------------------------------


def test_lift_table_covers_every_row_and_adds_up():
    rng = np.random.default_rng(3)
    y = (rng.random(1000) < 0.1).astype(int)
    p, arr = rng.random(1000), rng.random(1000) * 500
    table = evaluate.lift_table(y, p, arr)
    assert list(table["decile"]) == list(range(1, 11)) and (table["n"] == 100).all()
    assert table["churners"].sum() == y.sum()
    assert table["cumulative_capture"].iloc[-1] == pytest.approx(1.0)
    assert table["churned_arr_share"].sum() == pytest.approx(1.0)
    assert (table["min_p"].iloc[:-1].to_numpy() >= table["max_p"].iloc[1:].to_numpy()).all()  # 1 = riskiest
    assert "churned_arr_share" not in evaluate.lift_table(y, p).columns


def test_lift_table_by_hand():
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    p = np.linspace(1, 0.1, 10)
    arr = np.array([10.0, 30.0, 5, 60.0, 1, 1, 1, 1, 1, 1])
    table = evaluate.lift_table(y, p, arr, bins=5)  # 2 rows per bin
    assert table["churners"].tolist() == [2, 1, 0, 0, 0]
    assert table["lift"].tolist() == pytest.approx([1.0 / 0.3, 0.5 / 0.3, 0, 0, 0])
    assert table["cumulative_capture"].tolist() == pytest.approx([2 / 3, 1, 1, 1, 1])
    assert table["churned_arr_share"].tolist() == pytest.approx([0.4, 0.6, 0, 0, 0])


def test_stratum_table_reports_each_cadence_and_horizon_beside_the_baselines():
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "cadence": np.where(np.arange(n) < 200, "monthly", "annual"),
            "horizon": np.where(np.arange(n) % 2 == 0, "1-90", "91-180"),
            "churned": rng.random(n) < 0.2,
        }
    )
    frame["churned"] = frame["churned"].astype(int)
    frame["churn_risk"] = np.clip(0.2 + 0.3 * (frame["churned"] - 0.2) + rng.normal(0, 0.05, n), 0.01, 0.99)
    frame["baseline_logreg"] = rng.random(n)
    frame["baseline_rules"] = frame["churn_risk"]
    table = evaluate.stratum_table(frame).set_index("stratum")
    assert {"all", "monthly", "annual", "1-90", "91-180", "annual 1-90", "monthly 91-180"} <= set(table.index)
    assert table.loc["monthly", "n"] == 200 and table.loc["annual 1-90", "n"] == 200
    annual = frame[frame["cadence"] == "annual"]
    assert table.loc["annual", "churn_rate"] == pytest.approx(annual["churned"].mean())
    assert table.loc["annual", "mean_risk"] == pytest.approx(annual["churn_risk"].mean())
    assert table.loc["annual", "ece_floor"] == pytest.approx(evaluate.ece_noise_floor(annual["churn_risk"]))
    assert table.loc["all", "roc_auc"] > 0.95 and table.loc["all", "rules_roc_auc"] == table.loc["all", "roc_auc"]
    assert 0.4 < table.loc["all", "logreg_roc_auc"] < 0.6  # a random baseline stays a random baseline
