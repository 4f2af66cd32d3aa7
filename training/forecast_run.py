"""Forecasts from a model and a data directory: the book ahead, and how past forecasts fared.

The arithmetic lives in ``training.forecast``; this module only produces its inputs. The
backtest re-creates what finance would have seen: for each past quarter, the accounts in
force 90 days before it started, scored then, compared with the ARR that actually renewed.
Quarters the model was trained on are marked ``in_sample``: their error flatters the model.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from features.build import build_scoring_snapshots
from features.load import Tables
from features.outcomes import renewal_outcomes
from training.bundle import ModelBundle
from training.forecast import forecast_backtest, forecast_renewals

LEAD_DAYS = 90


def _scored(bundle: ModelBundle, snapshots: pd.DataFrame) -> pd.DataFrame:
    frame = snapshots[["account_id", "contract_id", "renewal_date", "arr"]].copy()
    frame["renewal_probability"] = 1.0 - bundle.churn_probability(snapshots, warn=False)
    return frame


def forecast_book(bundle: ModelBundle, snapshots: pd.DataFrame, as_of: pd.Timestamp, months: int = 12) -> pd.DataFrame:
    """Expected renewing ARR per month, quarter and in total, with 80% and 95% intervals."""
    return forecast_renewals(_scored(bundle, snapshots), as_of, months)


def _test_window_start(bundle: ModelBundle) -> pd.Timestamp | None:
    for window in bundle.metadata.get("split", []):
        if window.get("window") == "test" and window.get("from"):
            return pd.Timestamp(window["from"])
    return None


def backtest_forecasts(
    bundle: ModelBundle,
    tables: Tables,
    quarters: int = 4,
    on_quarter: Callable[[int, int], None] | None = None,
    grace_days: int = 30,
) -> pd.DataFrame:
    """Forecast-vs-actual for the latest ``quarters`` quarters whose renewals are all known."""
    outcomes = renewal_outcomes(tables.contracts, tables.data_end, grace_days).set_index("contract_id")
    last_known = (tables.data_end - pd.Timedelta(days=grace_days)).to_period("Q")
    if (last_known + 1).start_time - pd.Timedelta(days=1) > tables.data_end - pd.Timedelta(days=grace_days):
        last_known -= 1  # the quarter in progress is not fully known yet
    periods = [last_known - k for k in range(quarters - 1, -1, -1)]
    history = []
    for done, quarter in enumerate(periods, start=1):
        as_of = quarter.start_time - pd.Timedelta(days=LEAD_DAYS)
        snapshots = build_scoring_snapshots(tables, as_of).frame
        scored = _scored(bundle, snapshots)
        in_quarter = scored[
            (scored["renewal_date"] >= quarter.start_time) & (scored["renewal_date"] <= quarter.end_time)
        ]
        known = outcomes.reindex(in_quarter["contract_id"])
        history.append(
            pd.DataFrame(
                {
                    "quarter": quarter,
                    "arr": in_quarter["arr"].to_numpy(),
                    "renewal_probability": in_quarter["renewal_probability"].to_numpy(),
                    "renewed_arr": known["renewed_arr"].fillna(0.0).to_numpy(),
                }
            )
        )
        if on_quarter:
            on_quarter(done, len(periods))
    report = forecast_backtest(pd.concat(history, ignore_index=True), periods, LEAD_DAYS)
    test_start = _test_window_start(bundle)
    # True / False per quarter; None on the summary row, which pools both kinds.
    report["in_sample"] = pd.Series(
        [
            None if str(q) == "all" else bool(test_start is None or pd.Period(str(q), "Q").start_time < test_start)
            for q in report["quarter"]
        ],
        dtype=object,
    )
    return report
