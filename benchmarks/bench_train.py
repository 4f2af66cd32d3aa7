"""Benchmark: train on 100,000 snapshots x 60 features, with calibration, on 2 cores.

Target (issue #3): <= 60 s. The table is synthetic but shaped like ours: 56 numeric
features with missing values, 4 categoricals, a time column spanning three years and a
churn rate around 10%. Times the whole ``training.train.train`` call (split, LightGBM with
early stopping, calibration, evaluation, both baselines) and, separately, LightGBM alone.

    python benchmarks/bench_train.py [--rows 100000] [--features 60]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.catalog import Catalog, Feature
from training import model
from training.dataset import TrainingTable
from training.train import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"
CATEGORICAL = {"segment": 3, "plan": 3, "industry": 8, "region": 4}


def synthetic(rows: int, features: int, seed: int = 0) -> TrainingTable:
    rng = np.random.default_rng(seed)
    numeric = features - len(CATEGORICAL)
    X = rng.normal(size=(rows, numeric))
    X[rng.random(X.shape) < 0.05] = np.nan
    weights = rng.normal(0, 0.4, numeric) * (rng.random(numeric) < 0.4)
    logit = -2.4 + np.nan_to_num(X) @ weights + 0.5 * np.nan_to_num(X[:, 0] * X[:, 1])
    frame = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(numeric)])
    for name, levels in CATEGORICAL.items():
        codes = rng.integers(0, levels, rows)
        frame[name] = pd.Series([f"{name}_{c}" for c in codes]).astype("str")
        logit += (codes - levels / 2) * 0.1
    frame["churned"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("int8")
    frame["renewal_date"] = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 1095, rows), unit="D")
    frame["as_of"] = frame["renewal_date"] - pd.Timedelta(days=90)
    frame["account_id"] = [f"A{i}" for i in range(rows)]
    frame["arr"] = rng.lognormal(10, 1, rows)
    catalog = Catalog(
        tuple(Feature(f"f{i:02d}", f"feature {i}", "x", "usage") for i in range(numeric))
        + tuple(Feature(n, n, "category", "commercial", kind="categorical") for n in CATEGORICAL)
    )
    return TrainingTable(frame.sort_values("renewal_date", ignore_index=True), catalog)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=60)
    args = parser.parse_args()
    table = synthetic(args.rows, args.features)

    started = time.perf_counter()
    result = train(table, TrainConfig(seed=7))
    total = time.perf_counter() - started

    split = result.split
    X = result.bundle.matrix(table.frame, warn=False)
    y = table.y
    started = time.perf_counter()
    fitted = model.fit(X.iloc[split["train"]], y[split["train"]], X.iloc[split["valid"]], y[split["valid"]], seed=7)
    lightgbm_only = time.perf_counter() - started
    report = {
        "rows": args.rows,
        "features": args.features,
        "train_seconds_total": round(total, 1),
        "lightgbm_fit_seconds": round(lightgbm_only, 1),
        "best_iteration": fitted.best_iteration,
        "test_roc_auc": round(result.metrics["test_roc_auc"], 4),
        "test_ece": round(result.metrics["test_ece"], 4),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
