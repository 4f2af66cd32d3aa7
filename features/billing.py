"""Billing features: failed, late and unpaid invoices, read as they stood on the as_of day.

The export's ``status`` is the status today. An invoice due before as_of and paid after it
was overdue at as_of even if it says "paid" now, so lateness is computed from ``due_date``
and ``paid_at`` relative to as_of; only ``failed`` (a failed charge on the due date) is
taken from the status, and only for invoices already due.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalog import BILLING_WINDOW, LONG_BILLING_WINDOW, PAYMENT_PROBLEM_WINDOW
from features.pointintime import Snapshots, fractional_days


def invoice_pairs(snap: Snapshots, invoices: pd.DataFrame) -> pd.DataFrame:
    """Each snapshot paired with its account's invoices: due and paid as fractional days, and the failed flag."""
    events = pd.DataFrame(
        {
            "account_id": invoices["account_id"],
            "due": fractional_days(invoices["due_date"]),
            "paid": fractional_days(invoices["paid_at"]),
            "failed": (invoices["status"] == "failed").to_numpy(dtype=bool),
        }
    )
    return snap.pair_with(events)


def billing_features(snap: Snapshots, invoices: pd.DataFrame) -> dict[str, np.ndarray]:
    pairs = invoice_pairs(snap, invoices)
    as_of, due, paid = pairs["as_of"].to_numpy(), pairs["due"].to_numpy(), pairs["paid"].to_numpy()
    is_due = due < as_of
    unpaid_at_as_of = ~(paid < as_of)  # never paid, or paid on/after as_of
    paid_late = (paid < as_of) & (paid > due)
    recent = is_due & (due >= as_of - BILLING_WINDOW)
    failed = pairs["failed"].to_numpy()
    problem = failed | unpaid_at_as_of | paid_late
    days_late = (np.fmin(paid, as_of) - due).clip(0, None)  # fmin: an unpaid invoice is late until as_of
    return {
        "overdue_invoices_open": snap.total(pairs, is_due & unpaid_at_as_of),
        f"failed_or_late_invoices_{BILLING_WINDOW}d": snap.total(pairs, recent & problem),
        f"failed_or_late_invoices_{LONG_BILLING_WINDOW}d": snap.total(
            pairs, is_due & (due >= as_of - LONG_BILLING_WINDOW) & problem
        ),
        f"days_late_mean_{BILLING_WINDOW}d": snap.reduce(pairs, recent, days_late, "mean"),
        # The worst one, not the average: one invoice 60 days late is a payment problem; a
        # habit of paying a week late is not.
        f"days_late_max_{PAYMENT_PROBLEM_WINDOW}d": snap.reduce(
            pairs, is_due & (due >= as_of - PAYMENT_PROBLEM_WINDOW), days_late, "max"
        ),
    }
