"""The service in-process: direct calls, HTTP through the ASGI app, token on and off, bad input never a 5xx."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from explain.reasons import Explainer
from serving.schemas import MAX_BATCH, ScoreAccountsResponse, ScoreResponse
from tests.serving.conftest import TOKEN


def _run(coroutine):
    """Run a coroutine on a fresh loop in its own thread (Playwright's sync API may hold this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _payload(served, i: int = 0) -> dict:
    """One account's feature payload, as a CRM job would send it (missing values left out)."""
    row = served.current.iloc[i]
    names = served.bundle.schema.names
    payload = {"account_id": str(row["account_id"])}
    for name in names:
        value = row[name]
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        payload[name] = value if isinstance(value, str) else float(value)
    return payload


@pytest.mark.parametrize("size", [5, 40], ids=["small request: adaptive batching", "large request: scored at once"])
def test_direct_call_scores_like_the_cli(service, served, size):
    instance = service.RenewalRisk.inner()
    payloads = [_payload(served, i) for i in range(size)]
    request = service.ScoreRequest.model_validate({"accounts": payloads, "reasons": 2})
    response = _run(instance.score(accounts=request.accounts, reasons=request.reasons))
    assert isinstance(response, ScoreResponse) and len(response.results) == size
    expected = served.bundle.churn_probability(served.current.head(size), warn=False)
    np.testing.assert_allclose([r.churn_risk for r in response.results], expected, rtol=1e-9)
    for result in response.results:
        assert result.renewal_probability == pytest.approx(1 - result.churn_risk)
    # the reasons are the explainer's own top two risk drivers for the same payloads, none made up, none dropped
    explained = Explainer(served.bundle).explain(
        pd.DataFrame(payloads), risk_reasons=2, protective_reasons=0, warn=False
    )
    # (their sentences may differ: a field the CRM did not send reads "not provided", not "none on record")
    assert [[r.feature for r in e.risk_drivers] for e in explained] == [
        [r.feature for r in result.reasons] for result in response.results
    ]
    assert all(r.sentence for result in response.results for r in result.reasons)
    assert any(len(result.reasons) == 2 for result in response.results)


def test_merged_rows_keep_their_own_number_of_reasons(service, served):
    scorer = service.Scorer.inner()
    rows = [
        {**_payload(served, 0), "_reasons": 1},
        {**_payload(served, 1), "_reasons": 3},
        {**_payload(served, 2), "_reasons": 0},
    ]
    out = scorer.explain_rows(rows)
    explained = Explainer(served.bundle).explain(
        pd.DataFrame([_payload(served, i) for i in range(3)]), risk_reasons=3, protective_reasons=0, warn=False
    )
    available = [len(e.risk_drivers) for e in explained]
    assert [len(r["reasons"]) for r in out] == [min(1, available[0]), min(3, available[1]), 0]
    assert out[1]["reasons"], "the row that asked for three got its reasons"
    assert [r["account_id"] for r in out] == [r["account_id"] for r in rows]


def test_score_over_http(client, served):
    payloads = [_payload(served, i) for i in range(10)]
    response = client.post("/score", json={"accounts": payloads, "reasons": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["account_id"] for r in body["results"]] == [p["account_id"] for p in payloads]
    assert all(r["risk_band"] in ("low", "medium", "high") for r in body["results"])
    # an account below its peers has no risk reason; the others say theirs with every field
    with_reasons = [r for r in body["results"] if r["reasons"]]
    assert with_reasons, "some of ten accounts are above their peers"
    assert {"group", "feature", "value", "contribution", "sentence"} <= set(with_reasons[0]["reasons"][0])


def test_missing_features_mean_unknown(client, served):
    only_id = client.post("/score", json={"accounts": [{"account_id": "NEW-1"}]})
    assert only_id.status_code == 200
    risk = only_id.json()["results"][0]["churn_risk"]
    import pandas as pd

    expected = served.bundle.churn_probability(pd.DataFrame({"account_id": ["NEW-1"]}), warn=False)[0]
    assert risk == pytest.approx(expected)


def test_score_accounts_reports_unknown_ids_per_item(client, served):
    known = served.current["account_id"].iloc[0]
    response = client.post("/score_accounts", json={"account_ids": [known, "NOPE-1"], "reasons": 1})
    assert response.status_code == 200, response.text
    body = ScoreAccountsResponse.model_validate(response.json())
    first, second = body.results
    assert first.found and first.score.account_id == known and first.score.as_of == served.as_of.date()
    assert not second.found and "not in the snapshot store" in second.error


def test_account_explanation_and_pages(client, served):
    account = served.current["account_id"].iloc[0]
    data = client.get(f"/accounts/{account}").json()
    assert data["account_id"] == account
    assert {"risk_drivers", "protective", "plays", "groups", "change", "trend"} <= set(data)
    assert len(data["trend"]) == 3 and data["change"] is not None
    page = client.get(f"/accounts/{account}/page")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="waterfall"' in page.text
    book = client.get("/portfolio/page")
    assert book.status_code == 200 and 'id="portfolio"' in book.text
    assert client.get("/accounts/NOPE-1").status_code == 404
    assert client.get("/accounts/NOPE-1/page").status_code == 404


def test_model_and_probes(client, served):
    info = client.get("/model").json()
    assert info["model_uri"] == served.env["CHURN_MODEL_URI"]
    assert {f["name"] for f in info["features"]} == set(served.bundle.schema.names)
    assert "test_roc_auc" in info["metrics"] and info["store_as_of"] == str(served.as_of.date())
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_openapi_document_has_every_endpoint_with_examples(client):
    spec = client.get("/docs.json").json()
    for path in ("/score", "/score_accounts", "/accounts/{account_id}", "/accounts/{account_id}/page"):
        assert path in spec["paths"], path
    for path in ("/portfolio/page", "/model", "/healthz", "/readyz", "/metrics"):
        assert path in spec["paths"], path
    assert "example" in json.dumps(spec["components"]["schemas"])


def test_the_account_detail_is_typed_in_the_openapi_document_and_its_answer_matches(client, served):
    spec = client.get("/docs.json").json()
    ok = spec["paths"]["/accounts/{account_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    detail = spec["components"]["schemas"][ok["$ref"].rsplit("/", 1)[-1]]
    assert {"churn_risk", "peer_group", "risk_meaning", "risk_drivers", "plays", "change", "trend"} <= set(
        detail["properties"]
    )
    schemas = spec["components"]["schemas"]

    def referenced(schema: dict) -> dict:
        return schemas[json.dumps(schema).split("#/components/schemas/")[1].split('"')[0]]

    # two models named Reason (the explanation's and the score's) both keep their own fields
    assert {"label", "display_value", "sentence"} <= set(referenced(detail["properties"]["risk_drivers"])["properties"])
    assert {"group", "feature", "sentence"} <= set(
        referenced(schemas["AccountScore"]["properties"]["reasons"])["properties"]
    )
    account = served.current["account_id"].iloc[0]
    answer = client.get(f"/accounts/{account}").json()
    assert set(answer) <= set(detail["properties"]) and set(detail["required"]) <= set(answer)
    assert answer["account_id"] == account and "features" not in answer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"accounts": [{"account_id": "A", "arr": "lots"}]}, "arr"),
        ({"accounts": [{"account_id": "A", "bogus_field": 1}]}, "bogus_field"),
        ({"accounts": [{"arr": 1.0}]}, "account_id"),
        ({"accounts": [{"account_id": ""}]}, "account_id"),
        ({"accounts": [{"account_id": "x" * 129}]}, "account_id"),
        ({"accounts": [{"account_id": "A", "seats": True}]}, "seats"),
        ({"accounts": [{"account_id": "A", "segment": 5}]}, "segment"),
        ({"accounts": []}, "accounts"),
        ({"accounts": [{"account_id": f"A{i}"} for i in range(MAX_BATCH + 1)]}, "accounts"),
        ({"accounts": [{"account_id": "A"}], "reasons": 99}, "reasons"),
        ({"accounts": [{"account_id": "A"}], "extra": 1}, "extra"),
        ({}, "accounts"),
    ],
)
def test_bad_score_requests_are_4xx_naming_the_field(client, body, field):
    response = client.post("/score", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"accounts": [{"account_id": "A", "arr": NaN}]}',
        b'{"accounts": [{"account_id": "A", "arr": Infinity}]}',
        b'{"accounts": [{"account_id": "A", "arr": 1e999}]}',
        b'{"accounts": [',
        b"not json at all",
        b"",
        b"[]",
        b'"a string"',
    ],
)
def test_malformed_bodies_are_4xx(client, raw):
    response = client.post("/score", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    "body",
    [{"account_ids": []}, {"account_ids": ["a" * 200]}, {"account_ids": "ACC-1"}, {"account_ids": [1, 2]}, {}],
)
def test_bad_score_accounts_requests_are_4xx(client, body):
    response = client.post("/score_accounts", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert "account_ids" in response.text


def test_long_or_odd_account_ids_in_paths_are_4xx(client):
    assert client.get("/accounts/" + "x" * 300).status_code == 422
    assert client.get("/accounts/%00").status_code in (404, 422)


def test_every_endpoint_but_the_probes_and_the_docs_page_needs_the_token(client_with_token, served):
    c = client_with_token
    account = served.current["account_id"].iloc[0]
    guarded = [
        ("POST", "/score", {"accounts": [{"account_id": "A"}]}),
        ("POST", "/score_accounts", {"account_ids": [account]}),
        ("GET", f"/accounts/{account}", None),
        ("GET", f"/accounts/{account}/page", None),
        ("GET", "/portfolio/page", None),
        ("GET", "/model", None),
        ("GET", "/metrics", None),
    ]
    for method, path, body in guarded:
        assert c.request(method, path, json=body).status_code == 401, path
        wrong = c.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, path
        assert c.request(method, path, json=body, headers={"Authorization": TOKEN}).status_code == 401, path
    good = {"Authorization": f"Bearer {TOKEN}"}
    for method, path, body in guarded[:6]:
        assert c.request(method, path, json=body, headers=good).status_code == 200, path
    assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
    assert c.get("/").status_code == 200 and c.get("/docs.json").status_code == 200  # the API's shape, no data
    assert c.get("/model").json()["detail"].startswith("Missing or invalid token")


def test_a_model_that_cannot_load_stops_the_start_naming_the_uri(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "CHURN_MODEL_URI": str(tmp_path / "no-such-model"), "MLFLOW_TRACKING_URI": ""}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    started = subprocess.run(
        [sys.executable, "-c", "import serving.service"], env=env, capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 2
    assert "cannot load the model" in started.stderr and str(tmp_path / "no-such-model") in started.stderr
    assert "Traceback" not in started.stderr


def test_readiness_follows_the_runtime_so_a_damaged_store_fails_readyz(service):
    from types import SimpleNamespace

    ready = service.RenewalRisk.inner.__is_ready__
    assert ready(SimpleNamespace(runtime=SimpleNamespace(ready=lambda: True))) is True
    assert ready(SimpleNamespace(runtime=SimpleNamespace(ready=lambda: False))) is False


def test_features_not_sent_are_said_as_not_provided(client, served):
    """A payload that omits the invoice fields is never told "No invoices due in the last 90 days"."""
    catalog = served.bundle.catalog
    response = client.post("/score", json={"accounts": [{"account_id": "NEW-2", "nps_last_score": 3}], "reasons": 10})
    assert response.status_code == 200, response.text
    reasons = response.json()["results"][0]["reasons"]
    assert reasons, "an NPS detractor and nothing else known: something drives the risk"
    for reason in reasons:
        if reason["feature"] != "nps_last_score":
            assert reason["value"] is None and reason["sentence"].endswith(": not provided"), reason
            assert reason["sentence"] != catalog[reason["feature"]].missing
