"""The service's edge over HTTP (to_asgi) and directly: route-template metrics, body limits, one error shape."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import uuid

import pytest

from serving import edge
from tests.serving.conftest import TOKEN

GOOD = {"Authorization": f"Bearer {TOKEN}"}


def _run(coroutine):
    """Run a coroutine in a fresh thread: another test (Playwright's sync API) may leave this thread's loop running."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _series() -> set[tuple]:
    """Every Prometheus series BentoML's traffic metrics hold in this process (tests run without multiproc)."""
    import prometheus_client

    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for metric in prometheus_client.REGISTRY.collect()
        if metric.name.startswith("bentoml_")
        for sample in metric.samples
    }


def _endpoints() -> set[str]:
    return {dict(labels).get("endpoint") for _, labels in _series()} - {None}


# --- 1. metrics and limits -------------------------------------------------------------------


def test_the_metrics_middleware_in_use_labels_by_route_template(service):
    from bentoml._internal.server.http import instruments

    assert getattr(instruments.RunnerTrafficMetricsMiddleware, "churn_route_labelled", False)


def test_route_templates():
    routes = edge.RouteTemplates(["/score", "/accounts/{account_id}", "/accounts/{account_id}/page"])
    assert routes("/accounts/ACC-00042") == "/accounts/{account_id}"
    assert routes("/accounts/ACC-00042/page") == "/accounts/{account_id}/page"
    assert routes("/accounts/ACC-1/page/x") == edge.UNMATCHED
    assert routes("/score") == "/score" and routes("/metrics") == "/metrics"
    assert routes("/score/") == routes("/wp-admin") == routes("/accounts") == edge.UNMATCHED


def test_every_documented_path_is_its_own_route_template(client):
    for path in client.get("/docs.json").json()["paths"]:
        assert edge.ROUTES(path) == path, path


def test_metrics_are_labelled_by_route_template_never_a_raw_path(client, served):
    account = served.current["account_id"].iloc[0]
    assert client.get(f"/accounts/{account}").status_code == 200
    assert client.get("/accounts/NOPE-77").status_code == 404
    assert client.get("/no/such/route-123").status_code == 404
    endpoints = _endpoints()
    assert "/accounts/{account_id}" in endpoints and edge.UNMATCHED in endpoints
    assert not any(account in e or "NOPE-77" in e or "route-123" in e for e in endpoints)
    known = edge.ROUTES.static | {t for _, t in edge.ROUTES.patterns} | {edge.UNMATCHED}
    assert endpoints <= known, endpoints - known


def test_a_thousand_unknown_paths_add_no_series(asgi_app, monkeypatch):
    from starlette.testclient import TestClient

    monkeypatch.setenv("CHURN_API_TOKEN", TOKEN)
    with TestClient(asgi_app, raise_server_exceptions=False) as c:
        for headers in ({}, GOOD):  # 401 and 404 series exist once
            c.get("/warm-up", headers=headers)
            c.get("/accounts/warm/up/x", headers=headers)
        before = _series()
        statuses = set()
        for i in range(1000):
            for headers in ({}, GOOD):
                statuses.add(c.get(f"/unknown-{uuid.uuid4().hex}/{i}", headers=headers).status_code)
                statuses.add(c.get(f"/accounts/A-{i}/nope", headers=headers).status_code)
        assert statuses == {401, 404}
        assert _series() == before


def test_metrics_need_the_token(client_with_token):
    response = client_with_token.get("/metrics")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_body_over_the_limit_by_content_length_is_413(client_with_token, monkeypatch):
    monkeypatch.setenv(edge.BODY_LIMIT_ENV, "2000")
    body = json.dumps({"accounts": [{"account_id": f"A{i}"} for i in range(200)]}).encode()
    response = client_with_token.post("/score", content=body, headers={**GOOD, "content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["status"] == 413 and response.json()["limit_bytes"] == 2000
    small = client_with_token.post("/score", json={"accounts": [{"account_id": "A"}]}, headers=GOOD)
    assert small.status_code == 200


def test_streamed_body_over_the_limit_is_413(client_with_token, monkeypatch):
    monkeypatch.setenv(edge.BODY_LIMIT_ENV, "2000")

    def chunks():
        yield b'{"accounts": ['
        for i in range(400):
            yield f'{{"account_id": "A{i}"}},'.encode()
        yield b'{"account_id": "Z"}]}'

    response = client_with_token.post("/score", content=chunks(), headers={**GOOD, "content-type": "application/json"})
    assert response.status_code == 413, response.text


def test_the_limit_stops_reading_at_the_limit_and_never_calls_the_app(monkeypatch):
    """Content-Length over the limit: nothing read. Streamed: reading stops at the chunk that crosses it."""
    monkeypatch.setenv(edge.BODY_LIMIT_ENV, "1000")
    monkeypatch.delenv("CHURN_API_TOKEN", raising=False)
    reads, sent, called = [], [], []

    async def app(scope, receive, send):
        called.append(1)

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}  # an endless stream

    async def send(message):
        sent.append(message)

    def scope(headers):
        return {"type": "http", "method": "POST", "path": "/score", "headers": headers}

    json_type = (b"content-type", b"application/json")
    _run(edge.EdgeMiddleware(app)(scope([json_type, (b"content-length", b"5000")]), receive, send))
    assert sent[0]["status"] == 413 and reads == [] and called == []
    sent.clear()
    _run(edge.EdgeMiddleware(app)(scope([json_type]), receive, send))
    assert sent[0]["status"] == 413 and len(reads) == 11 and called == []


def test_default_limit_admits_the_largest_valid_batch(monkeypatch, served):
    """CHURN_MAX_BATCH accounts with every feature sent must fit; anything much larger is refused."""
    import json

    from serving.schemas import MAX_BATCH

    monkeypatch.delenv(edge.BODY_LIMIT_ENV, raising=False)
    names = served.bundle.schema.names
    one = {"account_id": "ACC-00000-LONG-ID", **{n: 123456.789012 for n in names}}
    largest = len(json.dumps({"accounts": [one] * MAX_BATCH, "reasons": 10}))
    assert largest < edge.body_limit() == 4 * 1_048_576 < 3 * largest


# --- 2. one error shape ----------------------------------------------------------------------

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
ERRORS = [
    ("POST", "/score", {"json": {"accounts": [{"account_id": "A", "arr": "lots"}]}}, 422, "accounts.0.arr"),
    ("POST", "/score", {"json": {"accounts": [{"account_id": "A", "bogus": 1}]}}, 422, "accounts.0.bogus"),
    ("POST", "/score", {"json": {}}, 422, "accounts"),
    ("POST", "/score", {"content": b"not json", "headers": JSON}, 400, None),
    ("POST", "/score", {"content": b'{"accounts": [', "headers": JSON}, 400, None),
    ("POST", "/score", {"content": b"{}", "headers": {"content-type": "text/plain"}}, 415, None),
    ("POST", "/score", {"content": b"a=1", "headers": FORM}, 415, None),
    ("POST", "/score", {"content": b"{}"}, 415, None),
    ("POST", "/score_accounts", {"json": {"account_ids": []}}, 422, "account_ids"),
    ("POST", "/score_accounts", {"content": b"x", "headers": {"content-type": "text/csv"}}, 415, None),
    ("GET", "/accounts/" + "x" * 300, {}, 422, "account_id"),
    ("GET", "/accounts/NOPE-1", {}, 404, None),
    ("GET", "/accounts/NOPE-1/page", {}, 404, None),
    ("GET", "/no/such/route", {}, 404, None),
    ("GET", "/score", {}, 405, None),
    ("DELETE", "/model", {}, 405, None),
]


def _is_problem(response, status: int, field: str | None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status and body["type"].startswith("urn:renewal-risk:problem:")
    assert "IODescriptor" not in response.text and "Traceback" not in response.text
    if field:
        assert body["field"] == field, body
    return body


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "field"), ERRORS, ids=lambda v: str(v)[:40])
def test_every_error_is_a_problem_document(client, method, path, kwargs, status, field):
    _is_problem(client.request(method, path, **kwargs), status, field)


def test_401_is_a_problem_document(client_with_token):
    response = client_with_token.get("/model")
    body = _is_problem(response, 401, None)
    assert body["detail"].startswith("Missing or invalid token")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_server_error_is_a_problem_without_internals(client, service, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("SECRET-INTERNAL ACC-00042")

    monkeypatch.setattr(service.RUNTIME, "model_info", fail)
    monkeypatch.setattr(service.RUNTIME, "score_accounts", fail)
    for response in (client.get("/model"), client.post("/score_accounts", json={"account_ids": ["A"]})):
        body = _is_problem(response, 500, None)
        assert "SECRET" not in response.text and "RuntimeError" not in response.text, body


def test_every_response_carries_a_request_id(client):
    first, second = client.get("/healthz"), client.get("/model")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    mine = str(uuid.uuid4())
    assert client.get("/model", headers={"X-Request-ID": mine}).headers["x-request-id"] == mine
    not_an_id = client.get("/model", headers={"X-Request-ID": "ACC-00042"}).headers["x-request-id"]
    assert "ACC" not in not_an_id  # only a UUID is taken from the caller: nothing else reaches the log


def test_one_log_line_per_request_without_ids(client, served, caplog):
    account = served.current["account_id"].iloc[0]
    with caplog.at_level("INFO", logger="renewal_risk.access"):
        response = client.get(f"/accounts/{account}")
        client.post("/score", json={"accounts": [{"account_id": "SECRET-ACCOUNT", "arr": "x"}]})
    lines = [r.getMessage() for r in caplog.records if r.name == "renewal_risk.access"]
    assert len(lines) == 2
    assert "GET /accounts/{account_id} 200" in lines[0] and response.headers["x-request-id"] in lines[0]
    assert "POST /score 422" in lines[1]
    assert account not in "\n".join(lines) and "SECRET" not in "\n".join(lines)


# --- 4. the OpenAPI document -----------------------------------------------------------------


def test_openapi_document_is_valid_and_documents_the_problems(client):
    validator = pytest.importorskip("openapi_spec_validator")
    spec = client.get("/docs.json").json()
    validator.validate(spec)
    assert spec["components"]["securitySchemes"]["bearer"] == {
        **spec["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    score = spec["paths"]["/score"]["post"]["responses"]
    for status in ("401", "413", "415", "422"):
        assert score[status]["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem"), status
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "401" in spec["paths"]["/accounts/{account_id}"]["get"]["responses"]


def test_the_docs_page_opens_in_a_browser_behind_the_token_and_loads_nothing_from_outside(client_with_token):
    page = client_with_token.get("/")  # a browser sends no bearer header: the page (no customer data) opens
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "googletagmanager" not in page.text and "http" not in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("./static_content/") for s in sources), sources
    assert client_with_token.get("/static_content/swagger-ui-bundle.js").status_code == 200  # served locally
    spec = client_with_token.get("/docs.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"  # the Authorize button
    assert client_with_token.get("/docs").status_code == 401  # anything else needs the token ...
    assert client_with_token.get("/model").status_code == 401
    assert client_with_token.get("/static_content/../model").status_code in (401, 404)  # ... no way around it
