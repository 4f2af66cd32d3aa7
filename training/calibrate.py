"""Calibration: turn the booster's scores into probabilities finance can add up.

Fitted on the calibration window only (never on the rows the booster learned from) and
stored as plain numbers: sigmoid (Platt) scaling is two coefficients on the log-odds;
isotonic regression is its step function's breakpoints. LightGBM's binary objective is often
well calibrated already, and a calibrator fitted on a few hundred churners can make it worse,
so with ``auto`` the method (none, Platt or isotonic) is chosen on held-out data: the
calibration window is cut in two by time, each candidate is fitted on one half and judged on
the other by log loss (a proper score: it rewards probabilities that are right, not just
ranks), and a calibrator must beat none by ``MIN_GAIN`` to be used. The choice and every
candidate's held-out numbers are returned for logging.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ISOTONIC_MIN_CHURNERS = 300  # below this, isotonic steps follow noise; Platt's two numbers do not
MIN_GAIN = 0.002  # relative log-loss gain a calibrator must bring on held-out rows to be used
METHODS = ("identity", "sigmoid", "isotonic")
METHOD_NAMES = {"identity": "none", "sigmoid": "Platt", "isotonic": "isotonic"}  # as people say them


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from raw log-odds to calibrated churn probability."""

    method: str  # "sigmoid", "isotonic" or "identity"
    slope: float = 1.0
    intercept: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, raw_score: np.ndarray) -> np.ndarray:
        raw_score = np.asarray(raw_score, dtype=float)
        if self.method == "sigmoid":
            return _sigmoid(self.slope * raw_score + self.intercept)
        if self.method == "isotonic":
            return np.interp(_sigmoid(raw_score), self.x, self.y)
        return _sigmoid(raw_score)

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "slope": self.slope,
            "intercept": self.intercept,
            "x": list(self.x),
            "y": list(self.y),
        }

    @classmethod
    def from_json(cls, data: dict) -> Calibrator:
        return cls(data["method"], float(data["slope"]), float(data["intercept"]), tuple(data["x"]), tuple(data["y"]))


def choose_method(y: np.ndarray) -> str:
    return "isotonic" if int(np.sum(y)) >= ISOTONIC_MIN_CHURNERS else "sigmoid"


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def choose_on_held_out(raw_score: np.ndarray, y: np.ndarray, times: np.ndarray) -> tuple[str, dict[str, float]]:
    """The method with the best held-out log loss over two time halves of the window (none unless one helps).

    Returns the method and, per candidate, its held-out log loss and ECE (both halves pooled).
    """
    from training.evaluate import expected_calibration_error

    raw_score, y = np.asarray(raw_score, dtype=float), np.asarray(y)
    order = np.argsort(np.asarray(times), kind="stable")
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    report: dict[str, float] = {}
    losses: dict[str, float] = {}
    for method in METHODS:
        if method == "isotonic" and int(y.sum()) < ISOTONIC_MIN_CHURNERS // 2:
            continue
        p = np.empty(len(y))
        for fit_rows, judge_rows in (halves, halves[::-1]):
            if method != "identity" and (len(fit_rows) == 0 or y[fit_rows].min() == y[fit_rows].max()):
                break
            p[judge_rows] = fit_calibrator(raw_score[fit_rows], y[fit_rows], method).apply(raw_score[judge_rows])
        else:
            losses[method] = _log_loss(y, p)
            report[f"held_out_log_loss_{method}"] = losses[method]
            report[f"held_out_ece_{method}"] = expected_calibration_error(y, p)
    best = min(losses, key=losses.get)  # type: ignore[arg-type]
    if losses[best] > losses["identity"] * (1 - MIN_GAIN):
        best = "identity"
    return best, report


def fit_calibrator(raw_score: np.ndarray, y: np.ndarray, method: str = "auto") -> Calibrator:
    """Fit on the calibration window's raw scores and labels (``auto``: by the number of churners)."""
    from sklearn.isotonic import IsotonicRegression  # fitting only: applying a calibrator is numpy
    from sklearn.linear_model import LogisticRegression

    method = choose_method(y) if method == "auto" else method
    if method == "sigmoid":
        model = LogisticRegression(C=1e6, max_iter=1000).fit(np.asarray(raw_score).reshape(-1, 1), y)
        return Calibrator("sigmoid", float(model.coef_[0, 0]), float(model.intercept_[0]))
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(_sigmoid(raw_score), y)
        return Calibrator("isotonic", x=tuple(map(float, iso.X_thresholds_)), y=tuple(map(float, iso.y_thresholds_)))
    if method == "identity":
        return Calibrator("identity")
    raise ValueError(f"unknown calibration method {method!r}; expected auto, sigmoid, isotonic or identity")
