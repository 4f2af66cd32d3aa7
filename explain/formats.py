"""How numbers, money, shares, durations and dates are spelled, once, for every reader.

Sentences, pages, the CLI's tables, the what-if and the API all say an amount through these
functions, so one account's $184K is never also "$184k", "184,000" or "184.0k" somewhere else.
Every function takes ``None`` or NaN and answers ``DASH``: a missing value is shown as
missing, never as zero (sentences go further and switch to the feature's ``missing`` text).

The spelling follows what a customer-success team writes: $1.2M, $48K, $950; 41%, 0.4%;
+7 pts; 14 Feb 2027; in 45 days.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

MINUS = "\u2212"  # a real minus sign: −$3K, −0.4 pts
DASH = "\u2014"  # what a missing value reads as


def is_missing(value: object) -> bool:
    """None, NA, NaT, NaN and infinities are missing; everything else is a value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return not math.isfinite(float(value))
    return False


def number(x: float | None) -> str:
    """A number as people say it: 41, 4.2, 0.35, 1,250."""
    if is_missing(x):
        return DASH
    x = float(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10 or x == int(x):
        return f"{x:.0f}"
    if abs(x) >= 1:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    return f"{x:.2f}".rstrip("0").rstrip(".")


def short_number(x: float | None) -> str:
    """A metric value in a small space: 41, 3.5, 12K, 1.2M."""
    if is_missing(x):
        return DASH
    x = float(x)
    if abs(x) >= 10_000:
        return _scaled(abs(x), MINUS if x < 0 else "")
    return number(x)


def count(x: float | None, noun: str | None = None) -> str:
    """1,177; with a noun, 2 tickets, 1 ticket ("urgent or high-priority ticket" pluralises its last word)."""
    if is_missing(x):
        return DASH
    n = round(float(x))
    if noun is None:
        return f"{n:,}"
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {plural(noun)}"


def plural(noun: str) -> str:
    head, _, last = noun.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") and last[-2:-1] not in "aeiou" else last + "s"
    return f"{head} {last}" if head else last


def money(x: float | None) -> str:
    """ARR the way people say it: $1.2M, $48K, $12.5K, $950; 999,950 reads as $1M, not $1000K."""
    if is_missing(x):
        return DASH
    x = float(x)
    sign, x = (MINUS if x < 0 else ""), abs(x)
    if x >= 999.5:
        return _scaled(x, sign, "$")
    return f"{sign}${x:.0f}"


def _scaled(x: float, sign: str, prefix: str = "") -> str:
    """x ≥ 999.5 with a K, M or B suffix: three significant digits at most (184K, 12.5K, 1.2M)."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if x >= size * 0.9995:
            scaled = x / size
            text = f"{scaled:.0f}" if scaled >= 99.95 else f"{scaled:.1f}".removesuffix(".0")
            return f"{sign}{prefix}{text}{suffix}"
    return f"{sign}{prefix}{x:.0f}"


def percent(x: float | None) -> str:
    """A share or probability: 0.224 -> 22%; below 1% keeps a decimal (0.4%) and a trace is <0.1%, never 0%."""
    if is_missing(x):
        return DASH
    p = 100 * float(x)
    if p == 0:
        return "0%"
    if abs(p) < 0.05:
        return "<0.1%" if p > 0 else f"{MINUS}<0.1%"
    if abs(p) < 0.95:  # 0.97% would round to "1.0%": from there whole percents
        return f"{p:.1f}%".replace("-", MINUS)
    return f"{p:.0f}%".replace("-", MINUS)


def risk_points(x: float | None) -> str:
    """Percentage points of churn risk with a sign: +7 pts, −0.4 pts, 0 pts."""
    if is_missing(x):
        return DASH
    text = f"{abs(float(x)):.1f}".removesuffix(".0")
    if text == "0":
        return "0 pts"
    return f"{'+' if x > 0 else MINUS}{text} pts"


def days(x: float | None) -> str:
    """Days, rounded to whole days (a ticket open 0.3 days was opened "less than a day" ago)."""
    if is_missing(x):
        return DASH
    n = round(float(x))
    if n == 0:
        return "less than a day"
    return f"{n:,} day" if n == 1 else f"{n:,} days"


def days_from_now(n: int | None) -> str:
    """Days to an event in words: in 45 days, today, 3 days ago."""
    if is_missing(n):
        return DASH
    n = int(n)
    if n == 0:
        return "today"
    unit = "day" if abs(n) == 1 else "days"
    return f"in {n:,} {unit}" if n > 0 else f"{-n:,} {unit} ago"


def duration(x: float | None) -> str:
    """Days as the largest sensible unit: 45 days, 8 months, 2.3 years."""
    if is_missing(x):
        return DASH
    d = float(x)
    if d < 60:
        return days(d)
    if d < 730:
        return f"{round(d / 30.44)} months"
    return f"{d / 365.25:.1f} years"


def calendar_date(value: object) -> str:
    """Dates the way a CSM writes them: 14 Feb 2027."""
    if value is None or is_missing(value):
        return DASH
    day = value if isinstance(value, date) else pd.Timestamp(value)
    return f"{day.day} {day:%b %Y}"


SEGMENT_NAMES = {"smb": "SMB", "mid_market": "Mid-market", "enterprise": "Enterprise"}


def segment_name(segment: str | None) -> str:
    """Segment names as words: mid_market -> Mid-market, smb -> SMB; an unknown one is its own words."""
    if not segment:
        return DASH
    return SEGMENT_NAMES.get(segment, segment.replace("_", " ").capitalize())
