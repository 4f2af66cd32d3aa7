"""Load benchmark: the real `bentoml serve` on loopback against in-process scoring, with reasons.

Targets (issue #5):
- ``POST /score`` with batches of 500 accounts (3 reasons each): throughput at least 80% of
  in-process scoring with reasons on the same model and rows;
- one account with reasons: p99 latency at most 50 ms (p50 reported too);
- 16 concurrent clients for 60 s: zero errors; throughput and the server's memory reported.

Targets (issue #11, per-account routes, read from the snapshot store):
- ``GET /accounts/{id}``, one client: p50 at most 20 ms;
- ``POST /score_accounts`` with one id, one client: p50 at most 15 ms;
- 8 concurrent clients on those two routes: at least 80 requests/s, zero errors.

The model is trained on the demo data (``--data``) and served from a folder, with a snapshot
store of the current book; every request loop is bounded in count and time.

    python benchmarks/bench_serve.py [--data data/demo] [--seconds 60] [--clients 16]
                                     [--account-seconds 30] [--account-clients 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psutil
import requests

from explain.pages import TREND_MONTHS, default_as_of
from explain.playbook import Playbook
from explain.reasons import Explainer
from features.build import build_scoring_snapshots, build_training_snapshots
from features.load import load_tables
from serving.runtime import Runtime
from serving.store import store_from_tables

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test helpers that start a real server
from tests.serving.local_server import start_server, stop_server
from training.bundle import ModelBundle
from training.dataset import from_snapshots
from training.train import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 500
REASONS = 3


def payloads(frame, names: list[str]) -> list[dict]:
    """Feature payloads as a CRM job sends them: JSON numbers and strings, unknown values left out."""
    records = []
    for row in frame[["account_id", *names]].to_dict("records"):
        payload = {"account_id": str(row["account_id"])}
        for name in names:
            value = row[name]
            if isinstance(value, str):
                payload[name] = value
            elif value is not None and np.isfinite(value):
                payload[name] = float(value)
        records.append(payload)
    return records


def best_rate(repeat: int, count: int, fn) -> float:
    """Accounts per second, best of ``repeat`` runs of ``fn`` over ``count`` accounts."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return count / min(times)


def server_memory_mb(process) -> float:
    """Resident memory of the server and all its workers."""
    root = psutil.Process(process.pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker that just exited
            total += p.memory_info().rss
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--single", type=int, default=500, help="sequential single-account requests")
    parser.add_argument("--account-seconds", type=float, default=30, help="length of the per-account load")
    parser.add_argument("--account-clients", type=int, default=8, help="clients of the per-account load")
    args = parser.parse_args()

    tables = load_tables(args.data)
    snapshots = build_training_snapshots(tables)
    result = train(from_snapshots(snapshots.frame, snapshots.catalog), TrainConfig())
    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    model = result.bundle.save(tmp / "model")
    as_of = default_as_of(tables)
    current = build_scoring_snapshots(tables, as_of).frame
    # as `churn score --store` does: the model the service will load (from its folder), so the
    # store holds that model's precomputed answers (serving/answers.py)
    explainer = Explainer(ModelBundle.load(model), Playbook.load())
    started = time.perf_counter()
    store_from_tables(tmp / "snapshots.db", tables, current, as_of, months=TREND_MONTHS, explainer=explainer)
    store_seconds = time.perf_counter() - started
    names = result.bundle.schema.names
    rows = current.sample(n=BATCH, replace=len(current) < BATCH, random_state=0).reset_index(drop=True)
    batch = payloads(rows, names)

    runtime = Runtime.load(str(model), str(tmp / "snapshots.db"))
    in_process = best_rate(10, BATCH, lambda: runtime.score_payloads(batch, REASONS))

    env = {"CHURN_MODEL_URI": str(model), "CHURN_SNAPSHOT_STORE": str(tmp / "snapshots.db")}
    base, process = start_server(env, None, tmp / "server.log", workers=args.workers)
    try:
        session = requests.Session()
        # The body is encoded once, as a CRM job would: the server's throughput is measured, not the client's JSON.
        body = json.dumps({"accounts": batch, "reasons": REASONS}).encode()
        headers = {"content-type": "application/json"}

        def post_batch():
            response = session.post(f"{base}/score", data=body, headers=headers, timeout=60)
            response.raise_for_status()
            response.json()

        post_batch()  # warm up
        over_http = best_rate(10, BATCH, post_batch)

        latencies = []
        for i in range(args.single):
            one = {"accounts": [batch[i % BATCH]], "reasons": REASONS}
            started = time.perf_counter()
            response = session.post(f"{base}/score", json=one, timeout=30)
            latencies.append(1e3 * (time.perf_counter() - started))
            response.raise_for_status()

        ids = [p["account_id"] for p in batch]
        paths = [quote(a, safe="") for a in ids]
        per_account = {
            "account_json": sequential(
                session, args.single, lambda i: ("GET", f"{base}/accounts/{paths[i % BATCH]}", None)
            ),
            "account_page": sequential(
                session, args.single // 5, lambda i: ("GET", f"{base}/accounts/{paths[i % BATCH]}/page", None)
            ),
            "score_accounts_one": sequential(
                session,
                args.single,
                lambda i: ("POST", f"{base}/score_accounts", {"account_ids": [ids[i % BATCH]], "reasons": REASONS}),
            ),
        }
        account_load = per_account_load(base, ids, args.account_clients, args.account_seconds)
        load = concurrent_load(base, batch, args.clients, args.seconds, process)
    finally:
        stop_server(process)

    report = {
        "model_trees": result.bundle.booster.num_trees(),
        "features": len(names),
        "batch_size": BATCH,
        "store_accounts": int(current["account_id"].nunique()),
        "store_months": TREND_MONTHS,
        "store_write_with_precompute_s": round(store_seconds, 1),
        "reasons": REASONS,
        "in_process_accounts_per_s": round(in_process),
        "http_batch_accounts_per_s": round(over_http),
        "http_vs_in_process": round(over_http / in_process, 3),
        "single_p50_ms": round(statistics.median(latencies), 2),
        "single_p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "single_requests": len(latencies),
        **{f"{route}_{k}": v for route, figures in per_account.items() for k, v in figures.items()},
        **account_load,
        **load,
        "server_workers": args.workers,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_serve.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def sequential(session: requests.Session, count: int, request) -> dict:
    """One client, ``count`` requests in a row (after one warm-up): p50 and p99 latency in ms.

    ``request(i)`` gives the i-th request as (method, url, JSON body or None); every answer must be 200.
    """
    latencies = []
    for i in range(-1, count):
        method, url, body = request(max(i, 0))
        started = time.perf_counter()
        response = session.request(method, url, json=body, timeout=30)
        elapsed = 1e3 * (time.perf_counter() - started)
        response.raise_for_status()
        if i >= 0:
            latencies.append(elapsed)
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "requests": len(latencies),
    }


def per_account_load(base: str, ids: list[str], clients: int, seconds: float) -> dict:
    """``clients`` threads for ``seconds``, alternating ``GET /accounts/{id}`` and ``/score_accounts`` of one id."""
    stop = time.monotonic() + seconds
    counts = {"ok": 0, "errors": 0, "status": {}}
    lock = threading.Lock()

    def client(k: int) -> None:
        session = requests.Session()
        i = k
        while time.monotonic() < stop:
            i += clients
            account = ids[i % len(ids)]
            try:
                if i % 2:
                    response = session.get(f"{base}/accounts/{quote(account, safe='')}", timeout=30)
                else:
                    body = {"account_ids": [account], "reasons": REASONS}
                    response = session.post(f"{base}/score_accounts", json=body, timeout=30)
                status = response.status_code
            except requests.RequestException as error:  # counted as an error, by kind
                status = type(error).__name__
            with lock:
                counts["ok" if status == 200 else "errors"] += 1
                counts["status"][status] = counts["status"].get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for k in range(clients):
            pool.submit(client, k)
    elapsed = time.perf_counter() - started
    total = counts["ok"] + counts["errors"]
    return {
        "account_load_clients": clients,
        "account_load_seconds": round(elapsed, 1),
        "account_load_requests": total,
        "account_load_errors": counts["errors"],
        "account_load_status_codes": {str(k): v for k, v in counts["status"].items()},
        "account_load_requests_per_s": round(total / elapsed, 1),
    }


def concurrent_load(base: str, batch: list[dict], clients: int, seconds: float, process) -> dict:
    """``clients`` threads, each sending single-account /score and /score_accounts requests for ``seconds``."""
    stop = time.monotonic() + seconds
    counts = {"ok": 0, "errors": 0, "status": {}}
    lock = threading.Lock()
    memory: list[float] = []
    ids = [p["account_id"] for p in batch]

    def client(k: int) -> None:
        session = requests.Session()
        i = k
        while time.monotonic() < stop:
            i += clients
            if i % 4 == 0:
                request = ("/score_accounts", {"account_ids": [ids[i % len(ids)]], "reasons": REASONS})
            else:
                request = ("/score", {"accounts": [batch[i % len(batch)]], "reasons": REASONS})
            try:
                status = session.post(base + request[0], json=request[1], timeout=30).status_code
            except requests.RequestException as error:  # counted as an error, by kind
                status = type(error).__name__
            with lock:
                counts["ok" if status == 200 else "errors"] += 1
                counts["status"][status] = counts["status"].get(status, 0) + 1

    def watch() -> None:
        while time.monotonic() < stop:
            memory.append(server_memory_mb(process))
            time.sleep(1)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients + 1) as pool:
        pool.submit(watch)
        for k in range(clients):
            pool.submit(client, k)
    elapsed = time.perf_counter() - started
    return {
        "load_clients": clients,
        "load_seconds": round(elapsed, 1),
        "load_requests": counts["ok"] + counts["errors"],
        "load_errors": counts["errors"],
        "load_status_codes": {str(k): v for k, v in counts["status"].items()},
        "load_requests_per_s": round((counts["ok"] + counts["errors"]) / elapsed, 1),
        "server_memory_mb_peak": round(max(memory), 1) if memory else None,
    }


if __name__ == "__main__":
    main()
