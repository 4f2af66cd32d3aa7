"""Renewal outcomes, read from the contract history.

A contract is **renewed** when the same account has a successor contract: one that starts
after it starts, no later than ``grace_days`` after its end date (so an early, overlapping
renewal counts), and runs past its end date (so a co-terminous add-on does not count as a
renewal). It is **churned** otherwise, and **open** when ``end_date + grace_days`` is after
the last day the data describes: its outcome cannot be known yet, and calling it churned is
the classic censoring bug. Open contracts are never labelled, whatever the data says, so
that renewals and churns are censored alike.
"""

from __future__ import annotations

import pandas as pd

DEFAULT_GRACE_DAYS = 30

OUTCOME_COLUMNS = [
    "contract_id",
    "account_id",
    "start_date",
    "end_date",
    "arr",
    "outcome",
    "successor_contract_id",
    "successor_start_date",
    "renewed_arr",
    "renewed_arr_ratio",
]


def renewal_outcomes(
    contracts: pd.DataFrame, data_end: pd.Timestamp, grace_days: int = DEFAULT_GRACE_DAYS
) -> pd.DataFrame:
    """One row per contract: outcome (renewed / churned / open), its successor and the successor's ARR."""
    base = contracts[["contract_id", "account_id", "start_date", "end_date", "arr"]]
    grace = pd.Timedelta(days=grace_days)
    pairs = base.merge(
        base.rename(columns=lambda c: f"next_{c}" if c != "account_id" else c), on="account_id", how="inner"
    )
    is_successor = (
        (pairs["next_start_date"] > pairs["start_date"])
        & (pairs["next_start_date"] <= pairs["end_date"] + grace)
        & (pairs["next_end_date"] > pairs["end_date"])
    )
    successors = (
        pairs.loc[is_successor, ["contract_id", "next_contract_id", "next_start_date", "next_arr"]]
        .sort_values(["contract_id", "next_start_date", "next_contract_id"])
        .drop_duplicates("contract_id")
        .rename(
            columns={
                "next_contract_id": "successor_contract_id",
                "next_start_date": "successor_start_date",
                "next_arr": "renewed_arr",
            }
        )
    )
    out = base.merge(successors, on="contract_id", how="left")
    out["renewed_arr"] = out["renewed_arr"].astype("float64")
    is_open = out["end_date"] + grace > data_end
    renewed = out["successor_contract_id"].notna()
    out["outcome"] = "churned"
    out.loc[renewed, "outcome"] = "renewed"
    out.loc[is_open, "outcome"] = "open"
    out.loc[out["outcome"] == "churned", "renewed_arr"] = 0.0
    out.loc[is_open, "renewed_arr"] = float("nan")
    out["renewed_arr_ratio"] = (out["renewed_arr"] / out["arr"]).where(out["arr"] > 0)
    out["outcome"] = out["outcome"].astype("str")
    return out[OUTCOME_COLUMNS].sort_values(["account_id", "start_date", "contract_id"], ignore_index=True)
