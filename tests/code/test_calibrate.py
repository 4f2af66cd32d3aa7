"""Calibration: fitted on its own window, stored as numbers, and it makes probabilities honest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.calibrate import Calibrator, fit_calibrator


def overconfident(n: int, seed: int):
    """Raw scores twice as extreme as the truth (a common booster habit) and labels drawn from the truth."""
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(-1.5, 1.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    return 2.0 * true_logit + 0.5, y


def ece(y, p, bins=15):
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    return sum(
        abs(y[which == b].mean() - p[which == b].mean()) * (which == b).mean()
        for b in range(bins)
        if (which == b).any()
    )


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_fixes_overconfident_scores(method):
    raw, y = overconfident(20000, seed=1)
    calibrator = fit_calibrator(raw[:10000], y[:10000], method)
    before = ece(y[10000:], 1 / (1 + np.exp(-raw[10000:])))
    after = ece(y[10000:], calibrator.apply(raw[10000:]))
    assert after < before / 3
    assert after < 0.02


def test_calibration_keeps_the_ranking():
    raw, y = overconfident(5000, seed=2)
    calibrator = fit_calibrator(raw, y, "sigmoid")
    order = np.argsort(raw)
    assert np.all(np.diff(calibrator.apply(raw)[order]) >= 0)


def test_method_is_chosen_by_the_number_of_churners():
    raw, y = overconfident(20000, seed=3)
    assert fit_calibrator(raw, y).method == "isotonic"
    assert fit_calibrator(raw[:500], y[:500]).method == "sigmoid"


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "identity"])
def test_calibrator_round_trips_through_json(method):
    raw, y = overconfident(3000, seed=4)
    calibrator = fit_calibrator(raw, y, method)
    restored = Calibrator.from_json(json.loads(json.dumps(calibrator.to_json())))
    np.testing.assert_allclose(restored.apply(raw), calibrator.apply(raw))


def test_calibration_is_chosen_on_held_out_halves_and_none_wins_when_scores_are_honest():
    from training.calibrate import choose_on_held_out

    rng = np.random.default_rng(5)
    logit = rng.normal(-1.5, 1.0, 6000)
    y = (rng.random(6000) < 1 / (1 + np.exp(-logit))).astype(int)
    method, report = choose_on_held_out(logit, y, np.arange(6000))
    assert method == "identity"
    assert {"held_out_log_loss_identity", "held_out_ece_sigmoid", "held_out_log_loss_isotonic"} <= set(report)
    raw, y = overconfident(6000, seed=2)
    method, report = choose_on_held_out(raw, y, np.arange(6000))
    assert method in ("sigmoid", "isotonic")
    assert report[f"held_out_log_loss_{method}"] < report["held_out_log_loss_identity"]
