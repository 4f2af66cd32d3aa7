"""Calibration: turn the booster's scores into probabilities finance can add up.

Fitted on the calibration window only (never on the rows the booster learned from) and
stored as plain numbers: sigmoid (Platt) scaling is two coefficients on the log-odds;
isotonic regression is its step function's breakpoints. Isotonic is more flexible but needs
many churners to be stable, so the method is chosen by the size of the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

ISOTONIC_MIN_CHURNERS = 300  # below this, isotonic steps follow noise; Platt's two numbers do not


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


def fit_calibrator(raw_score: np.ndarray, y: np.ndarray, method: str = "auto") -> Calibrator:
    """Fit on the calibration window's raw scores and labels."""
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
