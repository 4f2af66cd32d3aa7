"""Forecasts from a model and a data directory: the book ahead, and how forecasts fared out of sample.

The arithmetic lives in ``training.forecast``; this module only produces its inputs.

The backtest replays what finance would have seen, honestly out of sample. At each of several
rolling monthly cutoffs c:

1. the model is refitted on the outcomes known before c — training snapshots of the same data
   whose outcome date is at least ``grace_days`` before c (a churn is only known once the grace
   period has passed), with the split's test window starting at c (``TrainConfig(test_from=c)``);
   nothing observed on or after c, and no outcome that came after c, reaches the fit;
2. the book in force on c is scored by that model (``build_scoring_snapshots(tables, c)``);
3. the next month's and the next quarter's renewing ARR are forecast from those scores
   (monthly plans at every renewal, with their survival), and
4. compared with what happened: for every forecast renewal, was the account still renewing on
   that date? A contract's own outcome says so for its renewal date (the same answer as
   ``features.snapshots.label_rows`` gives its row); a monthly plan's chain of successors says
   so for each later renewal (it stops at the first churn). Actual renewing ARR is ARR × that,
   at today's price, the quantity the forecast predicts.

Cutoffs are the first days of the latest months whose whole next quarter is known (every
renewal in it at least ``grace_days`` before the data ends).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.build import build_scoring_snapshots, build_training_snapshots
from features.load import Tables
from features.outcomes import DEFAULT_GRACE_DAYS, renewal_outcomes
from features.snapshots import DEFAULT_HORIZONS
from training.bundle import ModelBundle
from training.dataset import TrainingTable, from_snapshots
from training.forecast import backtest_coverage, forecast_period, forecast_renewals, judge_forecast, renewal_events
from training.score import trained_range_days

HORIZONS = (("next month", 1), ("next quarter", 3))  # what each cutoff forecasts: name, calendar months
_EARLIEST = np.datetime64(pd.Timestamp.min.ceil("D").to_datetime64(), "ns")  # "unknown from the start"


def scored_book(bundle: ModelBundle, snapshots: pd.DataFrame) -> pd.DataFrame:
    """The scoring snapshots with what the forecast reads: dates, ARR, term and renewal probability."""
    columns = [c for c in ("account_id", "contract_id", "renewal_date", "arr", "contract_term_days") if c in snapshots]
    frame = snapshots[columns].copy()
    frame["renewal_probability"] = 1.0 - bundle.churn_probability(snapshots, warn=False)
    return frame


def forecast_book(bundle: ModelBundle, snapshots: pd.DataFrame, as_of: pd.Timestamp, months: int = 12) -> pd.DataFrame:
    """Expected renewing ARR per month, quarter and in total, with 80% and 95% intervals."""
    return forecast_renewals(scored_book(bundle, snapshots), as_of, months, max_days=trained_range_days(bundle))


# --- what happened ---------------------------------------------------------------------------------


def realized_survival(events: pd.DataFrame, outcomes: pd.DataFrame) -> np.ndarray:
    """1 where the account was still renewing at the event's renewal date, 0 where it had churned, NaN if unknown.

    ``events`` come from ``renewal_events`` (``piece``, ``contract_id`` of the contract in force,
    ``renewal_date``); ``outcomes`` from ``features.outcomes.renewal_outcomes``. Each piece's
    chain of contracts is followed through its successors until it churns, its outcome is
    open, or it runs past the last event: the account is still renewing at date d unless a
    contract of the chain ending on or before d churned. A renewal that upgrades a monthly plan
    to an annual one keeps the account renewing. An open contract ending on or before d makes
    d unknown.
    """
    if events.empty:
        return np.zeros(0)
    table = outcomes.set_index("contract_id")[["end_date", "outcome", "successor_contract_id"]]
    first = events.drop_duplicates("piece")[["piece", "contract_id"]]
    last_date = events.groupby("piece")["renewal_date"].max().reindex(first["piece"]).to_numpy()
    current = first["contract_id"].to_numpy(dtype=object)
    churn_end = np.full(len(first), np.datetime64("NaT"), dtype="datetime64[ns]")
    unknown_from = churn_end.copy()
    active = np.ones(len(first), dtype=bool)
    while active.any():
        rows = table.reindex(current[active])
        end = rows["end_date"].to_numpy(dtype="datetime64[ns]")
        outcome = rows["outcome"].to_numpy(dtype=object)
        where = np.flatnonzero(active)
        churned = outcome == "churned"
        unknown = ~churned & (outcome != "renewed")  # open, or a contract the outcomes do not know
        churn_end[where[churned]] = end[churned]
        unknown_from[where[unknown]] = np.where(np.isnat(end[unknown]), _EARLIEST, end[unknown])
        keep_going = (outcome == "renewed") & (end <= last_date[where])
        current[where] = np.where(keep_going, rows["successor_contract_id"].to_numpy(dtype=object), current[where])
        active[where] = keep_going
    position = pd.Index(first["piece"]).get_indexer(events["piece"])
    dates = events["renewal_date"].to_numpy(dtype="datetime64[ns]")
    gone = churn_end[position] <= dates  # NaT compares False: never churned
    open_ = ~gone & (unknown_from[position] <= dates)
    return np.where(gone, 0.0, np.where(open_, np.nan, 1.0))


def cutoff_rows(
    scored: pd.DataFrame,
    cutoff: pd.Timestamp,
    outcomes: pd.DataFrame,
    horizons: Sequence[tuple[str, int]] = HORIZONS,
    levels: Sequence[float] = (0.80, 0.95),
) -> list[dict[str, object]]:
    """Forecast vs actual renewing ARR for each horizon from one cutoff, given the book scored at it."""
    cutoff = pd.Timestamp(cutoff)
    longest = max(months for _, months in horizons)
    events = renewal_events(scored, cutoff, cutoff + pd.DateOffset(months=longest))
    events = events[~events["beyond_trained_range"]]
    renewed = realized_survival(events, outcomes)
    if np.isnan(renewed).any():
        raise ValueError(
            f"{int(np.isnan(renewed).sum())} renewals after the cutoff {cutoff.date()} have no known outcome yet; "
            "pick cutoffs whose forecast horizon ended at least the grace period before the data ends"
        )
    rows = []
    for name, months in horizons:
        inside = (events["renewal_date"] < cutoff + pd.DateOffset(months=months)).to_numpy()
        period = events[inside]
        summary, values, probs = forecast_period(period, levels)
        arr, got = period["arr"].to_numpy(dtype=float), renewed[inside]
        monthly = (period["cadence"] == "monthly").to_numpy()
        judged = judge_forecast(values, probs, summary["expected_renewing_arr"], float(arr @ got), levels)
        rows.append(
            {
                "cutoff": cutoff,
                "horizon": name,
                "contracts": summary["contracts"],
                "renewals": summary["renewals"],
                "arr_up_for_renewal": summary["arr_up_for_renewal"],
                **judged,
                "forecast_monthly_plans": float(arr[monthly] @ period["survival"].to_numpy()[monthly]),
                "actual_monthly_plans": float(arr[monthly] @ got[monthly]),
            }
        )
    return rows


# --- the out-of-sample backtest ---------------------------------------------------------------------


def backtest_cutoffs(
    data_end: pd.Timestamp, count: int, grace_days: int = DEFAULT_GRACE_DAYS, months_ahead: int = 3
) -> list[pd.Timestamp]:
    """The first days of the latest ``count`` months whose next ``months_ahead`` months of outcomes are known."""
    if count < 1:
        raise ValueError("count must be >= 1")
    # a renewal on day d is known once d + grace <= data_end
    limit = pd.Timestamp(data_end).normalize() + pd.Timedelta(days=1) - pd.Timedelta(days=grace_days)
    latest = (limit - pd.DateOffset(months=months_ahead)).to_period("M").start_time
    return [latest - pd.DateOffset(months=k) for k in range(count - 1, -1, -1)]


def known_at(table: TrainingTable, cutoff: pd.Timestamp, grace_days: int = DEFAULT_GRACE_DAYS) -> TrainingTable:
    """The rows a refit at ``cutoff`` may use: outcomes known before it, plus the rows observed from it on.

    Known: the outcome date is more than ``grace_days`` before the cutoff (a churn is only
    known once its grace period has passed). The rows observed on or after the cutoff are kept
    only because ``train`` wants a test window (``TrainConfig(test_from=cutoff)``); no fit sees
    them. Rows observed before the cutoff whose outcome was not known by then are dropped.
    """
    if table.time_col is None or "as_of" not in table.frame:
        raise ValueError("a forecast backtest needs snapshots with as_of and an outcome date")
    from training.cutoff import known_by

    cutoff = pd.Timestamp(cutoff)
    later = (pd.to_datetime(table.frame["as_of"]) >= cutoff).to_numpy()
    frame = table.frame[known_by(table, cutoff, grace_days) | later].reset_index(drop=True)
    return TrainingTable(frame, table.catalog, table.label, table.id_col, table.time_col)


def _refit(table: TrainingTable, cutoff: pd.Timestamp, seed: int) -> ModelBundle:
    from training.train import TrainConfig, train

    return train(table, TrainConfig(seed=seed, test_from=cutoff)).bundle


@dataclass
class ForecastBacktest:
    """Per cutoff and horizon: forecast, actual, error and interval hits; per horizon: coverage."""

    rows: pd.DataFrame
    coverage: pd.DataFrame
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def forecast_backtest(
    tables: Tables,
    cutoffs: int | Sequence[pd.Timestamp] = 8,
    grace_days: int = DEFAULT_GRACE_DAYS,
    seed: int = 7,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    on_cutoff: Callable[[int, int], None] | None = None,
    fit: Callable[[TrainingTable, pd.Timestamp], ModelBundle] | None = None,
) -> ForecastBacktest:
    """Refit, score, forecast and compare at rolling monthly cutoffs (module docstring).

    ``cutoffs`` is a number (the latest months with known outcomes, ``backtest_cutoffs``) or
    the dates themselves. ``fit(table, cutoff)`` returns the model for a cutoff (default:
    ``train`` with ``TrainConfig(seed, test_from=cutoff)`` on ``known_at(table, cutoff)``).
    """
    import time

    started = time.perf_counter()
    dates = (
        backtest_cutoffs(tables.data_end, cutoffs, grace_days, max(m for _, m in HORIZONS))
        if isinstance(cutoffs, int)
        else [pd.Timestamp(c) for c in cutoffs]
    )
    snapshots = build_training_snapshots(tables, horizons=horizons, grace_days=grace_days)
    table = from_snapshots(snapshots.frame, snapshots.catalog)
    outcomes = renewal_outcomes(tables.contracts, tables.data_end, grace_days)
    fit = fit or (lambda known, cutoff: _refit(known, cutoff, seed))
    rows: list[dict[str, object]] = []
    for done, cutoff in enumerate(dates, start=1):
        known = known_at(table, cutoff, grace_days)
        bundle = fit(known, cutoff)
        book = build_scoring_snapshots(tables, cutoff).frame
        outcome_dates = pd.to_datetime(known.frame[known.time_col])
        trained_through = outcome_dates[outcome_dates < cutoff].max()  # the latest outcome the refit learned from
        rows += [
            row | {"trained_through": trained_through}
            for row in cutoff_rows(scored_book(bundle, book), cutoff, outcomes)
        ]
        if on_cutoff:
            on_cutoff(done, len(dates))
    frame = pd.DataFrame(rows)
    notes = [
        f"each cutoff's model was refitted on outcomes known {grace_days} days before it "
        "(training snapshots with an outcome date before cutoff - grace); renewals are judged at today's price"
    ]
    return ForecastBacktest(frame, backtest_coverage(frame), time.perf_counter() - started, notes)
