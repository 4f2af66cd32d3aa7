"""Training: time-based split, LightGBM, calibration, evaluation, MLflow tracking and registry, scoring, forecast."""
