"""What an explanation is made of: plain, typed records shared by the CLI, the HTML pages and the service.

Contributions are in two currencies. ``contribution`` is the model's own: log-odds of churn
from exact TreeSHAP (LightGBM ``pred_contrib``), which add up to the raw score. ``points`` is
what a CSM reads: percentage points of churn risk, from the order-preserving mapping in
``explain.reasons.to_points``, which add up to this account's risk minus its peers' (comparable
accounts: same cadence, segment and horizon, with this account's own context).
Positive numbers push towards churn (risk drivers); negative ones towards renewal (protective).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date


@dataclass(frozen=True)
class Reason:
    """One feature's share in a score, said in words with the account's own numbers."""

    group: str  # driver group from the catalog: usage, adoption, support, relationship, commercial, billing
    feature: str  # catalog name, e.g. "seat_utilization_30d"
    label: str  # short words for the feature, e.g. "Seat utilization"
    value: float | str | None  # the account's value (None when missing)
    display_value: str  # the value as a person reads it: "22%", "41 per day", "no value on record"
    contribution: float  # log-odds of churn
    points: float  # percentage points of churn risk (+7.0 = seven points more likely to churn)
    sentence: str  # "Seat utilization is 22% (41 of 190 seats); renewing accounts typically use 64%"


@dataclass(frozen=True)
class GroupShare:
    """All features of one driver group together."""

    group: str
    contribution: float  # log-odds of churn, sum over the group's features
    points: float  # percentage points of churn risk


@dataclass(frozen=True)
class Play:
    """A suggested action for one of the account's top risk drivers, placed on the renewal calendar."""

    id: str
    title: str  # "Usage review with the champion"
    action: str  # one or two sentences on what to do
    owner: str  # who runs it: "CSM", "Support lead", "Account executive", "Finance"
    group: str  # the driver group it answers
    timing: str  # "T-90": start 90 days before the renewal date
    due: date | None  # renewal date minus the timing (None without a renewal date)
    status: str  # "upcoming", "due now" (due date passed, renewal not yet), or "no renewal date"
    because: str  # the reason sentence that triggered it
    # the columns whose values chose it: the matched `when` features, the event clock, churn_risk /
    # days_to_renewal for a play scoped by risk or date, or the driver's feature when nothing else did
    trigger: tuple[str, ...] = ()
    event_date: date | None = None  # when the triggering event happened (as_of minus its days-since clock)
    within_days: int | None = None  # the play is due at most this many days after event_date


@dataclass(frozen=True)
class Mover:
    """A feature whose change between two snapshots moved the risk."""

    group: str
    feature: str
    label: str
    value_then: float | str | None
    value_now: float | str | None
    points: float  # percentage points of churn risk this change added (negative: removed)
    phrase: str  # "active users per day fell from 52 to 41"


@dataclass(frozen=True)
class Change:
    """How and why the risk moved between an earlier snapshot and this one."""

    as_of_then: date
    as_of_now: date
    churn_risk_then: float
    churn_risk_now: float
    points: float  # churn_risk_now - churn_risk_then, in percentage points
    movers: list[Mover]
    summary: str  # "Risk up 18 points in the last 30 days, mostly because active users fell"


@dataclass(frozen=True)
class Explanation:
    """Everything a CSM needs to act on one account's score."""

    account_id: str
    contract_id: str | None
    as_of: date
    renewal_date: date | None
    days_to_renewal: int | None
    segment: str | None
    arr: float | None
    churn_risk: float
    renewal_probability: float
    risk_band: str  # low / medium / high
    arr_at_risk: float | None
    peer_churn_risk: float  # the risk of comparable accounts (own context, peers' usage etc.); points add up from here
    peer_group: str  # who the peers are, in words: "annual mid-market accounts renewing in 91–180 days"
    risk_meaning: str  # what churn_risk is the chance of, for this cadence (features.snapshots.RISK_MEANINGS)
    model_version: str
    risk_drivers: list[Reason]  # top risk drivers, strongest first
    protective: list[Reason]  # top protective factors, strongest first
    groups: list[GroupShare]  # every driver group, most risk first
    features: list[Reason]  # every feature with a non-zero contribution, largest |points| first (for waterfalls)
    plays: list[Play] = field(default_factory=list)
    change: Change | None = None
    summary: str = ""  # one line: "High risk (41%): usage, support and relationship"
    horizon_note: str = ""  # set when the renewal is further ahead than the model was trained for
    name: str | None = None  # the account's name (accounts.name), shown beside the id; customer text, never a feature

    def to_dict(self, *, all_features: bool = False) -> dict:
        """JSON-ready form (dates as ISO strings); the long per-feature list only when asked for."""
        data = _jsonable(asdict(self))
        if not all_features:
            data.pop("features")
        return data


@dataclass(frozen=True)
class TrendPoint:
    as_of: date
    churn_risk: float


@dataclass(frozen=True)
class MetricSeries:
    """One small chart on the account page: a metric over the last months, per week."""

    name: str  # "active_users", "tickets_opened"
    label: str  # "Active users per day (weekly average)"
    unit: str  # "users", "tickets"
    group: str  # driver group, for the chart's colour
    points: list[tuple[date, float | None]]  # (week start, value); None for a week with no data


@dataclass(frozen=True)
class AccountPage:
    """What the account page shows: the explanation plus its history."""

    explanation: Explanation
    trend: list[TrendPoint]  # monthly snapshots, oldest first, the last one is ``explanation.as_of``
    series: list[MetricSeries]
    bands: tuple[float, float]  # churn risk below bands[0] is low, below bands[1] medium, else high
    generated_at: str = ""  # ISO timestamp


@dataclass(frozen=True)
class PortfolioRow:
    account_id: str
    segment: str | None
    arr: float | None
    renewal_date: date | None
    days_to_renewal: int | None
    churn_risk: float
    risk_band: str
    arr_at_risk: float | None
    top_groups: list[str]  # the top risk driver groups, strongest first
    top_reason: str  # the strongest risk driver's sentence
    trend: list[float] = field(default_factory=list)  # churn risk over the past monthly snapshots, oldest first
    name: str | None = None  # the account's name (accounts.name)


@dataclass(frozen=True)
class RenewingBook:
    """Every account renewing within the horizon, not only the rows a page shows: the totals a CS leader plans with."""

    accounts: int
    arr: float  # renewing ARR of the accounts with an ARR
    arr_at_risk: float
    bands: dict[str, int]  # accounts per risk band (high, medium, low)

    @classmethod
    def of_rows(cls, rows: Sequence[PortfolioRow]) -> RenewingBook:
        """The totals of exactly these rows (a page that shows the whole book)."""
        return cls(
            accounts=len(rows),
            arr=float(sum(r.arr or 0.0 for r in rows)),
            arr_at_risk=float(sum(r.arr_at_risk or 0.0 for r in rows)),
            bands={band: sum(r.risk_band == band for r in rows) for band in ("high", "medium", "low")},
        )


@dataclass(frozen=True)
class Portfolio:
    """Accounts renewing soon, riskiest ARR first: the page a CS leader opens on Monday.

    ``rows`` may be the top of a longer list; ``book`` then holds the totals of every renewing
    account, so the page never presents the shown rows as the whole book.
    """

    as_of: date
    horizon_days: int  # renewals within this many days of as_of
    model_version: str
    rows: list[PortfolioRow]
    bands: tuple[float, float]
    generated_at: str = ""
    book: RenewingBook | None = None  # None: the rows are the whole book

    @property
    def totals(self) -> RenewingBook:
        return self.book if self.book is not None else RenewingBook.of_rows(self.rows)

    @property
    def shows_all(self) -> bool:
        return self.totals.accounts <= len(self.rows)

    @property
    def arr_total(self) -> float:
        return self.totals.arr

    @property
    def arr_at_risk_total(self) -> float:
        return self.totals.arr_at_risk


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value
