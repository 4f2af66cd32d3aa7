"""Real servers: `bentoml serve` on loopback, called with bentoml.SyncHTTPClient and plain HTTP, token off and on."""

from __future__ import annotations

import bentoml
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.serving.conftest import TOKEN

pytestmark = pytest.mark.slow


def test_sync_client_scores_and_reads_the_store(server, served):
    account = served.current["account_id"].iloc[0]
    with bentoml.SyncHTTPClient(server, timeout=60) as client:
        assert client.is_ready()
        scored = client.score(accounts=[{"account_id": "A1", "seat_utilization_30d": 0.05}], reasons=2)
        stored = client.score_accounts(account_ids=[account, "NOPE"], reasons=1)
    scored = scored if isinstance(scored, dict) else scored.model_dump()
    stored = stored if isinstance(stored, dict) else stored.model_dump()
    assert scored["results"][0]["account_id"] == "A1" and 0 < scored["results"][0]["churn_risk"] < 1
    assert [r["found"] for r in stored["results"]] == [True, False]


def test_plain_http_every_endpoint_without_a_token(server, served):
    account = served.current["account_id"].iloc[0]
    assert requests.post(f"{server}/score", json={"accounts": [{"account_id": "A"}]}, timeout=30).status_code == 200
    for path in (f"/accounts/{account}", f"/accounts/{account}/page", "/portfolio/page", "/model", "/metrics"):
        assert requests.get(f"{server}{path}", timeout=30).status_code == 200, path
    metrics = requests.get(f"{server}/metrics", timeout=30).text
    assert "bentoml_service_request_total" in metrics


def test_token_is_required_and_nothing_private_is_logged(secured_server, served):
    base, log = secured_server
    account = served.current["account_id"].iloc[0]
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    assert requests.get(f"{base}/model", timeout=10).status_code == 401
    assert requests.get(f"{base}/accounts/{account}", timeout=10).status_code == 401
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(f"{base}/accounts/{account}", headers=good, timeout=30).status_code == 200
    body = {"accounts": [{"account_id": "SECRET-ACCOUNT", "arr": "not a number"}]}
    assert requests.post(f"{base}/score", json=body, headers=good, timeout=30).status_code == 422
    with bentoml.SyncHTTPClient(base, token=TOKEN, timeout=60) as client:
        result = client.score(accounts=[{"account_id": "A1"}], reasons=1)
    assert (result if isinstance(result, dict) else result.model_dump())["results"][0]["account_id"] == "A1"
    text = log.read_text()
    assert TOKEN not in text and account not in text and "SECRET-ACCOUNT" not in text


def test_schemathesis_finds_no_server_error(server):
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{server}/docs.json")
    failures: list[str] = []
    calls: list[int] = []
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):  # valid requests, then invalid ones
            _fuzz(result.ok(), mode, server, failures, calls)
    assert len(calls) > 200
    assert failures == []


def _fuzz(operation, mode, server: str, failures: list[str], calls: list[int]) -> None:
    """Up to 25 generated requests for one operation; any 5xx is recorded with its first bytes."""

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def no_5xx(case):
        calls.append(1)
        response = case.call(base_url=server, timeout=30)
        if response.status_code >= 500:
            failures.append(f"{mode.value} {operation.label}: {response.status_code} {response.text[:200]}")

    try:
        no_5xx()
    except Unsatisfiable:  # nothing to get wrong: an operation without parameters or body has no invalid form
        assert mode.value == "negative"


def test_account_and_portfolio_pages_served_render_in_chromium(open_page, server, served):
    """The pages as a CSM opens them from the CRM: served by the real service, clicked through in Chromium."""
    opened = open_page(f"{server}/portfolio/page")
    page = opened.page
    assert page.locator("#portfolio tr.account-row").count() > 0
    first = page.locator("#portfolio tr.account-row a").first
    account = first.inner_text()
    first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/accounts/{account}/page")
    assert page.locator("#account-header h1").inner_text() == account
    for section in ("#risk", "#risk-trend svg", "#waterfall svg", "#reasons", "#plays", "#metrics"):
        assert page.locator(section).first.is_visible(), section
    assert opened.errors == []
