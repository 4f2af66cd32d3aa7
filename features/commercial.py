"""Commercial features: the contract in force at as_of, the account's profile, and what changed at the last renewal.

The snapshot's contract is fixed by the grid. "The previous contract" is the account's
latest contract that started before the current one started, so a contract signed after
as_of can never show up here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.pointintime import EventIndex, Snapshots, day_number

YEAR = 365


def commercial_features(snap: Snapshots, contracts: pd.DataFrame) -> dict[str, np.ndarray]:
    terms = contracts.set_index("contract_id")
    current = terms.loc[snap.grid["contract_id"]].reset_index()
    start_day = day_number(current["start_date"])
    arr = current["arr"].to_numpy(dtype=np.float64)
    seats = current["seats"].to_numpy(dtype=np.float64)
    discount = current["discount_pct"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_seat = np.where(seats > 0, arr / seats, np.nan)

    ordered = contracts.sort_values(["start_date", "contract_id"], kind="stable")
    index = EventIndex(snap.code(ordered["account_id"]), day_number(ordered["start_date"]))
    previous = index.last_before(snap.account, start_day)

    def before(column: np.ndarray) -> np.ndarray:
        return index.take(previous, column)

    prev_arr = before(ordered["arr"].to_numpy(dtype=np.float64))
    prev_seats = before(ordered["seats"].to_numpy(dtype=np.float64))
    prev_discount = before(ordered["discount_pct"].to_numpy(dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        prev_per_seat = np.where(prev_seats > 0, prev_arr / prev_seats, np.nan)
        arr_change = np.where(prev_arr > 0, arr / prev_arr - 1.0, np.nan)
        price_change = np.where(prev_per_seat > 0, per_seat / prev_per_seat - 1.0, np.nan)

    # A year ago: the account's latest contract that started before as_of - 365 days. For
    # monthly plans "the previous contract" is last month's; a price rise shows against a year.
    year_ago = index.last_before(snap.account, snap.day - YEAR)
    then_arr = index.take(year_ago, ordered["arr"].to_numpy(dtype=np.float64))
    then_seats = index.take(year_ago, ordered["seats"].to_numpy(dtype=np.float64))
    then_discount = index.take(year_ago, ordered["discount_pct"].to_numpy(dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        then_per_seat = np.where(then_seats > 0, then_arr / then_seats, np.nan)
        price_change_year = np.where(then_per_seat > 0, per_seat / then_per_seat - 1.0, np.nan)

    price_step_year = _largest_price_step(snap, contracts, YEAR)

    profile = snap.accounts.set_index("account_id").loc[snap.grid["account_id"]]
    created = day_number(profile["created_at"])
    return {
        "arr": arr,
        "seats": seats,
        "arr_per_seat": per_seat,
        "plan": current["plan"].to_numpy(),
        "segment": profile["segment"].to_numpy(),
        "industry": profile["industry"].to_numpy(),
        "region": profile["region"].to_numpy(),
        "tenure_days": (snap.day - created).clip(0, None).astype(np.float64),
        "contract_term_days": (day_number(current["end_date"]) - start_day).astype(np.float64),
        "discount_pct": discount,
        "prior_renewals": index.window_count(snap.account, np.full(len(snap), -(1 << 18)), start_day),
        "arr_change_at_last_renewal": arr_change,
        "price_per_seat_change_at_last_renewal": price_change,
        "discount_change_at_last_renewal": discount - prev_discount,
        "price_per_seat_change_12m": price_change_year,
        "discount_change_12m": discount - then_discount,
        "price_per_seat_max_step_12m": price_step_year,
        "auto_renew": current["auto_renew"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan),
        "days_to_renewal": (day_number(current["end_date"]) - snap.day).astype(np.float64),
    }


def _largest_price_step(snap: Snapshots, contracts: pd.DataFrame, window: int) -> np.ndarray:
    """Largest change in price per seat (ARR / seats) at any renewal that took effect in [T - window, T).

    Each contract is compared with the account's contract before it. A monthly plan renews every
    month, so a price rise eleven contracts back still counts; "the previous contract" would have
    forgotten it after a month, and "a year ago" is missing for accounts younger than a year.
    NaN when no renewal took effect in the window (first contract, or none that recent).
    """
    ordered = contracts.sort_values(["account_id", "start_date", "contract_id"], kind="stable")
    seats = ordered["seats"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_seat = np.where(seats > 0, ordered["arr"].to_numpy(dtype=np.float64) / seats, np.nan)
        account = ordered["account_id"].to_numpy()
        same_account = np.r_[False, account[1:] == account[:-1]]
        before = np.r_[np.nan, per_seat[:-1]]
        step = np.where(same_account & (before > 0), per_seat / before - 1.0, np.nan)
    renewals = pd.DataFrame({"account_id": account, "start": day_number(ordered["start_date"]), "step": step})
    pairs = snap.pair_with(renewals[~np.isnan(step)])
    since = pairs["T"].to_numpy() - pairs["start"].to_numpy()
    return snap.reduce(pairs, (since > 0) & (since <= window), pairs["step"], "max")
