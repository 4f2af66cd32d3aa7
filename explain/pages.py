"""Assemble what the CSM pages show: explanations with history, for one account or a whole portfolio.

This is the one place that turns tables + model into ``AccountPage`` and ``Portfolio`` records;
``explain.report`` renders them to HTML, the CLI writes files and the service returns them.
Everything is batched: the accounts of a portfolio get their monthly snapshots from one
feature build, their explanations from one ``pred_contrib`` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from explain.change import explain_change
from explain.history import metric_series, monthly_dates, snapshots_at
from explain.reasons import Explainer, driver_groups
from explain.records import (
    AccountPage,
    Explanation,
    MetricSeries,
    Portfolio,
    PortfolioRow,
    RenewingBook,
    TrendPoint,
)
from features.load import Tables
from features.snapshots import scoring_grid
from training.score import risk_band

TREND_MONTHS = 6
PORTFOLIO_HORIZON_DAYS = 180
SERIES_WEEKS = 26


class UnknownAccountError(LookupError):
    """The account has no contract in force on the date asked for."""


def default_as_of(tables: Tables) -> pd.Timestamp:
    """Today, as far as the data knows: the day after the last day it describes (``Tables.next_day``)."""
    return tables.next_day


def with_names(snapshots: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """``snapshots`` with each account's name from ``accounts.name`` (a column the contract allows to be empty).

    The name is what a CSM recognises an account by; it is carried beside the features, never
    given to the model."""
    accounts = tables.accounts
    if "name" not in accounts.columns or snapshots.empty:
        return snapshots
    names = accounts.drop_duplicates("account_id").set_index("account_id")["name"]
    named = snapshots.drop(columns="name", errors="ignore")
    return named.assign(name=named["account_id"].map(names))


def _named(explanations: list[Explanation], rows: pd.DataFrame) -> list[Explanation]:
    """Explanations carrying their account's name, when ``rows`` (in the same order) have one."""
    if "name" not in rows.columns:
        return explanations
    names = [None if pd.isna(n) else str(n) for n in rows["name"]]
    return [replace(e, name=n) for e, n in zip(explanations, names, strict=True)]


def explain_accounts(
    explainer: Explainer,
    tables: Tables,
    account_ids: Sequence[str],
    as_of: pd.Timestamp,
    *,
    compare_days: int | None = None,
    detail: bool = False,
) -> list[Explanation]:
    """Explanations at ``as_of`` (with the change since ``compare_days`` earlier, if given), in the order asked."""
    as_of = pd.Timestamp(as_of).normalize()
    dates = [as_of] if not compare_days else [as_of - pd.Timedelta(days=compare_days), as_of]
    snapshots = with_names(snapshots_at(tables, dates, account_ids), tables)
    now = _rows_at(snapshots, as_of, account_ids)
    explanations = _named(explainer.explain(now, detail=detail, warn=False), now)
    if compare_days:
        explanations = _with_changes(explainer, explanations, snapshots, dates[0], now)
    return explanations


def _rows_at(snapshots: pd.DataFrame, as_of: pd.Timestamp, account_ids: Sequence[str]) -> pd.DataFrame:
    """The snapshot rows at ``as_of`` in the order of ``account_ids``; an account without one is an error."""
    at = snapshots[snapshots["as_of"] == as_of].set_index("account_id", drop=False) if len(snapshots) else None
    missing = [a for a in account_ids if at is None or a not in at.index]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise UnknownAccountError(
            f"no contract in force on {as_of.date()} for account(s) {shown}: "
            "check the id, or pick a date inside one of its contracts with --as-of"
        )
    return at.loc[list(account_ids)].reset_index(drop=True)


def _with_changes(
    explainer: Explainer,
    explanations: list[Explanation],
    snapshots: pd.DataFrame,
    then: pd.Timestamp,
    now: pd.DataFrame,
) -> list[Explanation]:
    """Attach the change since ``then`` to every account that had a snapshot on that day too."""
    earlier = snapshots[snapshots["as_of"] == then].set_index("account_id", drop=False)
    both = [a for a in now["account_id"] if a in earlier.index]
    if not both:
        return explanations
    changes = dict(
        zip(
            both,
            explain_change(
                explainer,
                earlier.loc[both].reset_index(drop=True),
                now.set_index("account_id", drop=False).loc[both].reset_index(drop=True),
            ),
            strict=True,
        )
    )
    return [replace(e, change=changes.get(e.account_id)) for e in explanations]


def account_pages(
    explainer: Explainer,
    tables: Tables,
    account_ids: Sequence[str],
    as_of: pd.Timestamp,
    *,
    months: int = TREND_MONTHS,
    compare_days: int | None = None,
) -> dict[str, AccountPage]:
    """Account pages for these accounts: explanation, monthly risk trend, change, weekly metrics.

    The change is against the previous monthly snapshot unless ``compare_days`` says otherwise.
    """
    as_of = pd.Timestamp(as_of).normalize()
    dates = monthly_dates(as_of, months)
    then = as_of - pd.Timedelta(days=compare_days) if compare_days else (dates[-2] if len(dates) > 1 else None)
    if then is not None and then not in dates:
        dates = sorted([*dates, then])
    snapshots = with_names(snapshots_at(tables, dates, account_ids), tables)
    series = metric_series(tables, list(account_ids), as_of, SERIES_WEEKS)
    return pages_from_snapshots(explainer, snapshots, series, account_ids, as_of, then)


def pages_from_snapshots(
    explainer: Explainer,
    snapshots: pd.DataFrame,
    series: Mapping[str, list[MetricSeries]],
    account_ids: Sequence[str],
    as_of: pd.Timestamp,
    then: pd.Timestamp | None,
) -> dict[str, AccountPage]:
    """Account pages from snapshots already at hand (built from tables, or read from a snapshot store).

    ``snapshots`` holds each account's row at ``as_of`` and at any earlier dates: every earlier
    date makes a point of the risk trend, and ``then`` (when present) is what the change is
    measured against.
    """
    now = _rows_at(snapshots, as_of, account_ids)
    explanations = _named(explainer.explain(now, detail=True, warn=False), now)
    if then is not None:
        explanations = _with_changes(explainer, explanations, snapshots, then, now)
    trends = _trends(explainer, snapshots[snapshots["as_of"] <= as_of])
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        e.account_id: AccountPage(e, trends.get(e.account_id, []), series.get(e.account_id, []), explainer.bands, stamp)
        for e in explanations
    }


def _trends(explainer: Explainer, monthly: pd.DataFrame) -> dict[str, list[TrendPoint]]:
    """Churn risk at each snapshot date, per account (one scoring call for all of them)."""
    if monthly.empty:
        return {}
    risk = explainer.bundle.churn_probability(monthly, warn=False)
    frame = pd.DataFrame(
        {"account": monthly["account_id"].to_numpy(), "as_of": monthly["as_of"].to_numpy(), "risk": risk}
    )
    frame = frame.sort_values(["account", "as_of"])
    return {
        str(account): [
            TrendPoint(pd.Timestamp(d).date(), float(r)) for d, r in zip(part["as_of"], part["risk"], strict=True)
        ]
        for account, part in frame.groupby("account", sort=False)
    }


def renewing_accounts(tables: Tables, as_of: pd.Timestamp, horizon_days: int) -> list[str]:
    """Accounts whose contract in force on ``as_of`` ends within ``horizon_days``."""
    grid = scoring_grid(tables.contracts, pd.Timestamp(as_of))
    days = (grid["renewal_date"] - grid["as_of"]).dt.days  # to the next renewal (horizon_days is the risk's window)
    return grid.loc[days <= horizon_days, "account_id"].astype("str").tolist()


def portfolio(
    explainer: Explainer,
    tables: Tables,
    as_of: pd.Timestamp,
    *,
    horizon_days: int = PORTFOLIO_HORIZON_DAYS,
    top: int | None = None,
    months: int = TREND_MONTHS,
) -> tuple[Portfolio, dict[str, AccountPage]]:
    """Accounts renewing within ``horizon_days``, riskiest ARR first (the ``top`` of them), with their pages."""
    as_of = pd.Timestamp(as_of).normalize()
    accounts = renewing_accounts(tables, as_of, horizon_days)
    totals = None
    if top is not None and accounts:
        accounts, totals = riskiest_arr_of_book(explainer, snapshots_at(tables, [as_of], accounts), top)
    pages = account_pages(explainer, tables, accounts, as_of, months=months) if accounts else {}
    rows = portfolio_rows(pages)
    book = Portfolio(
        as_of=as_of.date(),
        horizon_days=horizon_days,
        model_version=explainer.bundle.version_label,
        rows=rows,
        bands=explainer.bands,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        book=totals,
    )
    return book, pages


def riskiest_arr_of_book(
    explainer: Explainer, snapshots: pd.DataFrame, top: int | None
) -> tuple[list[str], RenewingBook]:
    """The ``top`` accounts by ARR at risk (ties by id), and the totals of the whole renewing book.

    Scores only, no explanations to throw away: one batch prediction serves the ranking and the
    totals, so a page that shows the top 300 can still say what all 1,177 renewals hold.
    """
    risk = explainer.bundle.churn_probability(snapshots, warn=False)
    arr = pd.to_numeric(snapshots.get("arr"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    at_risk = np.nan_to_num(arr) * risk
    ranked = pd.DataFrame({"account_id": snapshots["account_id"].astype("str").to_numpy(), "at_risk": at_risk})
    ranked = ranked.sort_values(["at_risk", "account_id"], ascending=[False, True])
    bands = pd.Series(risk_band(risk, explainer.bands)).value_counts()
    totals = RenewingBook(
        accounts=len(snapshots),
        arr=float(np.nansum(arr)),
        arr_at_risk=float(at_risk.sum()),
        bands={band: int(bands.get(band, 0)) for band in ("high", "medium", "low")},
    )
    return ranked["account_id"].head(top).tolist(), totals


def portfolio_rows(pages: Mapping[str, AccountPage]) -> list[PortfolioRow]:
    """One portfolio row per account page, riskiest ARR first (ties by account id, so the order is stable)."""
    return sorted((_row(page) for page in pages.values()), key=lambda r: (-(r.arr_at_risk or 0.0), r.account_id))


def _row(page: AccountPage) -> PortfolioRow:
    e = page.explanation
    return PortfolioRow(
        account_id=e.account_id,
        name=e.name,
        segment=e.segment,
        arr=e.arr,
        renewal_date=e.renewal_date,
        days_to_renewal=e.days_to_renewal,
        churn_risk=e.churn_risk,
        risk_band=e.risk_band,
        arr_at_risk=e.arr_at_risk,
        top_groups=driver_groups(e.risk_drivers),
        top_reason=e.risk_drivers[0].sentence if e.risk_drivers else "Nothing stands out above the average account",
        trend=[float(np.round(p.churn_risk, 4)) for p in page.trend],
    )
