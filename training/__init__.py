"""Training: time-based split, LightGBM, calibration, evaluation and MLflow tracking (next milestone)."""
