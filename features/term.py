"""Contract-term features: what happened in the current contract term so far, up to as_of only.

The other families look back a fixed number of days from the snapshot (the last 30 or 90 days),
so near a renewal they describe the end of the term and far from it the end of the previous
one. A customer deciding whether to renew weighs the term they are in: did usage hold up
against last year and against the term's first months, how many payments failed, how many
urgent tickets and escalations, what did they say in surveys since they signed.

The term start is the start of the snapshot's contract; for a contract of several years, the
start of the contract year in force (its latest anniversary before as_of). A plan shorter than
``RISK_WINDOW_DAYS`` (monthly) has no term worth the name, so its term features are missing: a
"term" of the last year would only repeat the 365-day windows, and in the same columns as the
annual terms it made the model worse (demo, seeds 7, 11, 13: cutoff replay AUC 0.737 against
0.730 with it). Every window is [term start, as_of): an event on the as_of day is never seen,
and the contract itself is part of the snapshot grid (dated by its start, before as_of).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.billing import invoice_pairs
from features.pointintime import EventIndex, Snapshots, day_number, fractional_days
from features.schema import ACTIVE_USERS_METRIC
from features.snapshots import MULTI_YEAR_DAYS, RISK_WINDOW_DAYS
from features.usage import UsageRows, _observed_days, _ratio_change

TERM_YEAR = 365
TERM_OPENING = 90  # "the term's first months": usage then is what the customer signed up for
SEAT_OPENING = 30  # seat utilization at the start of the term: its first 30 days

TERM_FEATURES = (
    "active_users_term_vs_previous_term",
    "active_users_30d_vs_term_opening",
    "seat_utilization_change_term",
    "failed_or_late_invoices_term",
    "tickets_urgent_high_term",
    "escalations_term",
    "csat_mean_term",
    "nps_mean_term",
)


def term_start(snap: Snapshots, contracts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Day number of each snapshot's term start (always before its as_of day), and which snapshots have a term."""
    current = contracts.set_index("contract_id").loc[snap.grid["contract_id"]]
    start = day_number(current["start_date"])
    length = day_number(current["end_date"]) - start
    elapsed = np.maximum(snap.day - start, 1)
    contract_year = start + ((elapsed - 1) // TERM_YEAR) * TERM_YEAR
    begin = np.where(length >= MULTI_YEAR_DAYS, contract_year, start)
    return np.minimum(begin, snap.day - 1).astype(np.int64), length >= RISK_WINDOW_DAYS


def _nan(snap: Snapshots) -> np.ndarray:
    return np.full(len(snap), np.nan)


def usage_term_features(
    snap: Snapshots, rows: UsageRows, observed_from: np.ndarray, seats: np.ndarray, start: np.ndarray
) -> dict[str, np.ndarray]:
    """Active users in the term so far against the previous term and against the term's opening."""
    names = ("active_users_term_vs_previous_term", "active_users_30d_vs_term_opening", "seat_utilization_change_term")
    if ACTIVE_USERS_METRIC not in rows.metrics:
        return {name: _nan(snap) for name in names}
    keep, _ = rows.nonzero_of([ACTIVE_USERS_METRIC])
    index = EventIndex(rows.account[keep], rows.day[keep], rows.value[keep])
    T = snap.day

    def mean(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return index.window_sum(snap.account, lo, hi) / _observed_days(lo, hi, observed_from)

    term_so_far = mean(start, T)
    previous = mean(start - TERM_YEAR, start)
    opening = mean(start, np.minimum(start + TERM_OPENING, T))
    first_month = mean(start, np.minimum(start + SEAT_OPENING, T))
    last_30 = mean(T - 30, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilization_change = np.where(seats > 0, (last_30 - first_month) / seats, np.nan)
    return {
        names[0]: _ratio_change(term_so_far, previous),
        names[1]: _ratio_change(last_30, opening),
        names[2]: utilization_change,
    }


def billing_term_features(snap: Snapshots, invoices: pd.DataFrame | None, start: np.ndarray) -> dict[str, np.ndarray]:
    """Invoices due in the term so far that failed, were paid late or are unpaid at as_of (as ``billing``)."""
    if invoices is None:
        return {"failed_or_late_invoices_term": _nan(snap)}
    pairs = invoice_pairs(snap, invoices)
    as_of, due, paid = pairs["as_of"].to_numpy(), pairs["due"].to_numpy(), pairs["paid"].to_numpy()
    in_term = (due < as_of) & (due >= start[pairs["row"].to_numpy()])
    problem = pairs["failed"].to_numpy() | ~(paid < as_of) | ((paid < as_of) & (paid > due))
    return {"failed_or_late_invoices_term": snap.total(pairs, in_term & problem)}


def support_term_features(snap: Snapshots, tickets: pd.DataFrame | None, start: np.ndarray) -> dict[str, np.ndarray]:
    """Urgent or high tickets opened in the term; escalations and CSAT of tickets closed in it (as ``support``)."""
    names = ("tickets_urgent_high_term", "escalations_term", "csat_mean_term")
    if tickets is None:
        return {name: _nan(snap) for name in names}
    events = pd.DataFrame(
        {
            "account_id": tickets["account_id"],
            "opened": fractional_days(tickets["opened_at"]),
            "closed": fractional_days(tickets["closed_at"]),
            "urgent": np.isin(tickets["priority"].to_numpy(), ("urgent", "high")),
            "csat": tickets["csat"].to_numpy(dtype=np.float64),
            "escalated": tickets["escalated"].fillna(False).to_numpy(dtype=bool),
        }
    )
    pairs = snap.pair_with(events)
    as_of, opened, closed = pairs["as_of"].to_numpy(), pairs["opened"].to_numpy(), pairs["closed"].to_numpy()
    begin = start[pairs["row"].to_numpy()]
    # CSAT and escalation are final states: read only from tickets closed before as_of.
    closed_in_term = (closed < as_of) & (closed >= begin)
    return {
        names[0]: snap.total(pairs, (opened < as_of) & (opened >= begin) & pairs["urgent"].to_numpy()),
        names[1]: snap.total(pairs, closed_in_term & pairs["escalated"].to_numpy()),
        names[2]: snap.reduce(pairs, closed_in_term, pairs["csat"], "mean"),
    }


def nps_term_features(snap: Snapshots, nps: pd.DataFrame | None, start: np.ndarray) -> dict[str, np.ndarray]:
    """Mean score of the NPS answers given in the term so far (missing without one)."""
    if nps is None:
        return {"nps_mean_term": _nan(snap)}
    index = EventIndex(snap.code(nps["account_id"]), day_number(nps["responded_at"]), nps["score"].to_numpy(float))
    counts = EventIndex(snap.code(nps["account_id"]), day_number(nps["responded_at"]))
    total = index.window_sum(snap.account, start, snap.day)
    answers = counts.window_count(snap.account, start, snap.day)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"nps_mean_term": np.where(answers > 0, total / answers, np.nan)}


def term_features(
    snap: Snapshots,
    contracts: pd.DataFrame,
    rows: UsageRows,
    observed_from: np.ndarray,
    seats: np.ndarray,
    tables: dict[str, pd.DataFrame | None],
) -> dict[str, np.ndarray]:
    """Every contract-term feature; a missing optional table, or a plan without a term, gives missing features."""
    start, has_term = term_start(snap, contracts)
    out = usage_term_features(snap, rows, observed_from, seats, start)
    out |= billing_term_features(snap, tables.get("invoices"), start)
    out |= support_term_features(snap, tables.get("support_tickets"), start)
    out |= nps_term_features(snap, tables.get("nps"), start)
    for values in out.values():
        values[~has_term] = np.nan
    return out
