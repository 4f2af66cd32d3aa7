"""Hand-made explanation records, realistic enough to render and look at, for the page and service tests.

The numbers are consistent the way the real pipeline makes them: feature points add up from the
average account's risk to this account's, groups sum their features, plays sit on the renewal calendar.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from explain.records import (
    AccountPage,
    Change,
    Explanation,
    GroupShare,
    MetricSeries,
    Mover,
    Play,
    Portfolio,
    PortfolioRow,
    Reason,
    TrendPoint,
)

AS_OF = date(2026, 11, 1)
BANDS = (0.15, 0.35)

# (group, feature, label, value, display value, points, sentence)
_FEATURES = [
    ("usage", "active_users_30d", "Active users per day", 41.0, "41 per day", 9.0,
     "Active users fell to 41 per day from 52 a month ago; renewing accounts of this size average 60"),
    ("adoption", "seat_utilization_30d", "Seat utilization", 0.22, "22%", 7.0,
     "Seat utilization is 22% (41 of 190 seats); renewing accounts typically use 64%"),
    ("support", "urgent_tickets_90d", "Urgent tickets (90 days)", 4.0, "4 tickets", 5.5,
     "4 urgent tickets in the last 90 days, 2 still open; renewing accounts typically have none"),
    ("relationship", "days_since_champion_left", "Days since the champion left", 38.0, "38 days", 4.0,
     "The champion left 38 days ago and no new one is on record"),
    ("commercial", "discount_pct", "Discount", 0.2, "20%", 1.5,
     "The contract carries a 20% discount, above the usual 10%"),
    ("usage", "feature_breadth", "Modules in use", 4.0, "4 of 5 modules", -3.0,
     "4 of the 5 modules are in regular use, more than most renewing accounts"),
    ("billing", "days_late_avg", "Average days late on invoices", 0.0, "0 days", -2.0,
     "Invoices are paid on time (0 days late on average)"),
    ("relationship", "nps_last_score", "Latest NPS score", 9.0, "9", -1.5,
     "The latest NPS response was a 9 (promoter)"),
    ("support", "csat_avg_90d", "Support satisfaction", 4.6, "4.6 of 5", -1.0,
     "Support satisfaction is 4.6 of 5 over the last 90 days"),
    ("adoption", "api_calls_30d", "API calls per day", 1200.0, "1,200 per day", 0.7, "API calls are 1,200 per day"),
    ("commercial", "term_months", "Contract term", 12.0, "12 months", -0.4, "A 12-month contract"),
    ("billing", "failed_payments_180d", "Failed payments (180 days)", 1.0, "1", 0.2, "One failed payment in 180 days"),
]  # fmt: skip


def make_reasons() -> list[Reason]:
    """Every feature with a non-zero contribution, largest |points| first, as ``Explanation.features``."""
    reasons = [
        Reason(group, feature, label, value, display, points / 25.0, points, sentence)
        for group, feature, label, value, display, points, sentence in _FEATURES
    ]
    return sorted(reasons, key=lambda r: abs(r.points), reverse=True)


def make_groups(reasons: list[Reason]) -> list[GroupShare]:
    totals: dict[str, float] = {}
    for r in reasons:
        totals[r.group] = totals.get(r.group, 0.0) + r.points
    shares = [GroupShare(g, p / 25.0, p) for g, p in totals.items()]
    return sorted(shares, key=lambda g: g.points, reverse=True)


def make_plays(renewal: date | None, as_of: date = AS_OF) -> list[Play]:
    specs = [
        ("usage-review", "Usage review with the champion", "CSM", "usage", 120,
         "Walk through who uses what with the account's admin and agree on two teams to onboard this quarter."),
        ("exec-sponsor", "Find a new executive sponsor", "Account executive", "relationship", 90,
         "The champion left; ask the economic buyer for an introduction to the new owner of the tool."),
        ("ticket-escalation", "Close the urgent tickets", "Support lead", "support", 60,
         "Escalate the two open urgent tickets and send the account a written follow-up."),
    ]  # fmt: skip
    plays = []
    for play_id, title, owner, group, days, action in specs:
        due = renewal - timedelta(days=days) if renewal else None
        status = "no renewal date" if due is None else ("due now" if due <= as_of else "upcoming")
        because = next(r.sentence for r in make_reasons() if r.group == group and r.points > 0)
        plays.append(Play(play_id, title, action, owner, group, f"T-{days}", due, status, because))
    return plays


def make_change(as_of: date = AS_OF) -> Change:
    movers = [
        Mover("usage", "active_users_30d", "Active users per day", 52.0, 41.0, 6.5,
              "active users per day fell from 52 to 41"),
        Mover("support", "urgent_tickets_90d", "Urgent tickets (90 days)", 2.0, 4.0, 4.0,
              "urgent tickets rose from 2 to 4"),
        Mover("billing", "days_late_avg", "Average days late on invoices", 3.0, 0.0, -1.5,
              "invoices went from 3 days late to on time"),
    ]  # fmt: skip
    return Change(
        as_of_then=as_of - timedelta(days=31),
        as_of_now=as_of,
        churn_risk_then=0.31,
        churn_risk_now=0.41,
        points=10.0,
        movers=movers,
        summary="Risk up 10 points in the last 31 days, mostly because active users fell and 2 urgent tickets opened",
    )


def make_explanation(account_id: str = "ACME-0042", *, with_change: bool = True, **overrides) -> Explanation:
    """A high-risk account renewing in 105 days; ``overrides`` replace any field."""
    reasons = make_reasons()
    average = 0.41 - sum(r.points for r in reasons) / 100
    renewal = AS_OF + timedelta(days=105)
    explanation = Explanation(
        account_id=account_id,
        contract_id="C-2025-0042",
        as_of=AS_OF,
        renewal_date=renewal,
        days_to_renewal=105,
        segment="mid_market",
        arr=184_000.0,
        churn_risk=0.41,
        renewal_probability=0.59,
        risk_band="high",
        arr_at_risk=184_000.0 * 0.41,
        peer_churn_risk=average,
        peer_group="annual mid-market accounts renewing in 91–180 days",
        risk_meaning="the chance the contract does not renew at its renewal date",
        model_version="renewal-risk v7 (2026-10-15)",
        risk_drivers=[r for r in reasons if r.points > 0][:5],
        protective=[r for r in reasons if r.points < 0][:3],
        groups=make_groups(reasons),
        features=reasons,
        plays=make_plays(renewal),
        change=make_change() if with_change else None,
        summary="High risk (41%): usage, adoption and support",
    )
    return replace(explanation, **overrides)


def make_trend(values: list[float | None] | None = None, as_of: date = AS_OF) -> list[TrendPoint]:
    """Monthly snapshots ending at ``as_of``, oldest first."""
    values = values if values is not None else [0.12, 0.14, 0.13, 0.19, 0.24, 0.31, 0.41]
    n = len(values)
    points = []
    for i, v in enumerate(values):
        months_back = n - 1 - i
        year, month = divmod(as_of.month - 1 - months_back, 12)
        points.append(TrendPoint(date(as_of.year + year, month + 1, 1), v))  # type: ignore[arg-type]
    return points


def make_series(weeks: int = 16) -> list[MetricSeries]:
    """Four weekly metrics: a falling line, a count with a gap, large numbers and a sparse series."""
    starts = [AS_OF - timedelta(weeks=weeks - i) for i in range(weeks)]
    active = [58 - i * 1.2 + (i % 3) for i in range(weeks)]
    tickets: list[float | None] = [float(i % 4 == 0) + float(i > 12) * 2 for i in range(weeks)]
    tickets[6] = None
    api_calls = [14_000.0 - 450 * i for i in range(weeks)]
    nps: list[float | None] = [None] * weeks
    nps[3], nps[11] = 8.0, 9.0
    specs = [
        ("active_users", "Active users per day (weekly average)", "users", "usage", active),
        ("tickets_opened", "Support tickets opened", "tickets", "support", tickets),
        ("usage_api_calls", "Api calls per day", "calls", "adoption", api_calls),
        ("nps", "NPS responses", "score", "relationship", nps),
    ]
    return [MetricSeries(n, label, unit, g, list(zip(starts, v, strict=True))) for n, label, unit, g, v in specs]


def make_account_page(explanation: Explanation | None = None, **overrides) -> AccountPage:
    page = AccountPage(
        explanation=explanation or make_explanation(),
        trend=make_trend(),
        series=make_series(),
        bands=BANDS,
        generated_at="2026-11-01T06:00:00Z",
    )
    return replace(page, **overrides)


def make_row(account_id: str, arr: float | None, risk: float, band: str, **overrides) -> PortfolioRow:
    row = PortfolioRow(
        account_id=account_id,
        segment="enterprise",
        arr=arr,
        renewal_date=AS_OF + timedelta(days=47),
        days_to_renewal=47,
        churn_risk=risk,
        risk_band=band,
        arr_at_risk=arr * risk if arr is not None else None,
        top_groups=["usage", "support"],
        top_reason="Active users fell to 41 per day from 52 a month ago",
        trend=[0.1, 0.12, risk * 0.8, risk],
    )
    return replace(row, **overrides)


def make_portfolio(rows: list[PortfolioRow] | None = None, horizon_days: int = 120) -> Portfolio:
    """Five renewals, riskiest ARR first, with a missing ARR and a short history among them."""
    if rows is None:
        rows = [
            make_row("ACME-0042", 184_000.0, 0.41, "high", segment="mid_market", days_to_renewal=105,
                     renewal_date=AS_OF + timedelta(days=105), top_groups=["usage", "adoption", "support"],
                     top_reason="Active users fell to 41 per day from 52 a month ago; renewing accounts average 60"),
            make_row("GLOBEX-7", 1_250_000.0, 0.04, "low", top_groups=["commercial"],
                     top_reason="The contract carries a 20% discount, above the usual 10%"),
            make_row("INITECH", 96_500.0, 0.22, "medium", segment="smb", days_to_renewal=12,
                     renewal_date=AS_OF + timedelta(days=12), trend=[0.22]),
            make_row("UMBRELLA-CORP-EMEA-SUBSIDIARY-0001", 42_000.0, 0.36, "high", segment=None,
                     top_groups=["billing", "relationship"], trend=[0.2, None, 0.3, 0.36],
                     top_reason="Two invoices are more than 60 days late and the finance contact has not replied"),
            make_row("HOOLI", None, 0.18, "medium", renewal_date=None, days_to_renewal=None, trend=[]),
        ]  # fmt: skip
        rows.sort(key=lambda r: r.arr_at_risk or 0.0, reverse=True)
    return Portfolio(
        as_of=AS_OF,
        horizon_days=horizon_days,
        model_version="renewal-risk v7 (2026-10-15)",
        rows=rows,
        bands=BANDS,
        generated_at="2026-11-01T06:00:00Z",
    )
