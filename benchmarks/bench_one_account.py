"""Benchmark: a command about one account against a command about the whole book, as a user runs them.

Target (issue #12): ``churn explain --account X`` takes at most 20% of ``churn score``'s wall
time on the same data and model (both real processes, started the way a user starts them,
imports and model loading included), and its peak memory is reported beside score's. Two
ways to explain one account are timed: from the tables (``--data``: that account's rows only)
and from the snapshot store that ``churn score --store`` writes (``--store``: its stored
snapshot and the explanation precomputed for this model). The store is written once before
the timing; then score and both explains run alternately, best of ``--repeat`` each, so a
noisy machine slows all alike and the ratios hold.

It needs a model: by default the champion in ./mlflow.db that ``make demo`` registers
(``--model-uri`` takes a bundle folder or any other URI).

    python benchmarks/bench_one_account.py [--data data/demo] [--as-of 2026-11-01] [--repeat 3]

The store write is slow (every account's monthly snapshots, scores and pages: about half a
minute on the default demo); it is part of the nightly ``churn score --store`` a deployment
runs anyway, not of the command a CSM waits for.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

RESULTS = Path(__file__).resolve().parent / "results"
CHURN = Path(sys.executable).with_name("churn")


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB, sampled every 20 ms) of one ``churn`` process."""
    started = time.perf_counter()
    process = subprocess.Popen([str(CHURN), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watched, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"churn {' '.join(args)} failed:\n{process.stderr.read()}")
    return seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--as-of", default="2026-11-01")
    parser.add_argument("--model-uri", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    model = ["--model-uri", options.model_uri] if options.model_uri else []
    with tempfile.TemporaryDirectory() as tmp:
        scores = Path(tmp) / "scores.csv"
        score = ["score", "--data", options.data, "--as-of", options.as_of, "--out", str(scores), *model]
        score_runs = [run(score)]
        with scores.open() as fh:
            account = next(csv.DictReader(fh))["account_id"]  # the account with the most ARR at risk
        store = Path(tmp) / "snapshots.db"
        run([*score, "--store", str(store), "--reasons", "3"])  # the store the fast path reads (not timed)
        explain = ["explain", "--data", options.data, "--as-of", options.as_of, "--account", account, "--compare", "30"]
        stored = ["explain", "--store", str(store), "--account", account]
        explain_runs, stored_runs = [run([*explain, *model])], [run([*stored, *model])]
        for _ in range(options.repeat - 1):
            score_runs.append(run(score))
            explain_runs.append(run([*explain, *model]))
            stored_runs.append(run([*stored, *model]))
    best_score, best_explain, best_stored = min(score_runs), min(explain_runs), min(stored_runs)
    result = {
        "account": account,
        "score_seconds": round(best_score[0], 2),
        "score_peak_mb": round(max(m for _, m in score_runs)),
        "explain_data_seconds": round(best_explain[0], 2),
        "explain_data_peak_mb": round(max(m for _, m in explain_runs)),
        "explain_data_ratio": round(best_explain[0] / best_score[0], 3),
        "explain_store_seconds": round(best_stored[0], 2),
        "explain_store_peak_mb": round(max(m for _, m in stored_runs)),
        "explain_store_ratio": round(best_stored[0] / best_score[0], 3),
        "target_ratio": 0.20,
        "cpus": os.cpu_count(),
    }
    result["met_from_store"] = result["explain_store_ratio"] <= result["target_ratio"]
    result["met_from_data"] = result["explain_data_ratio"] <= result["target_ratio"]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "one_account.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
