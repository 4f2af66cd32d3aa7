"""Ranges from the catalog in the request schema: shares 0-1, NPS 0-10, CSAT 1-5, counts and money >= 0."""

from __future__ import annotations

import json

import pytest


def test_every_stored_account_is_within_the_published_ranges(service, served):
    """The ranges never reject real data: every current row of the demo book validates."""
    names = set(service.AccountFeatures.model_fields) - {"account_id"}
    for row in served.current.to_dict("records"):
        payload = {k: v for k, v in row.items() if k in names and v is not None and v == v}  # v == v: not NaN
        payload = {k: v if isinstance(v, str) else float(v) for k, v in payload.items()}
        service.AccountFeatures.model_validate({"account_id": "A", **payload})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nps_last_score", 11.0),
        ("nps_last_score", -1.0),
        ("csat_mean_90d", 0.5),
        ("csat_mean_90d", 5.5),
        ("seat_utilization_30d", -0.1),
        ("usage_active_users_active_day_share_30d", 1.01),
        ("discount_pct", 1.5),
        ("arr", -1.0),
        ("tickets_open", -2.0),
        ("auto_renew", 2.0),
    ],
)
def test_out_of_range_values_are_422_naming_the_field(client, service, field, value):
    assert field in service.AccountFeatures.model_fields  # every feature here is in every demo model
    response = client.post("/score", json={"accounts": [{"account_id": "A", field: value}]})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == f"accounts.0.{field}"


def test_changes_may_be_negative(client, service):
    changes = [n for n in service.AccountFeatures.model_fields if "change" in n or "trend" in n]
    assert changes
    response = client.post("/score", json={"accounts": [{"account_id": "A", **{n: -0.5 for n in changes}}]})
    assert response.status_code == 200, response.text


def test_ranges_are_published_in_the_openapi_document(client):
    spec = client.get("/docs.json").json()
    schemas = spec["components"]["schemas"]
    features = next(s for name, s in schemas.items() if name.startswith("AccountFeatures"))
    nps = json.dumps(features["properties"]["nps_last_score"])
    assert '"maximum": 10' in nps and '"minimum": 0' in nps, nps
