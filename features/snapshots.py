"""Snapshot grids: which (account, contract, as_of) rows to build features for.

Training: every labelled contract is observed ``horizon`` days before its renewal date, so
the model learns to warn a quarter ahead. A contract shorter than the horizon (a monthly
plan) is observed one day after its own start instead: the snapshot must belong to the
contract it labels, and a snapshot sees only rows strictly before ``as_of``, including the
contract row itself, which is dated by its start. Scoring: every account with a contract in
force on ``as_of``, for that contract, unlabelled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.load import Tables

DEFAULT_HORIZONS = (90,)
GRID_COLUMNS = ["account_id", "contract_id", "as_of", "renewal_date", "horizon_days"]
LABEL_COLUMNS = ["churned", "renewed_arr"]
ONE_DAY = pd.Timedelta(days=1)


def first_activity(tables: Tables) -> pd.Series:
    """The first dated row of each account in any activity table: before it, nothing was observed."""
    parts = [tables.usage.groupby("account_id")["date"].min()]
    dated = {
        "support_tickets": "opened_at",
        "nps": "responded_at",
        "relationship_events": "date",
        "invoices": "due_date",
    }
    for name, column in dated.items():
        frame = tables.get(name)
        if frame is not None and len(frame):
            parts.append(frame.groupby("account_id")[column].min())
    return pd.concat(parts, axis=1).min(axis=1).rename("first_activity")


def training_grid(tables: Tables, outcomes: pd.DataFrame, horizons: Sequence[int] = DEFAULT_HORIZONS) -> pd.DataFrame:
    """One labelled row per contract and horizon, at ``as_of = max(start + 1 day, end - horizon)``.

    Dropped on purpose: open contracts (no label yet); snapshots taken after the successor
    contract had already started (the renewal was known, there was nothing to predict); and
    snapshots of accounts with no activity at all before ``as_of`` (nothing to learn from).
    """
    labelled = outcomes[outcomes["outcome"] != "open"]
    frames = []
    for horizon in sorted(set(int(h) for h in horizons)):
        frame = labelled.assign(
            horizon_days=horizon,
            as_of=np.maximum(labelled["start_date"] + ONE_DAY, labelled["end_date"] - pd.Timedelta(days=horizon)),
        )
        frames.append(frame)
    grid = pd.concat(frames, ignore_index=True)
    grid["as_of"] = grid["as_of"].dt.normalize()
    # Short contracts give the same as_of for every horizon: keep one row, under the shortest horizon.
    grid = grid.drop_duplicates(["contract_id", "as_of"], keep="first")
    already_renewed = grid["successor_start_date"].notna() & (grid["successor_start_date"] < grid["as_of"])
    observed = grid["account_id"].map(first_activity(tables)) < grid["as_of"]
    grid = grid[~already_renewed & observed.fillna(False).astype(bool)]
    grid = grid.assign(
        renewal_date=grid["end_date"],
        churned=(grid["outcome"] == "churned").astype("int8"),
    )
    columns = GRID_COLUMNS + LABEL_COLUMNS
    return grid[columns].sort_values(["as_of", "account_id", "contract_id"], ignore_index=True)


def scoring_grid(contracts: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per account with a contract in force on ``as_of`` (start < as_of <= end), for that contract.

    When contracts overlap (an early renewal), the one that started last is the one in force.
    """
    as_of = pd.Timestamp(as_of).normalize()
    in_force = contracts[(contracts["start_date"] < as_of) & (contracts["end_date"] >= as_of)]
    current = in_force.sort_values(["account_id", "start_date", "end_date", "contract_id"]).drop_duplicates(
        "account_id", keep="last"
    )
    grid = pd.DataFrame(
        {
            "account_id": current["account_id"].to_numpy(),
            "contract_id": current["contract_id"].to_numpy(),
            "as_of": as_of,
            "renewal_date": current["end_date"].to_numpy(),
            "horizon_days": (current["end_date"] - as_of).dt.days.to_numpy(),
        }
    )
    grid["as_of"] = grid["as_of"].astype("datetime64[us]")
    return grid.sort_values("account_id", ignore_index=True)
