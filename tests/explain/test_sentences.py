"""Reason sentences: every catalog entry renders the account's numbers and says missing as missing."""

from __future__ import annotations

import math
import re

import pytest

from explain.sentences import (
    display_value,
    fill,
    missing_sentence,
    sentence,
)
from features.catalog import build_catalog, catalog_for_columns

CATALOG = build_catalog(["active_users", "logins", "api.calls"])


def _typical_row() -> dict[str, object]:
    """A plausible account: every feature has a value, none of them zero."""
    row: dict[str, object] = {}
    for feature in CATALOG:
        if feature.kind == "categorical":
            row[feature.name] = "pro"
        elif feature.unit == "fraction":
            row[feature.name] = -0.38 if "trend" in feature.name or "change" in feature.name else 0.22
        elif feature.unit == "flag":
            row[feature.name] = 1.0
        else:
            row[feature.name] = 23.0
    row["seats"] = 190.0
    row["usage_active_users_mean_30d"] = 41.0
    row["renewal_date"] = "2027-02-14"
    return row


def _assert_clean(text: str) -> None:
    assert text and (text[0].isupper() or text[0].isdigit()), text
    for leftover in ("{", "}", "[", "]", "nan", "None", "inf"):
        assert leftover not in text, f"{leftover!r} left in: {text}"


@pytest.mark.parametrize("feature", list(CATALOG), ids=lambda f: f.name)
def test_every_catalog_entry_renders_its_value(feature):
    row = _typical_row()
    text = sentence(feature, row, {"typical": 12.0, "category_churn": {"pro": 0.08}, "overall_churn": 0.05})
    _assert_clean(text)
    assert feature.template, f"{feature.name} has no sentence template of its own"
    shown = re.findall(r"\d+", display_value(feature, row[feature.name]))
    assert feature.kind == "categorical" or feature.unit == "flag" or shown[0] in text, (shown, text)


@pytest.mark.parametrize("feature", list(CATALOG), ids=lambda f: f.name)
def test_every_catalog_entry_says_missing_as_missing(feature):
    row = _typical_row()
    row[feature.name] = math.nan
    text = sentence(feature, row, {"typical": 12.0})
    _assert_clean(text)
    assert text == missing_sentence(feature)
    assert any(w in text.lower() for w in ("no ", "unknown", "too little", "fewer than")), text


@pytest.mark.parametrize("feature", [f for f in CATALOG if f.kind == "numeric"], ids=lambda f: f.name)
def test_every_numeric_entry_renders_zero_and_without_companions(feature):
    row = {feature.name: 0.0}  # no other column, no reference: optional parts drop out
    _assert_clean(sentence(feature, row))
    row = {feature.name: 3.0}
    _assert_clean(sentence(feature, row))


def test_sentences_quote_the_accounts_numbers_and_a_comparison():
    row = _typical_row() | {
        "seat_utilization_30d": 41 / 190,
        "usage_active_users_trend_30d": -0.38,
        "urgent_high_open_over_14d": 2.0,
        "oldest_open_ticket_age_days": 23.4,
        "days_since_champion_left": 47.0,
        "nps_last_score": 4.0,
        "days_since_nps_response": 12.0,
    }
    assert (
        sentence(CATALOG["seat_utilization_30d"], row, {"typical": 0.64})
        == "Seat utilization is 22% (41 of 190 seats); renewing accounts typically use 64%"
    )
    assert sentence(CATALOG["usage_active_users_mean_30d"], row) == (
        "Active users averaged 41 a day over the last 30 days, down 38% from the 30 days before"
    )
    assert sentence(CATALOG["usage_active_users_trend_30d"], row) == (
        "Daily active users fell 38% over the last 30 days compared with the 30 days before, to 41 a day"
    )
    assert sentence(CATALOG["urgent_high_open_over_14d"], row) == (
        "2 urgent or high-priority tickets open for more than 14 days (oldest: 23 days)"
    )
    assert sentence(CATALOG["days_since_champion_left"], row) == "The champion left 47 days ago"
    assert sentence(CATALOG["nps_last_score"], row, {"typical": 8.0}) == (
        "Latest NPS response: 4 out of 10 (a detractor), 12 days ago (renewing accounts: 8)"
    )


def test_missing_is_said_never_as_zero():
    assert sentence(CATALOG["nps_last_score"], {"nps_last_score": None}) == "No NPS response on record"
    assert sentence(CATALOG["csat_mean_90d"], {"csat_mean_90d": math.nan}) == "No CSAT rating in the last 90 days"
    assert sentence(CATALOG["tickets_urgent_30d"], {"tickets_urgent_30d": 0.0}) == (
        "No urgent tickets opened in the last 30 days"
    )


def test_a_missing_companion_drops_only_its_optional_part():
    row = {"seat_utilization_30d": 0.5}
    assert sentence(CATALOG["seat_utilization_30d"], row) == "Seat utilization is 50%"


def test_categories_compare_with_their_churn_rate():
    reference = {"category_churn": {"starter": 0.12}, "overall_churn": 0.05}
    assert sentence(CATALOG["plan"], {"plan": "starter"}, reference) == (
        "On the starter plan (12% of such renewals churned in training, against 5% overall)"
    )
    assert sentence(CATALOG["plan"], {"plan": "legacy"}, reference) == "On the legacy plan"


def test_customer_text_is_never_interpreted_as_a_template():
    text = sentence(CATALOG["plan"], {"plan": "{seats} [x]"}, {})
    assert text == "On the {seats} [x] plan"


def test_bring_your_own_columns_get_generic_sentences():
    catalog = catalog_for_columns({"weekly_logins": "numeric", "tier": "categorical"})
    assert sentence(catalog["weekly_logins"], {"weekly_logins": 12.0}, {"typical": 30.0}) == (
        "Weekly logins is 12 (renewing accounts: 30)"
    )
    assert sentence(catalog["tier"], {"tier": "gold"}) == "Tier: gold"
    assert sentence(catalog["weekly_logins"], {"weekly_logins": None}) == "No weekly logins on record"


def test_unknown_format_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown format spec 'furlongs'"):
        fill("{value:furlongs}", {"value": 3.0})
