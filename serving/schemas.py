"""Request and response models of the risk-score API: one definition for the service, its tests and its docs.

The feature payload is built from the model's own catalog (``account_features_model``), so a
request is validated against exactly the features the served model knows: every feature is
optional (missing means unknown, never zero), numbers must be finite JSON numbers (no
strings, NaN or Infinity), categories are short strings, and an unknown field is an error
that names it.

A category the model never saw in training (``"smb "``, ``"Enterprise"``) is not an error: the
model scores it as unknown, and the result says so in ``warnings`` (field, value, the known
values). A CRM job that sends one odd value still gets its scores, flagged; the schema lists
each categorical field's known values.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, create_model

import settings
from explain.records import Explanation, TrendPoint
from features.catalog import Catalog

MAX_BATCH = settings.current().max_batch
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


_COUNT_UNITS = frozenset(
    {"tickets", "invoices", "responses", "departures", "reviews", "contracts", "seats", "modules", "api calls per day"}
)
_SHARES = re.compile(r"(share|_pct)(_|$)")
_RATIOS = re.compile(r"(utilization|_vs_peak)(_|$)")  # can pass 1 (more users than seats, above a past peak)


def feature_bounds(feature) -> tuple[float | None, float | None]:
    """The range a value of this catalog feature can take: shares 0-1, NPS 0-10, CSAT 1-5, counts, money, days and
    ratios such as seat utilization >= 0.

    Changes and trends (``_change``, ``_trend``, ``_step``) and lateness can be negative: no bound.
    """
    name, unit = feature.name, feature.unit
    if any(word in name for word in ("change", "trend", "_step", "late")):
        return None, None
    if unit == "score 1-5":
        return 1.0, 5.0
    if unit == "score 0-10":
        return 0.0, 10.0
    if unit == "flag" or (unit == "fraction" and _SHARES.search(name)):
        return 0.0, 1.0
    if unit in _COUNT_UNITS or unit in ("currency", "currency per seat", "days") or _RATIOS.search(name):
        return 0.0, None
    return None, None


def category_note(known: Sequence[str]) -> str:
    """What the schema says of a categorical field: its known values, and what happens to any other."""
    shown = ", ".join(f'"{k}"' for k in known) or "none"
    return (
        f" Known values: {shown}. Any other value is scored as unknown (as if omitted) and reported in the "
        "result's `warnings`; it is not an error."
    )


def account_features_model(
    catalog: Catalog,
    example: dict[str, object] | None = None,
    categories: Mapping[str, Sequence[str]] | None = None,
) -> type[BaseModel]:
    """The pydantic model of one account's feature payload for this catalog (ranges from ``feature_bounds``).

    ``categories`` (the model's own, from its bundle) are the values each categorical feature
    was trained with; the schema lists them (description and examples) so a caller can check."""
    fields: dict[str, tuple] = {"account_id": (AccountId, ...)}
    for feature in catalog:
        description = f"{feature.description} ({feature.unit}; {feature.group}). Omit or null when unknown."
        if feature.kind == "categorical":
            known = list((categories or {}).get(feature.name, []))
            note = category_note(known) if categories is not None else ""
            field = Field(None, description=description + note, examples=known[:3] or None)
            fields[feature.name] = (Category | None, field)
            continue
        low, high = feature_bounds(feature)
        fields[feature.name] = (FiniteNumber | None, Field(None, description=description, ge=low, le=high))
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


class ScoreReason(BaseModel):
    """A risk reason as a score carries it (the account detail gives the full record: label, display value)."""

    group: str = Field(description="Driver group: usage, adoption, support, relationship, commercial or billing.")
    feature: str
    value: float | str | None = Field(description="The account's value of the feature (null when unknown).")
    contribution: float = Field(description="Log-odds of churn this feature adds (exact TreeSHAP).")
    points: float = Field(description="Percentage points of churn risk this feature adds above comparable accounts.")
    sentence: str


class UnknownCategory(BaseModel):
    """A categorical value the model never saw in training: it was scored as unknown, and is reported."""

    field: str = Field(description="The feature, e.g. segment.")
    value: str = Field(description="The value sent (or stored), exactly as received.")
    known_values: list[str] = Field(description="The values the model was trained with.")
    message: str


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
    reasons: list[ScoreReason]
    model_version: str
    as_of: date | None = Field(None, description="Snapshot date, for scores read from the snapshot store.")
    warnings: list[UnknownCategory] = Field(
        default_factory=list,
        description='Categorical values the model never saw in training (e.g. segment "smb "), each scored as '
        "unknown: the score stands, but check the value at its source.",
    )


class ScoreResponse(BaseModel):
    model_version: str
    results: list[AccountScore]


class ScoreAccountsRequest(BaseModel):
    model_config = _strict(json_schema_extra={"example": {"account_ids": ["ACC-00042", "ACC-00007"], "reasons": 3}})
    account_ids: list[AccountId] = Field(min_length=1, max_length=MAX_BATCH)
    reasons: ReasonCount = 3


class AccountResult(BaseModel):
    account_id: str
    name: str | None = Field(None, description="The account's name (accounts.name), when the store has one.")
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


def _account_detail_model() -> type[BaseModel]:
    """``GET /accounts/{id}``: ``Explanation`` as the service sends it (no per-feature list) plus the trend.

    Built from the dataclasses of ``explain.records``, the one definition of an explanation, so
    the OpenAPI document types every field, nested reasons, plays and the change included."""
    hints = typing.get_type_hints(Explanation)
    fields: dict[str, object] = {}
    for item in dataclasses.fields(Explanation):
        if item.name == "features":
            continue
        if item.default is not dataclasses.MISSING:
            fields[item.name] = (hints[item.name], item.default)
        elif item.default_factory is not dataclasses.MISSING:
            fields[item.name] = (hints[item.name], Field(default_factory=item.default_factory))
        else:
            fields[item.name] = (hints[item.name], ...)
    fields["trend"] = (list[TrendPoint], Field(description="Churn risk at the monthly snapshots, oldest first."))
    return create_model("AccountDetail", __doc__=_account_detail_model.__doc__.splitlines()[0], **fields)


AccountDetail = _account_detail_model()


class Problem(BaseModel):
    """Every 4xx and 5xx answer: an RFC 9457 problem document (``application/problem+json``)."""

    type: str = Field(description="A URN naming the kind of problem, e.g. urn:renewal-risk:problem:invalid-field.")
    title: str = Field(description="The HTTP status phrase.")
    status: int
    detail: str = Field(description="What went wrong, in words.")
    field: str | None = Field(None, description="The offending field, dotted (accounts.0.arr), when there is one.")
    errors: list[dict] | None = Field(None, description="Every invalid field with its message (422 only).")


ErrorBody = Problem  # the former name
