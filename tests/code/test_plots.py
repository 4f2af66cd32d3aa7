"""Figures of model quality show what the metrics say: their data is checked, not their file size."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from training import evaluate, plots


def _scores(seed: int = 4, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 8, n)
    return (rng.random(n) < p).astype(float), p


def _line(ax, label_start: str):
    lines = [line for line in ax.get_lines() if line.get_label().startswith(label_start)]
    assert len(lines) == 1, [line.get_label() for line in ax.get_lines()]
    return lines[0]


def test_roc_and_pr_curves_are_sklearns_for_the_model_and_each_baseline():
    y, p = _scores()
    rules = np.random.default_rng(1).random(len(y))
    fig = plots.plot_roc_pr(y, p, baselines={"rules": rules})
    roc_ax, pr_ax = fig.axes[:2]
    fpr, tpr, _ = roc_curve(y, p)
    model = _line(roc_ax, "model")
    np.testing.assert_allclose(model.get_xdata(), fpr)
    np.testing.assert_allclose(model.get_ydata(), tpr)
    assert f"{roc_auc_score(y, p):.2f}" in model.get_label()  # sklearn's legend gives the AUC
    precision, recall, _ = precision_recall_curve(y, p)
    np.testing.assert_allclose(_line(pr_ax, "model").get_xdata(), recall)
    np.testing.assert_allclose(_line(pr_ax, "model").get_ydata(), precision)
    np.testing.assert_allclose(_line(roc_ax, "rules").get_xdata(), roc_curve(y, rules)[0])
    plt.close(fig)


def test_the_reliability_curve_uses_the_ece_bins_and_its_label_gives_that_ece():
    y, p = _scores(7, 2000)
    fig = plots.plot_calibration(y, p, p_uncalibrated=p**0.8)
    ax = fig.axes[0]
    rate, mean_p = calibration_curve(y, p, n_bins=evaluate.ECE_BINS, strategy="uniform")
    calibrated = _line(ax, "calibrated")
    np.testing.assert_allclose(calibrated.get_xdata(), mean_p)
    np.testing.assert_allclose(calibrated.get_ydata(), rate)
    assert f"ECE {evaluate.expected_calibration_error(y, p):.3f}" in calibrated.get_label()
    assert f"ECE {evaluate.expected_calibration_error(y, p**0.8):.3f}" in _line(ax, "uncalibrated").get_label()
    plt.close(fig)


def test_gain_reaches_every_churner_and_the_lift_bars_are_the_lift_table():
    y, p = _scores(3, 1000)
    fig = plots.plot_lift_gain(y, p)
    gain, lift = fig.axes[:2]
    found = _line(gain, "model").get_ydata()
    assert found[0] == 0 and found[-1] == pytest.approx(1.0) and (np.diff(found) >= 0).all()
    heights = [bar.get_height() for bar in lift.patches]
    np.testing.assert_allclose(heights, evaluate.lift_table(y, p)["lift"].to_numpy())
    plt.close(fig)


def test_a_window_without_churners_says_so_instead_of_drawing_curves():
    y, p = np.zeros(40), np.linspace(0, 0.5, 40)
    for fig in (plots.plot_roc_pr(y, p), plots.plot_lift_gain(y, p)):
        notes = [t.get_text() for ax in fig.axes[:2] for t in ax.texts]
        assert notes and all(n.startswith("undefined") for n in notes)
        assert not any(line.get_label().startswith("model") for ax in fig.axes for line in ax.get_lines())
        plt.close(fig)


def test_plots_draw_on_the_callers_axes_and_save_writes_a_png(tmp_path):
    y, p = _scores()
    fig, axes = plt.subplots(1, 2)
    assert plots.plot_lift_gain(y, p, axes=axes) is fig
    path = plots.save(fig, tmp_path / "sub" / "lift.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="expected 2 axes"):
        plots.plot_roc_pr(y, p, axes=[axes[0]])


def test_the_shap_beeswarm_shows_the_strongest_features_first_and_refuses_the_bias_column():
    rng = np.random.default_rng(6)
    n = 400
    features = pd.DataFrame(
        {
            "seat_utilization_30d": rng.random(n),
            "nps_last_score": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 11, n)),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
            "region": pd.Series(rng.choice(["na", "emea"], n), dtype="str"),
            "has_champion": rng.random(n) < 0.5,
            "constant": np.ones(n),
        }
    )
    contributions = rng.normal(size=(n, 6)) * np.array([1.0, 0.5, 0.2, 0.1, 0.3, 0.0])
    fig = plots.plot_shap_summary(contributions, features, max_features=4, max_points=300)
    ax = fig.axes[0]
    shown = [t.get_text() for t in ax.get_yticklabels()][::-1]  # the top row first
    assert shown == plots.shap_ranking(contributions, list(features.columns))[:4]
    assert shown[0] == "seat_utilization_30d"
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points == 4 * 300  # one dot per sampled account and shown feature
    plt.close(fig)
    with pytest.raises(ValueError, match="bias"):
        plots.plot_shap_summary(np.zeros((n, 7)), features)
