"""Exploratory analysis of a data directory: the numbers behind the ``01-explore-data`` notebook.

Pure, vectorized functions of validated ``Tables``, renewal outcomes and snapshots: no loops
per account, nothing read from disk. Each returns a tidy
DataFrame a person can read as a table and ``features.explore_plots`` can draw.

Definitions (the same ones the model is trained with):

* A contract's **outcome** comes from ``features.outcomes.renewal_outcomes``; open contracts
  (outcome not known yet) are left out of every rate.
* **Renewal rate**: renewed contracts / labelled contracts whose term ended in the period.
* **Gross ARR retention**: ARR kept, counting each renewal at most at its old ARR (no
  expansion), / ARR up for renewal. **Net ARR retention**: the successors' full ARR
  (expansion and contraction included) / ARR up for renewal. Churned contracts keep 0.
* **Cohort retention**: the share of a signup cohort that is a customer (a contract in force,
  or a renewed contract's gap before its successor started) a given number of months after
  signing up. Only months the data can see count, and accounts that signed up before the data
  starts are left out: an export holds only the accounts still customers then, so their
  cohorts would look better than they were.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.load import Tables
from features.schema import TABLES

# The column that dates each table's rows, for coverage and volume over time (from the data contract).
DATE_COLUMNS = {t.name: t.dated_by for t in TABLES}

# The signals the notebook compares between renewed and churned contracts, in this order.
MAIN_SIGNALS = (
    "usage_active_users_trend_90d",
    "seat_utilization_30d",
    "tickets_urgent_90d",
    "nps_last_score",
    "modules_used_30d",
    "failed_or_late_invoices_365d",
)

MONTH_DAYS = 365.25 / 12


# --------------------------------------------------------------------------- data quality


def data_quality(tables: Tables) -> pd.DataFrame:
    """One row per table of the contract: is it there, how big, which accounts and dates it covers, what is missing.

    Columns: ``table``, ``required``, ``present``, ``rows``, ``accounts`` (distinct account ids),
    ``account_coverage`` (share of the accounts table's accounts that have a row here),
    ``date_from`` / ``date_to`` (of the table's dating column), ``missing_cells`` (share of empty
    cells) and ``columns_with_missing`` (``column (share)``, most missing first).
    """
    all_accounts = tables.accounts["account_id"].nunique()
    rows = []
    for table in TABLES:
        frame = tables.get(table.name)
        row: dict[str, object] = {"table": table.name, "required": table.required, "present": frame is not None}
        if frame is not None:
            missing = frame.isna().mean()
            accounts = frame["account_id"].nunique() if "account_id" in frame else np.nan
            dates = frame[DATE_COLUMNS[table.name]]
            row |= {
                "rows": len(frame),
                "accounts": accounts,
                "account_coverage": accounts / all_accounts if all_accounts else np.nan,
                "date_from": dates.min(),
                "date_to": dates.max(),
                "missing_cells": float(missing.mean()) if len(frame) and len(missing) else 0.0,
                "columns_with_missing": ", ".join(
                    f"{name} ({share:.0%})" for name, share in missing[missing > 0].sort_values(ascending=False).items()
                ),
            }
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in ("rows", "accounts"):
        out[column] = out[column].astype("Int64")
    return out


def column_missing(tables: Tables) -> pd.DataFrame:
    """Empty values per column of every present table: ``table``, ``column``, ``missing``, ``missing_share``."""
    parts = []
    for table in TABLES:
        frame = tables.get(table.name)
        if frame is None:
            continue
        counts = frame.isna().sum()
        parts.append(
            pd.DataFrame(
                {
                    "table": table.name,
                    "column": counts.index,
                    "missing": counts.to_numpy(),
                    "missing_share": counts.to_numpy() / max(len(frame), 1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def rows_per_month(tables: Tables) -> pd.DataFrame:
    """Rows per calendar month (index, first day of the month) per table (columns): a gap in an export stands out."""
    counts = {}
    for table in TABLES:
        frame = tables.get(table.name)
        if frame is None or table.name == "accounts":
            continue
        months = frame[DATE_COLUMNS[table.name]].dropna().dt.to_period("M")
        counts[table.name] = months.value_counts()
    out = pd.DataFrame(counts).sort_index().fillna(0).astype("int64")
    if len(out):
        out = out.reindex(pd.period_range(out.index.min(), out.index.max(), freq="M"), fill_value=0)
    out.index = out.index.to_timestamp()
    out.index.name = "month"
    return out


# --------------------------------------------------------------------------- renewal outcomes


def renewals_by_period(
    outcomes: pd.DataFrame, accounts: pd.DataFrame, freq: str = "Q", by: str = "segment"
) -> pd.DataFrame:
    """Renewal rate and gross / net ARR retention per period of the renewal date, per ``by`` and for ``all``.

    ``outcomes`` is ``features.outcomes.renewal_outcomes(...)``; ``accounts`` gives ``by`` per
    account. Columns: ``period`` (e.g. ``2025Q3``), ``by`` (the group, ``all`` for the whole
    book), ``contracts``, ``renewed``, ``churned``, ``renewal_rate``, ``arr_up_for_renewal``,
    ``arr_renewed_gross``, ``arr_renewed_net``, ``gross_arr_retention``, ``net_arr_retention``.
    """
    labelled = outcomes[outcomes["outcome"] != "open"].merge(
        accounts[["account_id", by]].astype({by: "str"}), on="account_id", how="left"
    )
    labelled[by] = labelled[by].fillna("unknown")
    frame = pd.DataFrame(
        {
            "period": labelled["end_date"].dt.to_period(freq).astype("str"),
            by: labelled[by],
            "renewed": (labelled["outcome"] == "renewed").astype("int64"),
            "arr_up_for_renewal": labelled["arr"],
            "arr_renewed_gross": np.minimum(labelled["renewed_arr"], labelled["arr"]),
            "arr_renewed_net": labelled["renewed_arr"],
        }
    )
    frame = pd.concat([frame, frame.assign(**{by: "all"})], ignore_index=True)
    out = (
        frame.groupby(["period", by], sort=True)
        .agg(
            contracts=("renewed", "size"),
            renewed=("renewed", "sum"),
            arr_up_for_renewal=("arr_up_for_renewal", "sum"),
            arr_renewed_gross=("arr_renewed_gross", "sum"),
            arr_renewed_net=("arr_renewed_net", "sum"),
        )
        .reset_index()
    )
    out["churned"] = out["contracts"] - out["renewed"]
    out["renewal_rate"] = out["renewed"] / out["contracts"]
    arr_up = out["arr_up_for_renewal"].where(out["arr_up_for_renewal"] > 0)
    out["gross_arr_retention"] = out["arr_renewed_gross"] / arr_up
    out["net_arr_retention"] = out["arr_renewed_net"] / arr_up
    columns = ["period", by, "contracts", "renewed", "churned", "renewal_rate", "arr_up_for_renewal"]
    columns += ["arr_renewed_gross", "arr_renewed_net", "gross_arr_retention", "net_arr_retention"]
    return out[columns]


def cohort_retention(
    tables: Tables,
    outcomes: pd.DataFrame,
    freq: str = "Y",
    since: pd.Timestamp | None = None,
    max_months: int | None = None,
) -> pd.DataFrame:
    """Retention curves by signup cohort: the share of a cohort still a customer k months after signing up.

    ``outcomes`` is ``renewal_outcomes(tables.contracts, ...)``: a renewed contract's customer
    covers the days until its successor starts. Accounts count from ``created_at``; only those
    that signed up on or after ``since`` (default: the first day of usage data) are included.
    Month k of an account counts only when ``created_at + k months`` is on or before the last
    day of the data. Columns: ``cohort`` (e.g. ``2024``), ``months_since_signup``,
    ``accounts`` (observed at that month), ``retained``, ``retention``.
    """
    data_end = tables.data_end
    since = tables.usage["date"].min() if since is None else pd.Timestamp(since)
    accounts = tables.accounts.loc[tables.accounts["created_at"] >= since, ["account_id", "created_at"]]
    accounts = accounts.reset_index(drop=True)
    columns = ["cohort", "months_since_signup", "accounts", "retained", "retention"]
    if accounts.empty:
        return pd.DataFrame(columns=columns)
    signup = accounts["created_at"].to_numpy("datetime64[D]")
    observable = np.floor((np.datetime64(data_end.date(), "D") - signup).astype("int64") / MONTH_DAYS).astype(int)
    months = int(observable.max()) + 1 if max_months is None else max_months + 1
    months = max(months, 1)

    index = pd.Index(accounts["account_id"].astype("str"))
    renewed = outcomes["outcome"].eq("renewed") & outcomes["successor_start_date"].notna()
    ends = outcomes["end_date"].where(~renewed, np.maximum(outcomes["end_date"], outcomes["successor_start_date"]))
    row = index.get_indexer(outcomes["account_id"].astype("str"))
    keep = row >= 0
    row = row[keep]
    start_days = (outcomes.loc[keep, "start_date"].to_numpy("datetime64[D]") - signup[row]).astype("int64")
    end_days = (ends[keep].to_numpy("datetime64[D]") - signup[row]).astype("int64")
    # Month k (day k * MONTH_DAYS) is covered when start <= day < end: months ceil(start/M) .. ceil(end/M) - 1.
    first = np.clip(np.ceil(start_days / MONTH_DAYS).astype(int), 0, months)
    stop = np.clip(np.ceil(end_days / MONTH_DAYS).astype(int), 0, months)
    valid = stop > first
    diff = np.zeros((len(accounts), months + 1), dtype=np.int32)
    np.add.at(diff, (row[valid], first[valid]), 1)
    np.add.at(diff, (row[valid], stop[valid]), -1)
    active = np.cumsum(diff[:, :months], axis=1) > 0
    seen = np.arange(months)[None, :] <= observable[:, None]

    cohort = accounts["created_at"].dt.to_period(freq).astype("str").to_numpy()
    long = pd.DataFrame(
        {
            "cohort": np.repeat(cohort, months),
            "months_since_signup": np.tile(np.arange(months), len(accounts)),
            "seen": seen.ravel(),
            "active": (active & seen).ravel(),
        }
    )
    out = (
        long[long["seen"]]
        .groupby(["cohort", "months_since_signup"], sort=True)
        .agg(accounts=("seen", "size"), retained=("active", "sum"))
        .reset_index()
    )
    out["retention"] = out["retained"] / out["accounts"]
    return out[columns]


# --------------------------------------------------------------------------- signals before renewal


def main_signals(frame: pd.DataFrame, signals: Sequence[str] = MAIN_SIGNALS) -> list[str]:
    """The ``signals`` that ``frame`` has (a data set without NPS has no NPS feature)."""
    return [name for name in signals if name in frame.columns]


def signal_comparison(frame: pd.DataFrame, signals: Sequence[str] | None = None) -> pd.DataFrame:
    """How each signal differs between renewed and churned contracts, in labelled training snapshots.

    Columns: ``signal``, ``outcome`` (renewed / churned), ``contracts``, ``missing_share``,
    ``mean``, ``p25``, ``median``, ``p75``. Missing values stay missing (their share is shown).
    """
    signals = main_signals(frame) if signals is None else list(signals)
    long = _long_signals(frame, signals, ["churned"])
    grouped = long.groupby(["signal", "outcome"], sort=False)["value"]
    out = grouped.agg(
        contracts="size",
        missing_share=lambda v: v.isna().mean(),
        mean="mean",
        p25=lambda v: v.quantile(0.25),
        median="median",
        p75=lambda v: v.quantile(0.75),
    ).reset_index()
    return _in_order(out, signals, ["outcome"], [False])


def signal_trajectories(frame: pd.DataFrame, signals: Sequence[str] | None = None) -> pd.DataFrame:
    """Each signal's median (and quartiles) by days before renewal, for renewed and churned contracts.

    ``frame`` holds training snapshots at several horizons
    (``build_training_snapshots(tables, horizons=(30, 90, 180), jitter=0)``). Only contracts observed at
    every horizon count (contracts shorter than the longest horizon drop out), so a line moves
    because accounts change, not because the mix of contracts does. Columns: ``signal``,
    ``days_before_renewal``, ``outcome``, ``contracts``, ``p25``, ``median``, ``p75``.
    """
    signals = main_signals(frame) if signals is None else list(signals)
    horizons = frame.groupby("contract_id", sort=False)["horizon_days"].transform("nunique")
    frame = frame[horizons == frame["horizon_days"].nunique()]
    long = _long_signals(frame, signals, ["churned", "horizon_days"])
    out = (
        long.groupby(["signal", "horizon_days", "outcome"], sort=False)["value"]
        .agg(
            contracts="count",
            p25=lambda v: v.quantile(0.25),
            median="median",
            p75=lambda v: v.quantile(0.75),
        )
        .reset_index()
        .rename(columns={"horizon_days": "days_before_renewal"})
    )
    return _in_order(out, signals, ["outcome", "days_before_renewal"], [False, False])


def _in_order(out: pd.DataFrame, signals: Sequence[str], then: list[str], ascending: list[bool]) -> pd.DataFrame:
    """Rows in the order the signals were asked for; renewed before churned."""
    out = out.assign(_order=out["signal"].map({name: i for i, name in enumerate(signals)}))
    out = out.sort_values(["_order", *then], ascending=[True, *ascending], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def _long_signals(frame: pd.DataFrame, signals: Sequence[str], keys: list[str]) -> pd.DataFrame:
    missing = [name for name in signals if name not in frame.columns]
    if missing:
        raise KeyError(f"not in the snapshots: {', '.join(missing)}")
    values = frame[[*keys, *signals]].copy()
    for name in signals:
        values[name] = pd.to_numeric(values[name], errors="coerce").astype("float64")
    long = values.melt(id_vars=keys, value_vars=list(signals), var_name="signal", value_name="value")
    long["outcome"] = np.where(long["churned"].astype(bool), "churned", "renewed")
    return long.drop(columns="churned")
