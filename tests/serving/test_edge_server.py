"""The edge on real `bentoml serve` processes: metrics cardinality, per-instance counters, limits, the log, circus."""

from __future__ import annotations

import re
import time
import uuid
from types import SimpleNamespace

import psutil
import pytest
import requests

from tests.serving.conftest import TOKEN
from tests.serving.local_server import start_server, stop_server

pytestmark = pytest.mark.slow
GOOD = {"Authorization": f"Bearer {TOKEN}"}


def _count(metrics: str, endpoint: str, code: int) -> float:
    labels = rf'endpoint="{re.escape(endpoint)}"[^}}]*http_response_code="{code}"'
    pattern = rf"^bentoml_service_request_total\{{[^}}]*{labels}"
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if re.match(pattern, line))


def _metrics(base: str) -> str:
    response = requests.get(f"{base}/metrics", headers=GOOD, timeout=30)
    assert response.status_code == 200
    return response.text


@pytest.fixture(scope="module")
def pair(served, tmp_path_factory):
    """Two instances on this host sharing one BentoML home: A is used before B starts."""
    logs = tmp_path_factory.mktemp("edge-logs")
    a_base, a = start_server(served.env, TOKEN, logs / "a.log")
    try:
        for _ in range(3):
            assert requests.get(f"{a_base}/model", headers=GOOD, timeout=30).status_code == 200
        b_base, b = start_server(served.env, TOKEN, logs / "b.log")
    except BaseException:
        stop_server(a)
        raise
    yield SimpleNamespace(a=a_base, a_process=a, a_log=logs / "a.log", b=b_base)
    stop_server(b)
    stop_server(a)


def test_two_instances_keep_their_own_counters(pair):
    assert _count(_metrics(pair.a), "/model", 200) == 3
    assert _count(_metrics(pair.b), "/model", 200) == 0


def test_metrics_need_the_token_on_the_real_server(pair):
    response = requests.get(f"{pair.a}/metrics", timeout=10)
    assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"


def test_a_thousand_unknown_paths_add_no_series_on_the_real_server(pair, served):
    account = served.current["account_id"].iloc[0]
    with requests.Session() as session:
        for headers in ({}, GOOD):
            session.get(f"{pair.a}/warm-up", headers=headers, timeout=10)
        assert session.get(f"{pair.a}/accounts/{account}", headers=GOOD, timeout=30).status_code == 200
        before = {line.rsplit(" ", 1)[0] for line in _metrics(pair.a).splitlines() if not line.startswith("#")}
        for i in range(1000):
            for headers in ({}, GOOD):
                session.get(f"{pair.a}/unknown-{uuid.uuid4().hex}/{i}", headers=headers, timeout=10)
        text = _metrics(pair.a)
    after = {line.rsplit(" ", 1)[0] for line in text.splitlines() if not line.startswith("#")}
    series = lambda lines: {re.sub(r'le="[^"]*"', "", s) for s in lines}  # noqa: E731
    assert series(after) == series(before)
    assert 'endpoint="/accounts/{account_id}"' in text and account not in text and "unknown-" not in text


def test_body_limit_on_the_real_server(pair):
    big = b'{"accounts": [' + b'{"account_id": "A"},' * 250_000 + b'{"account_id": "Z"}]}'  # 5 MB > 4 MiB
    headers = {**GOOD, "content-type": "application/json"}
    response = requests.post(f"{pair.a}/score", data=big, headers=headers, timeout=30)
    assert response.status_code == 413 and response.json()["status"] == 413

    def streamed():
        for start in range(0, len(big), 65_536):
            yield big[start : start + 65_536]

    response = requests.post(f"{pair.a}/score", data=streamed(), headers=headers, timeout=30)  # chunked, no length
    assert response.status_code == 413


def test_request_log_on_the_real_server(pair, served):
    account = served.current["account_id"].iloc[0]
    mine = str(uuid.uuid4())
    asked = requests.get(f"{pair.a}/accounts/{account}", headers={**GOOD, "X-Request-ID": mine}, timeout=30)
    assert asked.status_code == 200 and asked.headers["x-request-id"] == mine
    body = {"accounts": [{"account_id": "SECRET-ACCOUNT", "arr": "x"}]}
    bad = requests.post(f"{pair.a}/score", json=body, headers=GOOD, timeout=30)
    assert bad.status_code == 422 and bad.json()["field"] == "accounts.0.arr"
    assert "SECRET-ACCOUNT" not in bad.text
    wrong = requests.get(f"{pair.a}/model", headers={"Authorization": "Bearer WRONG-TOKEN-9"}, timeout=10)
    assert wrong.status_code == 401
    line = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (GET|POST) (\S+) (\d{3}) [\d.]+ms request_id=(\S+)")
    deadline = time.monotonic() + 10  # the server writes its log line after the response: wait for it, bounded
    while True:
        text = pair.a_log.read_text()
        found = [m.groups() for m in line.finditer(text)]
        if ("GET", "/model", "401", wrong.headers["x-request-id"]) in found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ("GET", "/accounts/{account_id}", "200", mine) in found
    assert ("POST", "/score", "422", bad.headers["x-request-id"]) in found
    assert ("GET", "/model", "401", wrong.headers["x-request-id"]) in found
    assert sum(1 for f in found if f[3] == mine) == 1  # one line per request
    for private in (account, "SECRET-ACCOUNT", TOKEN, "WRONG-TOKEN-9"):
        assert private not in text, private


def test_process_manager_port_is_loopback_only_and_unauthenticated(pair):
    """Records BentoML 1.4's exposure: circus's control socket (ZeroMQ) answers anyone on this host, token or not.

    BentoML hard-codes ``tcp://127.0.0.1:<free port>`` for it and offers no option to change or guard it,
    so the mitigation is how the service is run (README): one service per container or host, no
    untrusted local users or processes. If this test fails, BentoML changed it: revisit that advice.
    """
    from circus.client import CircusClient

    http_port = int(pair.a.rsplit(":", 1)[1])
    listening = [
        c.laddr
        for c in psutil.Process(pair.a_process.pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port != http_port
    ]
    assert listening and all(address.ip == "127.0.0.1" for address in listening), listening
    answered = []
    for address in listening:
        client = CircusClient(endpoint=f"tcp://127.0.0.1:{address.port}", timeout=3)
        try:
            reply = client.call({"command": "list", "properties": {}})
        except Exception:  # the pub/sub socket does not answer requests
            continue
        finally:
            client.stop()
        answered.append(reply)
    assert any(r.get("status") == "ok" and r.get("watchers") for r in answered), answered
