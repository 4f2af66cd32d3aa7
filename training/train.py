"""One training run: split by time, fit LightGBM, calibrate, evaluate against two baselines, bundle.

Pure of MLflow: ``train`` returns everything a tracker needs to log (``training.track``) and
everything a notebook needs to look at, so the CLI, the MLproject and the notebooks share
this one function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from training import evaluate, model
from training.bundle import FeatureSchema, ModelBundle
from training.calibrate import choose_on_held_out, fit_calibrator
from training.dataset import TrainingTable
from training.names import DEFAULT_BANDS
from training.peers import fit_peers, peer_keys
from training.reference import BookBuilder, fit_reference, reference_values
from training.split import DEFAULT_FRACTIONS, Split, random_split, time_split


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 7
    tune_trials: int = 0
    calibration: str = "auto"
    threads: int = 0
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    bands: tuple[float, float] = DEFAULT_BANDS
    test_from: pd.Timestamp | None = None  # backtest folds fix where the test window starts
    params: dict[str, object] | None = None  # LightGBM parameters over model.DEFAULT_PARAMS (tuning overrides both)


@dataclass
class TrainResult:
    bundle: ModelBundle
    split: Split
    metrics: dict[str, float]
    predictions: pd.DataFrame  # the test window, with labels and every model's scores
    params: dict[str, object]
    notes: list[str] = field(default_factory=list)

    @property
    def test_metrics(self) -> dict[str, float]:
        """The headline metrics automation reads (``test_*``, no per-segment breakdown)."""
        return {k: v for k, v in self.metrics.items() if k.startswith("test_") and "__" not in k}


def split_table(table: TrainingTable, config: TrainConfig) -> Split:
    if table.time_col is None:
        return random_split(table.y, config.seed, config.fractions)
    as_of = table.frame.get("as_of")
    return time_split(table.frame[table.time_col], table.y, as_of, config.fractions, test_from=config.test_from)


def logistic_baseline(X: pd.DataFrame, y: np.ndarray, train: np.ndarray, categorical: list[str], seed: int):
    """Logistic regression on the same features: median-imputed (with missing flags), scaled, one-hot."""
    numeric = [c for c in X.columns if c not in categorical]
    prepare = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()
                ),
                numeric,
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore", min_frequency=20), categorical),
        ]
    )
    frame = X.copy()
    for column in categorical:
        frame[column] = frame[column].astype("str")
    pipeline = make_pipeline(prepare, LogisticRegression(C=0.5, max_iter=2000, random_state=seed))
    pipeline.fit(frame.iloc[train], y[train])
    return pipeline.predict_proba(frame)[:, 1]


def train(
    table: TrainingTable,
    config: TrainConfig | None = None,
    fingerprint: dict | None = None,
    reference_book: BookBuilder | None = None,
) -> TrainResult:
    """Fit, calibrate and evaluate a renewal-risk model on ``table``; nothing is logged here.

    ``reference_book`` (``training.reference.book_builder(tables)``) builds the book as it
    stood inside the training window, which monitoring compares today's book with; without
    it the reference is binned from the training rows, which differ in shape from any book.
    """
    config = config or TrainConfig()
    split = split_table(table, config)
    y = table.y
    schema = FeatureSchema.fit(table.frame.iloc[split["train"]], table.features, table.catalog.categorical)
    X = schema.matrix(table.frame, warn=False)
    tr, va, ca, te = (split[name] for name in ("train", "valid", "calib", "test"))

    constraints = model.monotone_params(schema.names, table.catalog)
    params = dict(config.params or {}) | constraints
    if config.tune_trials:
        params |= model.tune(
            X.iloc[tr], y[tr], X.iloc[va], y[va], config.tune_trials, config.seed, config.threads, constraints
        )
    fitted = model.fit(X.iloc[tr], y[tr], X.iloc[va], y[va], params, config.seed, config.threads)
    raw = fitted.booster.predict(X, raw_score=True)
    method, calibration_report = config.calibration, {}
    if method == "auto":
        times = table.frame[table.time_col].to_numpy() if table.time_col else np.arange(len(y))
        method, calibration_report = choose_on_held_out(raw[ca], y[ca], times[ca])
    calibrator = fit_calibrator(raw[ca], y[ca], method)
    uncalibrated = 1.0 / (1.0 + np.exp(-raw))
    p = calibrator.apply(raw)

    arr = table.arr
    metrics = evaluate.risk_metrics(y[te], p[te], None if arr is None else arr[te], prefix="test_")
    metrics["test_ece_uncalibrated"] = evaluate.expected_calibration_error(y[te], uncalibrated[te])
    metrics["calib_ece_uncalibrated"] = evaluate.expected_calibration_error(y[ca], uncalibrated[ca])
    metrics["calib_ece"] = evaluate.expected_calibration_error(y[ca], p[ca])
    metrics |= {f"calib_{key}": value for key, value in calibration_report.items()}
    if table.segment is not None and arr is not None:
        metrics |= evaluate.metrics_by_segment(y[te], p[te], arr[te], table.segment[te], prefix="test_")

    logreg = logistic_baseline(X, y, np.concatenate([tr, va]), table.catalog.categorical, config.seed)
    rules = evaluate.rules_health_score(table.frame)
    for name, scores in (("logreg", logreg), ("rules", rules)):
        baseline = evaluate.risk_metrics(y[te], scores[te], None if arr is None else arr[te], prefix="test_")
        metrics |= {f"baseline_{name}_{key}": value for key, value in baseline.items() if key in _BASELINE_KEYS}

    strata = peer_keys(table.frame.iloc[te])
    scorers = {"model": p[te], "logreg": logreg[te], "rules": rules[te], "uncalibrated": uncalibrated[te]}
    metrics |= evaluate.stratified_metrics(y[te], scorers, strata, prefix="test_")

    predictions = _test_predictions(table, te, p, uncalibrated, {"logreg": logreg, "rules": rules})
    predictions = pd.concat([predictions, strata[["cadence", "horizon"]].reset_index(drop=True)], axis=1)
    metadata = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": table.label,
        "id_col": table.id_col,
        "time_col": table.time_col,
        "split": split.windows,
        "time_based_split": split.time_based,
        "best_iteration": fitted.best_iteration,
        "params": {k: v for k, v in fitted.params.items() if k not in ("verbosity", "num_threads")},
        "calibration": calibrator.method,
        "bands": list(config.bands),
        "metrics": {k: v for k, v in metrics.items() if "__" not in k},
        "metrics_by_stratum": {k: v for k, v in metrics.items() if "__cadence" in k or "__horizon" in k},
        "fingerprint": fingerprint or {},
        # the numbers reason sentences compare an account with ("renewing accounts typically use 64%")
        "reference": reference_values(table.frame.iloc[tr], y[tr], table.catalog),
        "seed": config.seed,
        # the furthest renewal the model saw: scoring further ahead is flagged (training/bundle.py)
        "max_horizon_days": _max_horizon(table),
    }
    bundle = ModelBundle(fitted.booster, schema, calibrator, table.catalog, metadata)
    # explanations start from comparable accounts, never from the average training row (training/peers.py)
    metadata["peers"] = fit_peers(bundle, table.frame.iloc[tr], y[tr], table.catalog).to_json()
    # what monitoring compares the book with: the training window's inputs and scores (training/reference.py)
    metadata["reference_distributions"] = _reference(bundle, table, tr, p, config, reference_book)
    return TrainResult(bundle, split, metrics, predictions, fitted.params, list(split.notes))


def _reference(
    bundle: ModelBundle,
    table: TrainingTable,
    rows: np.ndarray,
    p: np.ndarray,
    config: TrainConfig,
    reference_book: BookBuilder | None,
) -> dict[str, object]:
    """Book-shaped reference distributions when the tables are at hand, the training rows' otherwise."""
    names, categorical = bundle.schema.names, table.catalog.categorical
    if reference_book is None or "as_of" not in table.frame:
        return fit_reference(table.frame.iloc[rows], names, categorical, p[rows], config.bands)
    as_of = pd.to_datetime(table.frame["as_of"])  # every labelled snapshot of the run: the world it was built in
    book, dates = reference_book(as_of.iloc[rows].min(), as_of.max())
    if book.empty:
        return fit_reference(table.frame.iloc[rows], names, categorical, p[rows], config.bands)
    return fit_reference(book, names, categorical, bundle.churn_probability(book, warn=False), config.bands, dates)


def _max_horizon(table: TrainingTable) -> float | None:
    if "days_to_renewal" not in table.frame:
        return None
    days = pd.to_numeric(table.frame["days_to_renewal"], errors="coerce")
    return float(days.max()) if days.notna().any() else None


_BASELINE_KEYS = {"test_roc_auc", "test_pr_auc", "test_brier", "test_ece", "test_lift_at_10", "test_arr_capture_at_20"}


def _test_predictions(
    table: TrainingTable, rows: np.ndarray, p: np.ndarray, uncalibrated: np.ndarray, baselines: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The test window, one row per snapshot, for error analysis."""
    keep = [c for c in ("contract_id", table.id_col, "as_of", "renewal_date", "segment", "arr") if c in table.frame]
    frame = table.frame.iloc[rows][list(dict.fromkeys(keep))].reset_index(drop=True)
    frame["churned"] = table.y[rows]
    frame["churn_risk"] = p[rows]
    frame["renewal_probability"] = 1.0 - p[rows]
    frame["churn_risk_uncalibrated"] = uncalibrated[rows]
    for name, scores in baselines.items():
        frame[f"baseline_{name}"] = scores[rows]
    if "segment" in frame:
        frame["segment"] = frame["segment"].astype("str")
    return frame
