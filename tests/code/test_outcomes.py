"""Renewal outcomes from the contract history, including the censoring rule."""

from __future__ import annotations

import pandas as pd
import pytest

from features.outcomes import renewal_outcomes

DATA_END = pd.Timestamp("2025-06-30")


def contracts(*rows: tuple[str, str, str, str, float]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["contract_id", "account_id", "start_date", "end_date", "arr"])
    for column in ("start_date", "end_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def outcome_of(frame: pd.DataFrame, contract_id: str, grace_days: int = 30) -> pd.Series:
    out = renewal_outcomes(frame, DATA_END, grace_days).set_index("contract_id")
    return out.loc[contract_id]


@pytest.mark.parametrize(
    ("successor_start", "expected"),
    [
        ("2024-01-01", "renewed"),  # starts on the renewal date
        ("2024-01-31", "renewed"),  # 30 days late: still within grace
        ("2024-02-01", "churned"),  # 31 days late: a win-back, not a renewal
        ("2023-12-01", "renewed"),  # signed early, overlapping the old term
    ],
)
def test_successor_within_grace_is_a_renewal(successor_start, expected):
    frame = contracts(
        ("C1", "A", "2023-01-01", "2024-01-01", 1000.0),
        ("C2", "A", successor_start, "2025-01-01", 1300.0),
    )
    assert outcome_of(frame, "C1")["outcome"] == expected


def test_renewed_arr_shows_expansion_and_churn_shows_zero():
    frame = contracts(
        ("C1", "A", "2023-01-01", "2024-01-01", 1000.0),
        ("C2", "A", "2024-01-01", "2025-01-01", 1300.0),
        ("C3", "B", "2023-01-01", "2024-01-01", 500.0),
    )
    renewed = outcome_of(frame, "C1")
    assert renewed["renewed_arr"] == 1300.0
    assert renewed["renewed_arr_ratio"] == pytest.approx(1.3)
    assert renewed["successor_contract_id"] == "C2"
    churned = outcome_of(frame, "C3")
    assert churned["outcome"] == "churned"
    assert churned["renewed_arr"] == 0.0


def test_contract_whose_grace_ends_after_the_data_is_open_even_if_renewed():
    """Censoring: labelling only the renewals we happen to see would bias the labels."""
    frame = contracts(
        ("C1", "A", "2024-06-15", "2025-06-15", 1000.0),  # 15 + 30 days of grace reach past the data end
        ("C2", "A", "2025-06-15", "2026-06-15", 1000.0),
        ("C3", "B", "2024-06-15", "2025-06-15", 1000.0),
    )
    assert outcome_of(frame, "C1")["outcome"] == "open"
    assert outcome_of(frame, "C3")["outcome"] == "open"
    assert pd.isna(outcome_of(frame, "C1")["renewed_arr"])


def test_grace_boundary_is_inclusive():
    frame = contracts(("C1", "A", "2024-01-01", "2025-05-31", 1000.0))  # 2025-05-31 + 30 days = 2025-06-30
    assert outcome_of(frame, "C1")["outcome"] == "churned"
    assert outcome_of(frame, "C1", grace_days=31)["outcome"] == "open"


def test_coterminous_add_on_is_not_a_renewal():
    frame = contracts(
        ("C1", "A", "2023-01-01", "2024-01-01", 1000.0),
        ("ADDON", "A", "2023-06-01", "2024-01-01", 200.0),
    )
    assert outcome_of(frame, "C1")["outcome"] == "churned"


def test_other_accounts_contracts_never_count():
    frame = contracts(
        ("C1", "A", "2023-01-01", "2024-01-01", 1000.0),
        ("C2", "B", "2024-01-01", "2025-01-01", 1000.0),
    )
    assert outcome_of(frame, "C1")["outcome"] == "churned"


def test_earliest_successor_wins():
    frame = contracts(
        ("C1", "A", "2023-01-01", "2024-01-01", 1000.0),
        ("LATE", "A", "2024-01-20", "2025-01-20", 900.0),
        ("FIRST", "A", "2024-01-01", "2025-01-01", 1100.0),
    )
    assert outcome_of(frame, "C1")["successor_contract_id"] == "FIRST"
