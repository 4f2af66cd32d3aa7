"""Quality on the demo data: how close does the model get to the oracle?

The demo generator records the renewal probability it actually used
(``_truth/renewals.parquet``). Its AUC on the test window is the best any model could do
with perfect knowledge; the model's gap to it is the honest measure of what is left. Also
reports calibration (ECE) and both baselines on the same rows.

    python benchmarks/eval_vs_oracle.py [--data data/demo] [--seed 7]

Targets: AUC within 0.03 of the oracle, ECE <= 0.02, better than both baselines (issue #3);
explanation hit rate >= 0.80 (issue #4): the true cause among the top 3 driver groups.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from explain.evaluate import explanation_hit_rate
from features.build import build_training_snapshots
from features.load import load_tables
from training.dataset import from_snapshots
from training.train import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    snapshots = build_training_snapshots(load_tables(args.data))
    result = train(from_snapshots(snapshots.frame, snapshots.catalog), TrainConfig(seed=args.seed))
    seconds = time.perf_counter() - started
    truth = pd.read_parquet(args.data / "_truth" / "renewals.parquet")
    test = result.predictions.merge(
        truth[["contract_id", "true_renewal_probability", "primary_driver"]], on="contract_id"
    )
    assert len(test) == len(result.predictions), "every test row must have ground truth"
    y = test["churned"].to_numpy()
    report = {
        "test_rows": len(test),
        "test_churned": int(y.sum()),
        "test_window": next(w for w in result.split.windows if w["window"] == "test"),
        "model_roc_auc": round(roc_auc_score(y, test["churn_risk"]), 4),
        "oracle_roc_auc": round(roc_auc_score(y, 1 - test["true_renewal_probability"]), 4),
        "model_ece": round(result.metrics["test_ece"], 4),
        "model_ece_uncalibrated": round(result.metrics["test_ece_uncalibrated"], 4),
        "oracle_ece": None,
        "baseline_logreg_roc_auc": round(result.metrics["baseline_logreg_test_roc_auc"], 4),
        "baseline_rules_roc_auc": round(result.metrics["baseline_rules_test_roc_auc"], 4),
        "model_pr_auc": round(result.metrics["test_pr_auc"], 4),
        "model_arr_capture_at_20": round(result.metrics["test_arr_capture_at_20"], 4),
        "calibration": result.bundle.calibrator.method,
        "seconds_build_and_train": round(seconds, 1),
    }
    from training.evaluate import expected_calibration_error

    hit = explanation_hit_rate(result.bundle, snapshots.frame.iloc[result.split["test"]], truth)
    report["explanation_hit_rate"] = round(hit["explanation_hit_rate"], 4)
    report["explanation_hit_rate_features"] = round(hit["explanation_hit_rate_features"], 4)
    report["explanation_hit_rate_rows"] = int(hit["explanation_hit_rate_rows"])
    report["explanation_hit_rate_by_group"] = {
        k.split("__")[1]: round(v, 3) for k, v in hit.items() if k.startswith("explanation_hit_rate__")
    }
    report["oracle_ece"] = round(expected_calibration_error(y, 1 - test["true_renewal_probability"].to_numpy()), 4)
    report["gap_to_oracle"] = round(report["oracle_roc_auc"] - report["model_roc_auc"], 4)
    report["meets_targets"] = bool(
        report["gap_to_oracle"] <= 0.03
        and report["model_ece"] <= 0.02
        and report["model_roc_auc"] > max(report["baseline_logreg_roc_auc"], report["baseline_rules_roc_auc"])
        and report["explanation_hit_rate"] >= 0.80
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "eval_vs_oracle.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
