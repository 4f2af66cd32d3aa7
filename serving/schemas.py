"""Request and response models of the risk-score API: one definition for the service, its tests and its docs.

The feature payload is built from the model's own catalog (``account_features_model``), so a
request is validated against exactly the features the served model knows: every feature is
optional (missing means unknown, never zero), numbers must be finite JSON numbers (no
strings, NaN or Infinity), categories are short strings, and an unknown field is an error
that names it.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, create_model

from features.catalog import Catalog

MAX_BATCH = int(os.environ.get("CHURN_MAX_BATCH", "1000"))
MAX_REASONS = 10
AccountId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$"),
    Field(description="Your account id (1 to 128 printable characters).", json_schema_extra={"example": "ACC-00042"}),
]
FiniteNumber = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Category = Annotated[str, StringConstraints(max_length=200)]
ReasonCount = Annotated[int, Field(ge=0, le=MAX_REASONS, description="How many risk reasons to return per account.")]


def _strict(**extra) -> ConfigDict:
    return ConfigDict(extra="forbid", allow_inf_nan=False, **extra)


def account_features_model(catalog: Catalog, example: dict[str, object] | None = None) -> type[BaseModel]:
    """The pydantic model of one account's feature payload for this catalog."""
    fields: dict[str, tuple] = {"account_id": (AccountId, ...)}
    for feature in catalog:
        kind = Category if feature.kind == "categorical" else FiniteNumber
        description = f"{feature.description} ({feature.unit}; {feature.group}). Omit or null when unknown."
        fields[feature.name] = (kind | None, Field(None, description=description))
    config = _strict(json_schema_extra={"example": example or {"account_id": "ACC-00042"}})
    return create_model("AccountFeatures", __config__=config, **fields)  # type: ignore[call-overload]


def score_request_model(features: type[BaseModel], max_batch: int = MAX_BATCH) -> type[BaseModel]:
    """``POST /score`` body: 1 to ``max_batch`` feature payloads."""
    return create_model(
        "ScoreRequest",
        __config__=_strict(),
        accounts=(list[features], Field(min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
        reasons=(ReasonCount, 3),
    )  # type: ignore[call-overload]


class Reason(BaseModel):
    group: str = Field(description="Driver group: usage, adoption, support, relationship, commercial or billing.")
    feature: str
    value: float | str | None = Field(description="The account's value of the feature (null when unknown).")
    contribution: float = Field(description="Log-odds of churn this feature adds (exact TreeSHAP).")
    points: float = Field(description="Percentage points of churn risk this feature adds above comparable accounts.")
    sentence: str


class AccountScore(BaseModel):
    account_id: str
    renewal_probability: float
    churn_risk: float
    risk_band: Literal["low", "medium", "high"]
    risk_meaning: str = Field(
        description="What churn_risk is the chance of: for a contract of 90 days or more, not renewing at its "
        "renewal date; for a shorter (monthly) plan, cancelling within the next 90 days."
    )
    peer_churn_risk: float = Field(
        description="The risk of comparable accounts (same cadence, segment and horizon, this account's own context): "
        "the reasons' points add up from here to churn_risk."
    )
    peer_group: str = Field(description="Who the comparable accounts are, in words.")
    horizon_note: str | None = Field(
        None, description="Set when the renewal is further ahead than the model was trained for (scored at its edge)."
    )
    reasons: list[Reason]
    model_version: str
    as_of: date | None = Field(None, description="Snapshot date, for scores read from the snapshot store.")


class ScoreResponse(BaseModel):
    model_version: str
    results: list[AccountScore]


class ScoreAccountsRequest(BaseModel):
    model_config = _strict(json_schema_extra={"example": {"account_ids": ["ACC-00042", "ACC-00007"], "reasons": 3}})
    account_ids: list[AccountId] = Field(min_length=1, max_length=MAX_BATCH)
    reasons: ReasonCount = 3


class AccountResult(BaseModel):
    account_id: str
    found: bool
    error: str | None = Field(None, description="Why there is no score, e.g. the id is not in the snapshot store.")
    score: AccountScore | None = None


class ScoreAccountsResponse(BaseModel):
    model_version: str
    results: list[AccountResult]


class FeatureInfo(BaseModel):
    name: str
    description: str
    unit: str
    group: str
    kind: str


class ModelInfo(BaseModel):
    model_uri: str
    model_version: str
    alias: str | None
    trained_at: str | None
    bands: tuple[float, float]
    metrics: dict[str, float]
    features: list[FeatureInfo]
    snapshot_store: str | None
    store_as_of: date | None


class ErrorBody(BaseModel):
    error: str
