"""One spelling for every amount: the pages, the sentences, the CLI and the what-if all say it this way."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from explain import formats
from explain.formats import (
    DASH,
    MINUS,
    calendar_date,
    count,
    days,
    days_from_now,
    duration,
    money,
    number,
    percent,
    risk_points,
    short_number,
)


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (number, 41.0, "41"),
        (number, 4.25, "4.2"),
        (number, 0.354, "0.35"),
        (number, 1250.0, "1,250"),
        (short_number, 41.0, "41"),
        (short_number, 3.5, "3.5"),
        (short_number, 12_400, "12.4K"),
        (short_number, 1_234_567, "1.2M"),
        (percent, 0.224, "22%"),
        (percent, 0.41, "41%"),
        (percent, 0.004, "0.4%"),
        (percent, 0.0097, "1%"),
        (percent, 0.0001, "<0.1%"),
        (percent, 0.0, "0%"),
        (percent, -0.05, f"{MINUS}5%"),
        (duration, 45, "45 days"),
        (duration, 240, "8 months"),
        (duration, 840, "2.3 years"),
        (days, 0.3, "less than a day"),
        (days, 1, "1 day"),
        (days, 1_200, "1,200 days"),
        (days_from_now, 45, "in 45 days"),
        (days_from_now, 0, "today"),
        (days_from_now, -3, "3 days ago"),
        (risk_points, 7, "+7 pts"),
        (risk_points, -0.4, f"{MINUS}0.4 pts"),
        (risk_points, 0.01, "0 pts"),
        (money, 950, "$950"),
        (money, 999.4, "$999"),
        (money, 1_260, "$1.3K"),
        (money, 12_500, "$12.5K"),
        (money, 184_000, "$184K"),
        (money, 999_950, "$1M"),
        (money, 1_234_567, "$1.2M"),
        (money, 92_770_459, "$92.8M"),
        (money, 2.5e9, "$2.5B"),
        (money, -3_000, f"{MINUS}$3K"),
        (calendar_date, date(2027, 2, 14), "14 Feb 2027"),
        (calendar_date, pd.Timestamp("2026-11-01"), "1 Nov 2026"),
        (calendar_date, "2026-09-24", "24 Sep 2026"),
    ],
)
def test_one_spelling(fn, value, expected):
    assert fn(value) == expected


@pytest.mark.parametrize("missing", [None, math.nan, np.nan, np.float32("nan"), math.inf, pd.NA, pd.NaT])
def test_missing_is_shown_as_missing_never_as_zero(missing):
    for fn in (number, short_number, money, percent, risk_points, days, days_from_now, duration, calendar_date):
        assert fn(missing) == DASH, fn.__name__
    assert count(missing, "ticket") == DASH


def test_counts_pluralise_their_last_word():
    assert count(1, "urgent or high-priority ticket") == "1 urgent or high-priority ticket"
    assert count(2, "business review") == "2 business reviews"
    assert count(3, "company") == "3 companies"
    assert count(1177) == "1,177"


def test_there_is_one_money_formatter_in_the_code():
    """Pages, sentences, the CLI and the what-if import this one; no module keeps a private copy."""
    from pathlib import Path

    root = Path(formats.__file__).resolve().parents[1]
    sources = [p for folder in ("explain", "churn", "serving", "training") for p in (root / folder).rglob("*.py")]
    own = [str(p.relative_to(root)) for p in sources if "def _money(" in p.read_text() or "def money(" in p.read_text()]
    assert own == ["explain/formats.py"]
