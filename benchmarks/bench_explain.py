"""Benchmark: explanations for 10,000 accounts with a 300-tree model, against shap.TreeExplainer.

Target (issue #4): at least as fast as ``shap.TreeExplainer`` on the same model and rows.
The model is trained on the demo snapshots for exactly 300 rounds (no early stopping) and
wrapped in a real bundle (schema, calibrator, catalog, reference numbers). Three timings on
the same 10,000 rows, best of ``--repeat`` runs each:

- ``shap.TreeExplainer(booster).shap_values(X)``: the values alone;
- ``ModelBundle.contributions`` (LightGBM ``pred_contrib``): the same values (checked equal);
- ``Explainer.explain``: complete explanations, i.e. the values plus points, driver groups,
  the top 3 risk drivers and top 2 protective factors in words, and the plays.

    python benchmarks/bench_explain.py [--data data/demo] [--rows 10000] [--trees 300]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import shap

from explain.playbook import Playbook
from explain.reasons import Explainer
from features.build import build_training_snapshots
from features.load import load_tables
from training import model
from training.dataset import from_snapshots
from training.train import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"


def best_of(repeat: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    snapshots = build_training_snapshots(load_tables(args.data))
    result = train(from_snapshots(snapshots.frame, snapshots.catalog), TrainConfig())
    bundle = result.bundle
    X = bundle.matrix(snapshots.frame, warn=False)
    params = {**model.DEFAULT_PARAMS, "seed": 7, "num_threads": 0}
    booster = lgb.train(params, lgb.Dataset(X, snapshots.frame["churned"].to_numpy()), num_boost_round=args.trees)
    bundle = replace(bundle, booster=booster)
    rows = snapshots.frame.sample(n=min(args.rows, len(snapshots.frame)), random_state=0).reset_index(drop=True)
    matrix = bundle.matrix(rows, warn=False)
    explainer = Explainer(bundle, Playbook.load())

    shap_seconds, shap_values = best_of(args.repeat, lambda: shap.TreeExplainer(booster).shap_values(matrix))
    shap_values = shap_values[1] if isinstance(shap_values, list) else shap_values
    contrib_seconds, contributions = best_of(args.repeat, lambda: bundle.contributions(rows, warn=False))
    explain_seconds, explanations = best_of(args.repeat, lambda: explainer.explain(rows, warn=False))
    assert len(explanations) == len(rows)
    report = {
        "rows": len(rows),
        "features": len(bundle.schema.names),
        "trees": booster.num_trees(),
        "num_leaves": params["num_leaves"],
        "shap_tree_explainer_s": round(shap_seconds, 3),
        "pred_contrib_s": round(contrib_seconds, 3),
        "full_explanations_s": round(explain_seconds, 3),
        "max_abs_difference_vs_shap": float(np.abs(contributions[:, :-1] - shap_values).max()),
        "pred_contrib_speedup_vs_shap": round(shap_seconds / contrib_seconds, 2),
        "full_explanations_vs_shap": round(shap_seconds / explain_seconds, 2),
        "accounts_per_second_full": round(len(rows) / explain_seconds),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_explain.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
