"""Benchmark: build all training snapshots for 10,000 accounts x 3 years of demo data.

Target on a 2-core machine: <= 60 s and <= 4 GB peak memory. The build runs as the real
`churn build-features` command in a subprocess; memory is the peak of the summed resident
set of that process and all its children (parallel workers included), sampled every 50 ms.

    python benchmarks/bench_build_features.py [--accounts 10000] [--years 3] [--workers 1 2]

Results go to benchmarks/results/build_features.json and are printed as a table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CHURN = [sys.executable, "-m", "churn"]


def run_measured(command: list[str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS of its process tree in GB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    parent = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    output = process.stdout.read().decode()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{output}")
    return seconds, peak / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep-data", action="store_true", help="Reuse generated data from a previous run.")
    args = parser.parse_args()

    data = RESULTS / f"data-{args.accounts}x{args.years}"
    generated = None
    if not (args.keep_data and (data / "usage.parquet").exists()):
        shutil.rmtree(data, ignore_errors=True)
        seconds, gb = run_measured(
            [*CHURN, "demo-data", "--out", str(data), "--accounts", str(args.accounts), "--years", str(args.years)]
        )
        generated = {"demo_data_seconds": round(seconds, 1), "demo_data_peak_gb": round(gb, 2)}
        print(f"demo-data: {seconds:.1f} s, peak {gb:.2f} GB")
    usage_rows = len(pd.read_parquet(data / "usage.parquet", columns=["value"]))

    rows = []
    for workers in args.workers:
        out = RESULTS / f"snapshots-w{workers}.parquet"
        seconds, gb = run_measured(
            [*CHURN, "build-features", "--data", str(data), "--out", str(out), "--workers", str(workers)]
        )
        snapshots = len(pd.read_parquet(out, columns=["account_id"]))
        rows.append(
            {
                "accounts": args.accounts,
                "years": args.years,
                "usage_rows": usage_rows,
                "workers": workers,
                "snapshots": snapshots,
                "seconds": round(seconds, 1),
                "snapshots_per_second": round(snapshots / seconds),
                "usage_rows_per_second": round(usage_rows / seconds),
                "peak_gb": round(gb, 2),
                **(generated or {}),
            }
        )
        print(json.dumps(rows[-1]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build_features.json").write_text(json.dumps(rows, indent=2))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
