"""Account history for pages and change explanations: snapshots at past dates and weekly metric series.

Everything is computed for a set of accounts at once, on tables cut down to those accounts
first, so an account page costs milliseconds of feature building and a portfolio of a thousand
accounts one vectorized pass. Snapshots at past dates are ordinary point-in-time scoring
snapshots (only rows strictly before each date), so the trend on a page is what the model
would have said on each of those days.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from explain.records import MetricSeries
from features.build import build_features
from features.catalog import metric_slug
from features.load import Tables
from features.schema import MODULE_METRIC_PREFIX
from features.snapshots import scoring_grid

_ACCOUNT_TABLES = ("accounts", "contracts", "usage", "support_tickets", "nps", "relationship_events", "invoices")


def tables_for_accounts(tables: Tables, account_ids: Iterable[str]) -> Tables:
    """The same tables holding only these accounts' rows (every feature depends on its own account only)."""
    wanted = pd.Index(pd.unique(np.asarray(list(account_ids), dtype=object)))
    pieces = {}
    for name in _ACCOUNT_TABLES:
        frame = tables.get(name)
        if frame is not None:
            pieces[name] = frame[frame["account_id"].isin(wanted).to_numpy()]
    return replace(tables, **pieces, export=tables.facts())  # features compare with the whole export


def monthly_dates(as_of: pd.Timestamp, months: int) -> list[pd.Timestamp]:
    """``months`` snapshot dates one calendar month apart, oldest first, ending at ``as_of``."""
    as_of = pd.Timestamp(as_of).normalize()
    return [as_of - pd.DateOffset(months=k) for k in range(months - 1, -1, -1)]


def snapshots_at(
    tables: Tables, dates: Sequence[pd.Timestamp], account_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Scoring snapshots of the accounts (all if None) with a contract in force, at each date."""
    if account_ids is not None:
        tables = tables_for_accounts(tables, account_ids)
    grids = [scoring_grid(tables.contracts, pd.Timestamp(d)) for d in dates]
    grid = pd.concat(grids, ignore_index=True) if grids else scoring_grid(tables.contracts, pd.Timestamp(0))
    if grid.empty:
        return grid
    frame, _ = build_features(tables, grid)
    return frame


def metric_series(
    tables: Tables, account_ids: Sequence[str], as_of: pd.Timestamp, weeks: int = 26
) -> dict[str, list[MetricSeries]]:
    """Per account, weekly charts of the key usage and support metrics over the ``weeks`` before ``as_of``.

    Usage metrics are daily averages over each week (days without a row count as zero, the
    usage table's convention); weeks before the account's first usage row have no value.
    Tickets are counted per week by when they were opened.
    """
    as_of = pd.Timestamp(as_of).normalize()
    start = as_of - pd.Timedelta(days=7 * weeks)
    week_starts = [(start + pd.Timedelta(days=7 * k)).date() for k in range(weeks)]
    tables = tables_for_accounts(tables, account_ids)
    usage = tables.usage[(tables.usage["date"] < as_of).to_numpy()]
    first_seen = usage.groupby("account_id", observed=True)["date"].min()
    usage = usage[(usage["date"] >= start).to_numpy()]
    metrics = [m for m in usage["metric"].astype("str").unique() if not m.startswith(MODULE_METRIC_PREFIX)]
    week = ((usage["date"] - start).dt.days // 7).to_numpy()

    accounts = usage["account_id"].astype("str").to_numpy()
    metric_names = usage["metric"].astype("str").to_numpy()
    values = usage["value"].to_numpy()
    observed = _observed_weeks(first_seen, account_ids, start, weeks)
    always = np.ones(weeks, bool)
    # (name, label, unit, group, weekly totals per account, divisor, weeks with data per account)
    charts: list[tuple] = []
    for metric in sorted(metrics):
        rows = metric_names == metric
        words = metric.replace("_", " ")
        totals = _weekly(accounts[rows], week[rows], values[rows], weeks)
        charts.append(
            (f"usage_{metric_slug(metric)}", f"{words.capitalize()} per day", words, "usage", totals, 7.0, observed)
        )
    modules = np.char.startswith(metric_names.astype(str), MODULE_METRIC_PREFIX) & (values > 0)
    used = pd.DataFrame({"a": accounts[modules], "w": week[modules], "m": metric_names[modules]}).drop_duplicates()
    if len(used) or any(m.startswith(MODULE_METRIC_PREFIX) for m in tables.usage["metric"].cat.categories):
        totals = _weekly(used["a"].to_numpy(), used["w"].to_numpy(), np.ones(len(used)), weeks)
        charts.append(("modules_used", "Modules used per week", "modules", "adoption", totals, 1.0, observed))
    tickets = tables.support_tickets
    if tickets is not None:
        opened = tickets[((tickets["opened_at"] >= start) & (tickets["opened_at"] < as_of)).to_numpy()]
        weekly = ((opened["opened_at"] - start).dt.days // 7).to_numpy()
        totals = _weekly(opened["account_id"].astype("str").to_numpy(), weekly, np.ones(len(opened)), weeks)
        charts.append(("tickets_opened", "Tickets opened per week", "tickets", "support", totals, 1.0, None))
    zeros = np.zeros(weeks)
    return {
        account: [
            _series(
                name,
                label,
                unit,
                group,
                week_starts,
                totals.get(account, zeros) / divisor,
                always if seen is None else seen[account],
            )
            for name, label, unit, group, totals, divisor, seen in charts
        ]
        for account in account_ids
    }


def _weekly(accounts: np.ndarray, week: np.ndarray, values: np.ndarray, weeks: int) -> dict[str, np.ndarray]:
    """Sum ``values`` per account and week index: one groupby, then a dense array per account."""
    if len(accounts) == 0:
        return {}
    sums = pd.DataFrame({"a": accounts, "w": week, "v": values}).groupby(["a", "w"])["v"].sum()
    out: dict[str, np.ndarray] = {}
    for account, part in sums.groupby(level=0):
        dense = np.zeros(weeks)
        dense[part.index.get_level_values(1).to_numpy()] = part.to_numpy()
        out[str(account)] = dense
    return out


def _observed_weeks(first_seen: pd.Series, account_ids: Sequence[str], start: pd.Timestamp, weeks: int) -> dict:
    """Per account, which weeks come after its first usage row (earlier weeks are unknown, not zero)."""
    week_ends = np.array([start + pd.Timedelta(days=7 * (k + 1)) for k in range(weeks)], dtype="datetime64[us]")
    seen = {str(k): v for k, v in first_seen.items()}
    out = {}
    for account in account_ids:
        first = seen.get(account)
        out[account] = np.zeros(weeks, bool) if first is None else week_ends > np.datetime64(first)
    return out


def _series(
    name, label, unit, group, week_starts: list[date], values: np.ndarray, observed: np.ndarray
) -> MetricSeries:
    points = [(d, float(v) if ok else None) for d, v, ok in zip(week_starts, values, observed, strict=True)]
    return MetricSeries(name=name, label=label, unit=unit, group=group, points=points)
