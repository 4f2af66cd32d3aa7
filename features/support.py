"""Support features: ticket volume by priority, what is open and for how long, and how it went.

A ticket opened before as_of and closed on or after it is open at as_of. CSAT and the
escalation flag are read only from tickets closed before as_of: the export records their
final state, and using it for a ticket still open at as_of would leak what happened later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalog import (
    LONG_SUPPORT_WINDOW,
    PAIN_WINDOW,
    SLOW_TICKET_DAYS,
    STALE_TICKET_DAYS,
    SUPPORT_WINDOW,
    TICKET_WINDOWS,
)
from features.pointintime import Snapshots, fractional_days
from features.schema import PRIORITIES


def support_features(snap: Snapshots, tickets: pd.DataFrame) -> dict[str, np.ndarray]:
    events = pd.DataFrame(
        {
            "account_id": tickets["account_id"],
            "opened": fractional_days(tickets["opened_at"]),
            "closed": fractional_days(tickets["closed_at"]),
            "priority": tickets["priority"].to_numpy(),
            "csat": tickets["csat"].to_numpy(dtype=np.float64),
            "escalated": tickets["escalated"].fillna(False).to_numpy(dtype=bool),
        }
    )
    pairs = snap.pair_with(events)
    as_of, opened, closed = pairs["as_of"].to_numpy(), pairs["opened"].to_numpy(), pairs["closed"].to_numpy()
    seen = opened < as_of
    closed_before = closed < as_of  # NaN (still open today) compares False
    is_open = seen & ~closed_before
    age = as_of - opened
    priority = pairs["priority"].to_numpy()
    out: dict[str, np.ndarray] = {}
    for w in TICKET_WINDOWS:
        in_window = seen & (opened >= as_of - w)
        for p in PRIORITIES:
            out[f"tickets_{p}_{w}d"] = snap.total(pairs, in_window & (priority == p))
    recent_half_year = seen & (opened >= as_of - LONG_SUPPORT_WINDOW)
    out[f"tickets_urgent_high_{LONG_SUPPORT_WINDOW}d"] = snap.total(
        pairs, recent_half_year & np.isin(priority, ("urgent", "high"))
    )
    # Urgent or high tickets that took (or, still open, have already taken) SLOW_TICKET_DAYS or
    # more: the time to close is known only for tickets closed before as_of, else it is the age.
    took = np.where(closed_before, closed - opened, age)
    out[f"slow_urgent_high_tickets_{PAIN_WINDOW}d"] = snap.total(
        pairs,
        seen & (opened >= as_of - PAIN_WINDOW) & np.isin(priority, ("urgent", "high")) & (took >= SLOW_TICKET_DAYS),
    )
    out["tickets_open"] = snap.total(pairs, is_open)
    out["oldest_open_ticket_age_days"] = snap.reduce(pairs, is_open, age, "max")
    urgent = np.isin(priority, ("urgent", "high"))
    out[f"urgent_high_open_over_{STALE_TICKET_DAYS}d"] = snap.total(pairs, is_open & urgent & (age > STALE_TICKET_DAYS))
    recently_closed = closed_before & (closed >= as_of - SUPPORT_WINDOW)
    out[f"median_resolution_days_{SUPPORT_WINDOW}d"] = snap.reduce(pairs, recently_closed, closed - opened, "median")
    out[f"csat_mean_{SUPPORT_WINDOW}d"] = snap.reduce(pairs, recently_closed, pairs["csat"], "mean")
    out[f"escalations_{SUPPORT_WINDOW}d"] = snap.total(pairs, recently_closed & pairs["escalated"].to_numpy())
    return out
