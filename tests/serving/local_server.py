"""Run the real server on this machine's loopback, for integration tests and the load benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

SERVICE = "serving.service:RenewalRisk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    env: dict[str, str], token: str | None, log: Path, workers: int = 1, timeout: float = 90
) -> tuple[str, subprocess.Popen]:
    """``bentoml serve`` on a free loopback port; returns once /readyz answers 200 (bounded wait)."""
    port = free_port()
    full_env = {**os.environ, **env, "CHURN_SERVICE_WORKERS": str(workers)}
    full_env.pop("CHURN_API_TOKEN", None)
    if token:
        full_env["CHURN_API_TOKEN"] = token
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    command = [bentoml, "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=full_env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bentoml serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return base, process
        except requests.RequestException:  # not listening yet, or still starting
            pass
        time.sleep(0.5)
    stop_server(process)
    raise RuntimeError(f"bentoml serve did not become ready in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
