"""Benchmark: the out-of-sample forecast backtest on the demo data.

Target (issue #10, point 6): the 80% interval of the renewing-ARR forecast holds at 70-90% of
rolling monthly cutoffs. At each cutoff the model is refitted on outcomes known before it,
the book in force then is scored, and the next month's and next quarter's renewing ARR
(monthly plans at every renewal) is compared with what renewed (``training.forecast_run``).

Writes ``benchmarks/results/forecast_backtest.json``: one row per cutoff and horizon
(forecast, actual, error %, 80% and 95% intervals and whether they held), the coverage per
horizon, and the time taken.

    python benchmarks/bench_forecast_backtest.py [--data data/demo] [--cutoffs 8] [--seed 7]

Generate the demo data first if it is absent: ``churn demo-data --out data/demo``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.load import load_tables
from training.forecast_run import forecast_backtest

RESULTS = Path(__file__).resolve().parent / "results"


def _plain(value):
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if np.isnan(value) else round(float(value), 4)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--cutoffs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not (args.data / "contracts.parquet").exists() and not (args.data / "contracts.csv").exists():
        raise SystemExit(f"{args.data}: no demo data. Generate it with `churn demo-data --out {args.data}`.")

    started = time.perf_counter()
    tables = load_tables(args.data)
    loaded = time.perf_counter() - started

    def progress(done: int, total: int) -> None:
        print(f"cutoff {done}/{total} done after {time.perf_counter() - started:.0f} s", flush=True)

    report = forecast_backtest(tables, args.cutoffs, seed=args.seed, on_cutoff=progress)
    rows = [{k: _plain(v) for k, v in row.items()} for row in report.rows.to_dict("records")]
    coverage = [{k: _plain(v) for k, v in row.items()} for row in report.coverage.to_dict("records")]
    result = {
        "data": str(args.data),
        "cutoffs": args.cutoffs,
        "seed": args.seed,
        "load_seconds": round(loaded, 1),
        "backtest_seconds": round(report.seconds, 1),
        "seconds_per_cutoff": round(report.seconds / max(args.cutoffs, 1), 1),
        "coverage_target_80": "0.70-0.90 of cutoffs",
        "coverage": coverage,
        "rows": rows,
        "notes": report.notes,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "forecast_backtest.json").write_text(json.dumps(result, indent=2))
    shown = report.rows[["cutoff", "horizon", "forecast", "actual", "error_pct", "inside_80", "inside_95"]]
    print(shown.to_string(index=False))
    print(report.coverage.to_string(index=False))


if __name__ == "__main__":
    main()
