"""Snapshot grids: which (account, contract, as_of) rows to build features for, and what each row's risk means.

The product shows a churn risk for every account, for renewals up to a year ahead, so the
model is trained at the distances it is shown at. What the risk means depends on the cadence:

- **A contract at least ``RISK_WINDOW_DAYS`` long** (annual, multi-year): the chance it does
  not renew at its renewal date. Training observes each such contract at several distances
  from its renewal (``DEFAULT_HORIZONS``, each moved by a deterministic per-contract jitter so
  that every day from 1 to 365 is covered), and the days to renewal is a model input.
- **A shorter plan** (monthly): the chance the account cancels within the next
  ``RISK_WINDOW_DAYS`` days, across the renewals in between. A monthly plan renews three
  times a quarter; its risk "at one renewal" would be a twelfth of an annual contract's and
  not comparable. Training observes each account on such a plan once per window (non-overlapping
  windows on a per-account calendar), so monthly rows do not swamp the annual ones.

Every row has an ``outcome_date``: the day its label became known (the renewal date, or the
end of a monthly plan's window). The time split cuts on it. A snapshot sees only rows
strictly before ``as_of``, including the contract row itself, which is dated by its start, so
a contract is observed from the day after it starts. Scoring: every account with a contract
in force on ``as_of``, for that contract, unlabelled, with the same meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.load import Tables
from features.schema import TABLES

FULL_HISTORY_DAYS = 180  # the longest behaviour windows (90-day trends against the 90 days before, 180-day support)
RISK_WINDOW_DAYS = 90  # a plan shorter than this is scored as "cancels within the next 90 days"
DEFAULT_HORIZONS = (30, 90, 150, 210, 270, 330)  # days before renewal, each +- DEFAULT_JITTER_DAYS
DEFAULT_JITTER_DAYS = 30
MAX_HORIZON_DAYS = 365  # the furthest a training row looks ahead; scoring beyond it is flagged
HORIZON_BUCKETS = ((1, 90), (91, 180), (181, 365))
GRID_COLUMNS = ["account_id", "contract_id", "as_of", "renewal_date", "horizon_days", "outcome_date"]
LABEL_COLUMNS = ["churned", "renewed_arr"]
ONE_DAY = pd.Timedelta(days=1)
MULTI_YEAR_DAYS = 540


def cadence(term_days: np.ndarray | pd.Series) -> np.ndarray:
    """'monthly' (shorter than the risk window), 'annual' or 'multi-year', from the contract term in days."""
    term = np.asarray(term_days, dtype=float)
    names = np.select([term < RISK_WINDOW_DAYS, term < MULTI_YEAR_DAYS], ["monthly", "annual"], default="multi-year")
    return np.where(np.isnan(term), "unknown", names)


RISK_MEANINGS = {
    "monthly": f"the chance the account cancels within the next {RISK_WINDOW_DAYS} days (at any of its renewals)",
    "annual": "the chance the contract does not renew at its renewal date",
    "multi-year": "the chance the contract does not renew at its renewal date",
    "unknown": "the chance the account does not renew",
}


def risk_meaning(cadence_name: str | None) -> str:
    """What a churn risk means for a cadence, in the words the README, the API and the pages use."""
    return RISK_MEANINGS.get(cadence_name or "unknown", RISK_MEANINGS["unknown"])


def horizon_bucket(horizon_days: np.ndarray | pd.Series) -> np.ndarray:
    """'1-90', '91-180', '181-365' days ahead, or 'over 365' (beyond the trained range)."""
    days = np.asarray(horizon_days, dtype=float)
    labels = [f"{lo}-{hi}" for lo, hi in HORIZON_BUCKETS]
    conditions = [days <= hi for _, hi in HORIZON_BUCKETS]
    return np.where(np.isnan(days), "unknown", np.select(conditions, labels, default=f"over {MAX_HORIZON_DAYS}"))


def first_activity(tables: Tables) -> pd.Series:
    """The first dated row of each account in any activity table: before it, nothing was observed."""
    parts = []
    for table in TABLES:
        frame = tables.get(table.name)
        if table.name in ("accounts", "contracts") or frame is None or not len(frame):
            continue  # a sign-up or a contract is not activity: it is what the activity is about
        parts.append(frame.groupby("account_id")[table.dated_by].min())
    return pd.concat(parts, axis=1).min(axis=1).rename("first_activity")


def _unit_hash(keys: pd.Series, salt: int = 0) -> np.ndarray:
    """A deterministic number in [0, 1) per key and salt: the same contract always gets the same jitter."""
    salted = keys.astype("str").to_numpy() + f"#{salt}"
    hashed = pd.util.hash_array(salted, hash_key="renewal-risk-grid"[:16], categorize=False)
    return (hashed >> np.uint64(11)).astype(float) / float(1 << 53)


def _is_short(frame: pd.DataFrame, window: int) -> pd.Series:
    return (frame["end_date"] - frame["start_date"]).dt.days < window


def long_contract_rows(
    outcomes: pd.DataFrame, horizons: Sequence[int], jitter: int, window: int = RISK_WINDOW_DAYS
) -> pd.DataFrame:
    """Rows of contracts of at least ``window`` days at each horizon, ``as_of = max(start + 1, end - h)``."""
    long = outcomes[~_is_short(outcomes, window)]
    frames = []
    for k, horizon in enumerate(sorted(set(int(h) for h in horizons))):
        shift = np.rint((2 * _unit_hash(long["contract_id"], k) - 1) * jitter).astype(int) if jitter else 0
        days = np.clip(horizon + shift, 1, MAX_HORIZON_DAYS)
        as_of = np.maximum(long["start_date"] + ONE_DAY, long["end_date"] - pd.to_timedelta(days, unit="D"))
        frames.append(long.assign(as_of=as_of))
    grid = pd.concat(frames, ignore_index=True) if frames else long.assign(as_of=long["start_date"])
    grid["as_of"] = grid["as_of"].dt.normalize()
    # Short contracts give the same as_of for several horizons: keep one row.
    grid = grid.drop_duplicates(["contract_id", "as_of"], keep="first")
    already_renewed = grid["successor_start_date"].notna() & (grid["successor_start_date"] < grid["as_of"])
    grid = grid[~already_renewed]
    return grid.assign(
        renewal_date=grid["end_date"],
        outcome_date=grid["end_date"],
        horizon_days=(grid["end_date"] - grid["as_of"]).dt.days,
    )


def _in_force(contracts: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """For each (account_id, as_of) row, the contract that started last before as_of (merge_asof, no loop)."""
    ordered = contracts.sort_values("start_date", kind="stable")
    ordered = ordered.assign(start_key=ordered["start_date"] + ONE_DAY)  # in force from the day after it starts
    grid = grid.sort_values("as_of", kind="stable")
    return pd.merge_asof(
        grid, ordered, left_on="as_of", right_on="start_key", by="account_id", direction="backward"
    ).drop(columns="start_key")


def short_plan_rows(outcomes: pd.DataFrame, window: int = RISK_WINDOW_DAYS) -> pd.DataFrame:
    """One row per account and ``window`` days while it is on a plan shorter than ``window``.

    Dates step by ``window`` days from a per-account offset (so days to the next monthly
    renewal spread over the month instead of always being the day after a start).
    """
    short = outcomes[_is_short(outcomes, window)]
    if short.empty:
        return pd.DataFrame(columns=GRID_COLUMNS)
    span = short.groupby("account_id", sort=True).agg(first=("start_date", "min"), last=("end_date", "max"))
    offset = np.floor(_unit_hash(span.index.to_series()) * window).astype(int)
    first = span["first"] + ONE_DAY + pd.to_timedelta(offset, unit="D")
    steps = np.maximum(((span["last"] - first).dt.days // window).to_numpy() + 1, 0)
    accounts = np.repeat(span.index.to_numpy(), steps)
    k = np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)
    dates = np.repeat(first.to_numpy(), steps) + pd.to_timedelta(k * window, unit="D").to_numpy()
    grid = pd.DataFrame({"account_id": accounts, "as_of": pd.DatetimeIndex(dates).normalize()})
    grid["account_id"] = grid["account_id"].astype(outcomes["account_id"].dtype)
    if grid.empty:
        return pd.DataFrame(columns=GRID_COLUMNS)
    grid = _in_force(outcomes, grid)
    in_force = grid["contract_id"].notna() & (grid["end_date"] >= grid["as_of"])
    grid = grid[in_force & _is_short(grid, window)]
    return grid.assign(
        renewal_date=grid["end_date"], horizon_days=window, outcome_date=grid["as_of"] + pd.Timedelta(days=window)
    )


def window_labels(rows: pd.DataFrame, outcomes: pd.DataFrame, window: int = RISK_WINDOW_DAYS) -> pd.DataFrame:
    """Did the account cancel at any renewal in ``[as_of, as_of + window)``? Censored rows get NaN.

    A renewal dated ``as_of`` itself is still ahead: the snapshot sees only rows before that day.

    ``rows`` needs account_id and as_of. Churned: some contract ending in the window churned.
    Renewed: every contract ending in the window renewed (a churn ends the chain, so nothing
    after it counts). Open: otherwise (an outcome in the window is not known yet).
    """
    keyed = rows[["account_id", "as_of"]].reset_index(names="_row")
    ends = outcomes[["account_id", "end_date", "outcome", "renewed_arr"]]
    pairs = keyed.merge(ends, on="account_id")
    inside = (pairs["end_date"] >= pairs["as_of"]) & (pairs["end_date"] < pairs["as_of"] + pd.Timedelta(days=window))
    pairs = pairs[inside].sort_values(["_row", "end_date"], kind="stable")
    pairs = pairs.assign(churn=pairs["outcome"].eq("churned"), open=pairs["outcome"].eq("open"))
    grouped = pairs.groupby("_row")
    churned = grouped["churn"].any()
    # censored: an open outcome before the first churn (or with no churn at all)
    first_churn = pairs["end_date"].where(pairs["churn"]).groupby(pairs["_row"]).transform("min")
    open_before = pairs["open"] & (first_churn.isna() | (pairs["end_date"] < first_churn))
    censored = open_before.groupby(pairs["_row"]).any()
    last_renewed_arr = grouped["renewed_arr"].last()
    known = churned.index[~censored.reindex(churned.index, fill_value=False).to_numpy()]
    label = pd.Series(np.nan, index=keyed["_row"])
    renewed_arr = pd.Series(np.nan, index=keyed["_row"])
    label.loc[known] = churned.loc[known].astype(float)
    renewed_arr.loc[known] = np.where(churned.loc[known], 0.0, last_renewed_arr.loc[known])
    return pd.DataFrame({"churned": label.to_numpy(), "renewed_arr": renewed_arr.to_numpy()}, index=rows.index)


def label_rows(grid: pd.DataFrame, outcomes: pd.DataFrame, window: int = RISK_WINDOW_DAYS) -> pd.DataFrame:
    """The label each grid row's risk is about, from contract outcomes; unknown (open) rows get NaN.

    A long contract's row: did that contract fail to renew. A short plan's row: did the
    account cancel within ``window`` days. Used for training rows and, after the fact, to
    score a book that was scored at a past date (backtests, monitoring).
    """
    terms = outcomes.set_index("contract_id")
    contract = terms.loc[grid["contract_id"]]
    short = ((contract["end_date"] - contract["start_date"]).dt.days < window).to_numpy()
    churned = np.where(contract["outcome"].eq("churned"), 1.0, np.where(contract["outcome"].eq("renewed"), 0.0, np.nan))
    labels = pd.DataFrame({"churned": churned, "renewed_arr": contract["renewed_arr"].to_numpy()}, index=grid.index)
    if short.any():
        labels.loc[short] = window_labels(grid[short], outcomes, window).to_numpy()
    return labels


def _history_cut_short(tables: Tables, grid: pd.DataFrame) -> pd.Series:
    """Rows whose look-back reaches before the export began while the account already existed.

    Such a snapshot describes a truncated account: its trends and half-year windows are cut
    short by the export, not by anything the account did, and an account scored later never
    looks like that. New customers are fine: all their history is in the export.
    """
    export_start = tables.usage["date"].min()
    created = grid["account_id"].map(tables.accounts.set_index("account_id")["created_at"])
    window_start = grid["as_of"] - pd.Timedelta(days=FULL_HISTORY_DAYS)
    return (window_start < export_start) & (created < window_start).fillna(True)


def training_grid(
    tables: Tables,
    outcomes: pd.DataFrame,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    jitter: int = DEFAULT_JITTER_DAYS,
    window: int = RISK_WINDOW_DAYS,
) -> pd.DataFrame:
    """Labelled rows: long contracts at each horizon, short plans once per window (module docstring).

    Dropped on purpose: rows whose outcome is not known yet; snapshots taken after the
    successor contract had already started (the renewal was known, there was nothing to
    predict); snapshots of accounts with no activity at all before ``as_of``; and snapshots
    whose ``FULL_HISTORY_DAYS`` look-back is cut short by the start of the export.
    """
    labelled = outcomes[outcomes["outcome"] != "open"]
    long = long_contract_rows(labelled, horizons, jitter, window)
    short = short_plan_rows(outcomes, window)
    parts = [part[GRID_COLUMNS] for part in (long, short) if len(part)]
    if not parts:
        return pd.DataFrame(columns=GRID_COLUMNS + LABEL_COLUMNS)
    grid = pd.concat(parts, ignore_index=True)
    grid = pd.concat([grid, label_rows(grid, outcomes, window)], axis=1)
    observed = grid["account_id"].map(first_activity(tables)) < grid["as_of"]
    grid = grid[grid["churned"].notna() & observed.fillna(False).astype(bool) & ~_history_cut_short(tables, grid)]
    grid = grid.astype({"churned": "int8", "horizon_days": "int64"})
    columns = GRID_COLUMNS + LABEL_COLUMNS
    return grid[columns].sort_values(["as_of", "account_id", "contract_id"], ignore_index=True)


def scoring_grid(contracts: pd.DataFrame, as_of: pd.Timestamp, window: int = RISK_WINDOW_DAYS) -> pd.DataFrame:
    """One row per account with a contract in force on ``as_of`` (start < as_of <= end), for that contract.

    When contracts overlap (an early renewal), the one that started last is the one in force.
    ``horizon_days`` is how far the risk looks: the days to renewal, or ``window`` for a short plan.
    """
    as_of = pd.Timestamp(as_of).normalize()
    in_force = contracts[(contracts["start_date"] < as_of) & (contracts["end_date"] >= as_of)]
    current = in_force.sort_values(["account_id", "start_date", "end_date", "contract_id"]).drop_duplicates(
        "account_id", keep="last"
    )
    short = _is_short(current, window).to_numpy()
    days = (current["end_date"] - as_of).dt.days.to_numpy()
    grid = pd.DataFrame(
        {
            "account_id": current["account_id"].to_numpy(),
            "contract_id": current["contract_id"].to_numpy(),
            "as_of": as_of,
            "renewal_date": current["end_date"].to_numpy(),
            "horizon_days": np.where(short, window, days),
            "outcome_date": np.where(short, as_of + pd.Timedelta(days=window), current["end_date"].to_numpy()),
        }
    )
    for column in ("as_of", "outcome_date"):
        grid[column] = pd.to_datetime(grid[column]).astype("datetime64[us]")
    return grid.sort_values("account_id", ignore_index=True)
