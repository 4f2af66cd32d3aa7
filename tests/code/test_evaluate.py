"""Evaluation metrics checked by hand and against scikit-learn; plots written; the rules score's rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from training import evaluate


def test_headline_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.2).astype(int)
    p = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.15, 2000), 0.001, 0.999)
    metrics = evaluate.risk_metrics(y, p)
    assert metrics["test_roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["test_pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert metrics["test_brier"] == pytest.approx(brier_score_loss(y, p))
    assert metrics["test_log_loss"] == pytest.approx(log_loss(y, p))


def test_lift_capture_and_arr_capture_by_hand():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    arr = np.array([100, 1, 50, 1, 1, 1, 1, 1, 1, 850.0])
    metrics = evaluate.risk_metrics(y, p, arr)
    assert metrics["test_lift_at_10"] == pytest.approx(1 / 0.3)  # top 1 row: churned, base rate 30%
    assert metrics["test_capture_at_20"] == pytest.approx(1 / 3)  # top 2 rows hold 1 of 3 churners
    assert metrics["test_arr_capture_at_20"] == pytest.approx(100 / 1000)  # the big churner ranked last


def test_ties_are_broken_deterministically():
    y = np.array([0, 1, 0, 1])
    p = np.full(4, 0.5)
    assert evaluate.risk_metrics(y, p)["test_capture_at_20"] == 0.0  # the first row (a renewal) comes first
    assert evaluate.risk_metrics(y, p) == evaluate.risk_metrics(y, p)


def test_undefined_metrics_are_omitted_not_nan():
    metrics = evaluate.risk_metrics(np.zeros(50), np.full(50, 0.1))
    assert "test_roc_auc" not in metrics and "test_lift_at_10" not in metrics
    assert metrics["test_brier"] == pytest.approx(0.01)


def test_ece_is_near_zero_when_calibrated_and_large_when_not():
    rng = np.random.default_rng(1)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(int)
    assert evaluate.expected_calibration_error(y, p) < 0.01
    assert evaluate.expected_calibration_error(y, np.clip(p * 0.3, 0, 1)) > 0.2


def test_metrics_by_segment_are_keyed_by_segment():
    rng = np.random.default_rng(2)
    y = (rng.random(300) < 0.3).astype(int)
    segment = np.array(["smb"] * 200 + ["enterprise"] * 90 + ["tiny"] * 10)
    metrics = evaluate.metrics_by_segment(y, rng.random(300), rng.random(300), segment)
    assert "test_roc_auc__smb" in metrics and "test_roc_auc__enterprise" in metrics
    assert not any(key.endswith("__tiny") for key in metrics)


def test_rules_health_score_triggers_and_ignores_missing():
    frame = pd.DataFrame(
        {
            "usage_logins_days_since_last": [45, 2, np.nan],
            "usage_active_users_trend_30d": [-0.5, 0.1, np.nan],
            "nps_last_score": [3, 9, np.nan],
            "has_champion": [0, 1, np.nan],
        }
    )
    score = evaluate.rules_health_score(frame)
    total = sum(w for _, w in evaluate.HEALTH_RULES)
    assert score[0] == pytest.approx((2 + 2 + 1 + 1) / total)
    assert score[1] == 0.0 and score[2] == 0.0  # healthy, and unknown: nothing triggers
    assert ((score >= 0) & (score <= 1)).all()


def test_lift_table_covers_every_row():
    rng = np.random.default_rng(3)
    y = (rng.random(1000) < 0.1).astype(int)
    table = evaluate.lift_table(y, rng.random(1000), rng.random(1000))
    assert table["n"].sum() == 1000 and list(table["decile"]) == list(range(1, 11))
    assert table["cumulative_capture"].iloc[-1] == pytest.approx(1.0)


def test_plots_are_written(tmp_path):
    rng = np.random.default_rng(4)
    y = (rng.random(500) < 0.2).astype(int)
    p = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.1, 500), 0, 1)
    features = pd.DataFrame({"a": rng.normal(size=500), "b": pd.Categorical(rng.choice(["x", "y"], 500))})
    paths = [
        evaluate.plot_roc_pr(y, p, tmp_path / "roc.png", baselines={"random": rng.random(500)}),
        evaluate.plot_calibration(y, p, tmp_path / "cal.png", p_uncalibrated=p**0.8),
        evaluate.plot_lift_gain(y, p, tmp_path / "lift.png"),
        evaluate.plot_shap_summary(rng.normal(size=(500, 2)), features, tmp_path / "shap.png"),
    ]
    for path in paths:
        assert path.stat().st_size > 5_000 and path.read_bytes()[:4] == b"\x89PNG"
