"""The feature catalog: the one place that says what every feature is.

Training reads it to know which columns are features and which are categorical; explanations
read it to group contributions by driver and to phrase them; serving reads it to validate
requests. Usage features are named after the metrics a customer's data actually has, so the
catalog is built for a list of metric names rather than fixed once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Literal

from features.schema import ACTIVE_USERS_METRIC, PRIORITIES

DriverGroup = Literal["usage", "adoption", "support", "relationship", "commercial", "billing"]
DRIVER_GROUPS: tuple[DriverGroup, ...] = ("usage", "adoption", "support", "relationship", "commercial", "billing")

USAGE_WINDOWS = (7, 30, 90)
TICKET_WINDOWS = (30, 90)
STALE_TICKET_DAYS = 14
SUPPORT_WINDOW = 90
LONG_SUPPORT_WINDOW = 180  # support pain builds over months; CSMs read half a year of tickets
BILLING_WINDOW = 90
LONG_BILLING_WINDOW = 365
QBR_WINDOW = 365
CATEGORICAL_FEATURES = ("segment", "plan", "industry", "region")


@dataclass(frozen=True)
class Feature:
    """One feature: what it means, in which unit, and which kind of risk driver it speaks for."""

    name: str
    description: str
    unit: str
    group: DriverGroup
    kind: Literal["numeric", "categorical"] = "numeric"


def metric_slug(metric: str) -> str:
    """A metric name as it appears inside feature names: lower snake case, nothing else."""
    slug = re.sub(r"[^0-9a-z]+", "_", metric.strip().lower()).strip("_")
    return slug or "metric"


def _metric_words(metric: str) -> str:
    return metric.replace("_", " ").replace(".", " ")


def usage_features(metric: str) -> list[Feature]:
    """The usage family for one metric: level over three windows, trends, recency and regularity."""
    slug, words = metric_slug(metric), _metric_words(metric)
    unit = f"{words} per day"
    features = [
        Feature(f"usage_{slug}_mean_{w}d", f"Average daily {words} over the last {w} days", unit, "usage")
        for w in USAGE_WINDOWS
    ]
    features += [
        Feature(
            f"usage_{slug}_trend_{w}d",
            f"Change in average daily {words}: last {w} days vs the {w} days before (-0.38 = down 38%)",
            "fraction",
            "usage",
        )
        for w in (30, 90)
    ]
    features += [
        Feature(f"usage_{slug}_days_since_last", f"Days since the last day with any {words}", "days", "usage"),
        Feature(
            f"usage_{slug}_active_day_share_30d", f"Share of the last 30 days with any {words}", "fraction", "usage"
        ),
    ]
    return features


ADOPTION = [
    Feature(
        "seat_utilization_30d",
        f"Average daily {_metric_words(ACTIVE_USERS_METRIC)} over the last 30 days divided by licensed seats",
        "fraction",
        "adoption",
    ),
    Feature("modules_used_30d", "Product modules used at least once in the last 30 days", "modules", "adoption"),
    Feature(
        "modules_used_change_30d",
        "Change in modules used: last 30 days minus the 30 days before",
        "modules",
        "adoption",
    ),
]

SUPPORT = [
    *(
        Feature(
            f"tickets_{p}_{w}d", f"{p.capitalize()}-priority tickets opened in the last {w} days", "tickets", "support"
        )
        for w in TICKET_WINDOWS
        for p in PRIORITIES
    ),
    Feature(
        f"tickets_urgent_high_{LONG_SUPPORT_WINDOW}d",
        f"Urgent or high-priority tickets opened in the last {LONG_SUPPORT_WINDOW} days",
        "tickets",
        "support",
    ),
    Feature("tickets_open", "Tickets open on the snapshot date", "tickets", "support"),
    Feature(
        "oldest_open_ticket_age_days", "Age of the oldest open ticket (missing when none is open)", "days", "support"
    ),
    Feature(
        f"urgent_high_open_over_{STALE_TICKET_DAYS}d",
        f"Urgent or high-priority tickets open for more than {STALE_TICKET_DAYS} days",
        "tickets",
        "support",
    ),
    Feature(
        f"median_resolution_days_{SUPPORT_WINDOW}d",
        f"Median days to resolve tickets closed in the last {SUPPORT_WINDOW} days",
        "days",
        "support",
    ),
    Feature(
        f"csat_mean_{SUPPORT_WINDOW}d",
        f"Average CSAT of tickets closed in the last {SUPPORT_WINDOW} days",
        "score 1-5",
        "support",
    ),
    Feature(
        f"escalations_{SUPPORT_WINDOW}d",
        f"Escalated tickets among those closed in the last {SUPPORT_WINDOW} days",
        "tickets",
        "support",
    ),
]

RELATIONSHIP = [
    Feature("nps_last_score", "Score of the most recent NPS response", "score 0-10", "relationship"),
    Feature("nps_change", "Most recent NPS score minus the one before it", "points", "relationship"),
    Feature("days_since_nps_response", "Days since the most recent NPS response", "days", "relationship"),
    Feature("days_since_champion_left", "Days since the champion last left (missing if never)", "days", "relationship"),
    Feature(
        "has_champion",
        "1 if the latest champion change was a new champion, 0 if the champion left (missing if unknown)",
        "flag",
        "relationship",
    ),
    Feature(
        "exec_sponsor_present",
        "1 if the latest executive sponsor change was an addition, 0 if the sponsor left (missing if unknown)",
        "flag",
        "relationship",
    ),
    Feature(
        "days_since_qbr", "Days since the last quarterly business review (missing if never)", "days", "relationship"
    ),
    Feature(f"qbrs_{QBR_WINDOW}d", f"Business reviews held in the last {QBR_WINDOW} days", "reviews", "relationship"),
]

COMMERCIAL = [
    Feature("arr", "Annual recurring revenue of the current contract", "currency", "commercial"),
    Feature("seats", "Licensed seats on the current contract", "seats", "commercial"),
    Feature("arr_per_seat", "Annual price per licensed seat", "currency per seat", "commercial"),
    Feature("plan", "Plan of the current contract", "category", "commercial", kind="categorical"),
    Feature("segment", "Customer segment", "category", "commercial", kind="categorical"),
    Feature("industry", "Industry of the customer", "category", "commercial", kind="categorical"),
    Feature("region", "Sales region", "category", "commercial", kind="categorical"),
    Feature("tenure_days", "Days since the account became a customer", "days", "commercial"),
    Feature("contract_term_days", "Length of the current contract", "days", "commercial"),
    Feature("discount_pct", "Discount on the current contract", "fraction", "commercial"),
    Feature("prior_renewals", "Contracts the account had before the current one", "contracts", "commercial"),
    Feature(
        "arr_change_at_last_renewal",
        "ARR of the current contract vs the previous one (0.2 = up 20%; missing for a first contract)",
        "fraction",
        "commercial",
    ),
    Feature(
        "price_per_seat_change_at_last_renewal",
        "Price per seat of the current contract vs the previous one (0.2 = up 20%)",
        "fraction",
        "commercial",
    ),
    Feature(
        "discount_change_at_last_renewal",
        "Discount of the current contract minus the previous one's (-0.2 = 20 points less discount)",
        "fraction",
        "commercial",
    ),
    Feature(
        "price_per_seat_change_12m",
        "Price per seat now vs the contract in force a year earlier (0.25 = up 25%; missing without one)",
        "fraction",
        "commercial",
    ),
    Feature(
        "discount_change_12m",
        "Discount now minus the discount a year earlier (-0.2 = 20 points less discount)",
        "fraction",
        "commercial",
    ),
    Feature("auto_renew", "1 if the contract renews automatically", "flag", "commercial"),
    Feature("days_to_renewal", "Days from the snapshot date to the renewal date", "days", "commercial"),
]

BILLING = [
    Feature("overdue_invoices_open", "Invoices past due and still unpaid on the snapshot date", "invoices", "billing"),
    Feature(
        f"failed_or_late_invoices_{BILLING_WINDOW}d",
        f"Invoices due in the last {BILLING_WINDOW} days that failed, were paid late, or are still unpaid",
        "invoices",
        "billing",
    ),
    Feature(
        f"failed_or_late_invoices_{LONG_BILLING_WINDOW}d",
        f"Invoices due in the last {LONG_BILLING_WINDOW} days that failed, were paid late, or are still unpaid",
        "invoices",
        "billing",
    ),
    Feature(
        f"days_late_mean_{BILLING_WINDOW}d",
        f"Average days late of invoices due in the last {BILLING_WINDOW} days (unpaid ones count until the snapshot)",
        "days",
        "billing",
    ),
]


@dataclass(frozen=True)
class Catalog:
    """The features of one data set, in model column order."""

    features: tuple[Feature, ...]

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, name: str) -> Feature:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def _by_name(self) -> dict[str, Feature]:
        return {f.name: f for f in self.features}

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    def in_group(self, group: DriverGroup) -> list[str]:
        return [f.name for f in self.features if f.group == group]

    def to_records(self) -> list[dict[str, str]]:
        return [asdict(f) for f in self.features]

    @classmethod
    def from_records(cls, records: Iterable[dict[str, str]]) -> Catalog:
        return cls(tuple(Feature(**r) for r in records))

    @property
    def version(self) -> str:
        """A short content hash: models record it so a mismatched catalog is caught at load time."""
        blob = json.dumps(self.to_records(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def build_catalog(usage_metrics: Iterable[str]) -> Catalog:
    """The catalog for data whose usage table has these (non-module) metric names."""
    slugs = sorted({metric_slug(m): m for m in usage_metrics}.items())
    usage = [f for _, metric in slugs for f in usage_features(metric)]
    return Catalog(tuple(usage + ADOPTION + SUPPORT + RELATIONSHIP + COMMERCIAL + BILLING))


# Words that place a column of someone else's snapshot table in a driver group, tried in order.
_GROUP_KEYWORDS: tuple[tuple[DriverGroup, tuple[str, ...]], ...] = (
    ("billing", ("invoice", "payment", "paid", "overdue", "billing", "dunning", "late")),
    ("support", ("ticket", "csat", "support", "escalat", "incident", "resolution")),
    ("relationship", ("nps", "champion", "sponsor", "qbr", "meeting", "sentiment", "contact")),
    ("adoption", ("seat", "module", "adoption", "feature_", "utilization", "breadth")),
    ("usage", ("usage", "login", "active", "session", "event", "api_call", "dau", "mau", "wau")),
)


def group_for_column(name: str) -> DriverGroup:
    """Best guess of a column's driver group from its name; anything else is commercial (the account's terms)."""
    lowered = name.lower()
    for group, words in _GROUP_KEYWORDS:
        if any(word in lowered for word in words):
            return group
    return "commercial"


def catalog_for_columns(kinds: dict[str, str]) -> Catalog:
    """A catalog for a snapshot table made elsewhere: each column described by its own name.

    ``kinds`` maps column name to "numeric" or "categorical". Driver groups are guessed from
    the name (``group_for_column``), so explanations can still group reasons.
    """
    return Catalog(
        tuple(
            Feature(name, name.replace("_", " "), "as given", group_for_column(name), kind)  # type: ignore[arg-type]
            for name, kind in kinds.items()
        )
    )
