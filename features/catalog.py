"""The feature catalog: the one place that says what every feature is.

Training reads it to know which columns are features and which are categorical; explanations
read it to group contributions by driver and to phrase them; serving reads it to validate
requests. Usage features are named after the metrics a customer's data actually has, so the
catalog is built for a list of metric names rather than fixed once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Literal

from features.schema import ACTIVE_USERS_METRIC, PRIORITIES

FeatureRole = Literal["actionable", "context"]
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
PAIN_WINDOW = 200  # a support-pain burst weighs on the renewal for about half a year
SLOW_TICKET_DAYS = 15  # urgent/high tickets normally close within days; a burst takes 20-60
DETRACTOR_WINDOW = 180
DETRACTOR_SCORE = 5  # NPS answers of 0-5: clearly unhappy, not merely passive
CHAMPION_LOSS_WINDOW = 300
PAYMENT_PROBLEM_WINDOW = 200
CATEGORICAL_FEATURES = ("segment", "plan", "industry", "region")


@dataclass(frozen=True)
class Feature:
    """One feature: what it means, in which unit, which kind of risk driver it speaks for, and how to say it.

    The sentence fields are templates that ``explain.sentences`` fills with an account's own
    numbers: ``{value}`` is this feature, any other feature or snapshot column can be named
    (``{seats:int}``), ``{typical}`` is the median among renewing accounts in the training
    data, and a part in ``[...]`` is left out when a value it names is missing. ``when_zero``
    replaces ``template`` when the value is 0 (``"No urgent tickets open"`` reads better than
    ``"0 urgent tickets"``); ``missing`` is said when the value is missing, never as zero.

    ``role`` says whether the account can act on the feature. *Context* (the contract's term,
    the days left, tenure, segment, plan, size) describes which accounts this one should be
    compared with: it makes up the peer baseline an explanation starts from and is never
    offered as a reason, a play's trigger or a what-if. ``concept`` joins features that state
    the same fact in different windows ("price per seat rose 33% compared with a year ago" and
    "... at a renewal in the last year"), so a reason is said once. ``clock`` marks counts of
    days since an event, which rise by themselves as time passes. ``riskier`` says which side
    of the typical renewing account's value is the worrying one (lower usage, more urgent
    tickets): a value on the other side is never said as a risk driver ("usage up 23%" is not
    a reason to worry, whatever the model's interactions make of it), nor the reverse.
    ``monotone`` marks the counts of adverse events (urgent tickets, escalations, a champion
    leaving, failed payments) whose direction is not a finding but a premise: the model is
    trained under a LightGBM monotone constraint on them, so one more urgent ticket or a
    champion's departure can never lower an account's risk.
    """

    name: str
    description: str
    unit: str
    group: DriverGroup
    kind: Literal["numeric", "categorical"] = "numeric"
    label: str = ""  # short noun phrase: "seat utilization", used in change summaries and charts
    template: str = ""
    when_zero: str = ""
    missing: str = ""
    role: FeatureRole = "actionable"
    concept: str = ""  # features that state one fact share a concept; empty: the feature is its own
    clock: bool = False  # the value grows by a day each day when nothing happens ("days since ...")
    riskier: Literal["lower", "higher", ""] = ""  # which side of the typical renewing value is the worrying one
    monotone: bool = False  # the model is held to ``riskier``: more adverse events never lower the risk

    @property
    def is_context(self) -> bool:
        """Context (term, days to renewal, tenure, segment, plan) sets the peer baseline; it is never a reason."""
        return self.role == "context"

    @property
    def monotone_constraint(self) -> int:
        """LightGBM's constraint: +1 (risk may only rise with the value), −1 (only fall), 0 (free)."""
        if not self.monotone:
            return 0
        return {"higher": 1, "lower": -1}.get(self.riskier, 0)

    @property
    def fact(self) -> str:
        """The fact this feature states: reasons that share one are said once."""
        return self.concept or self.name


def metric_slug(metric: str) -> str:
    """A metric name as it appears inside feature names: lower snake case, nothing else."""
    slug = re.sub(r"[^0-9a-z]+", "_", metric.strip().lower()).strip("_")
    return slug or "metric"


def _metric_words(metric: str) -> str:
    return metric.replace("_", " ").replace(".", " ")


TYPICAL = "[ (renewing accounts: {typical})]"


def usage_features(metric: str) -> list[Feature]:
    """The usage family for one metric: level over three windows, trends, recency and regularity."""
    slug, words = metric_slug(metric), _metric_words(metric)
    unit = f"{words} per day"
    mean_30d, trend_30d = f"usage_{slug}_mean_30d", f"usage_{slug}_trend_30d"
    comparisons = {
        7: f"[, against {{{mean_30d}:num}} a day over 30 days]",
        30: f"[, {{{trend_30d}:change}} from the 30 days before]",
        90: f"[, {{usage_{slug}_trend_90d:change}} from the 90 days before]",
    }
    features = [
        Feature(
            f"usage_{slug}_mean_{w}d",
            f"Average daily {words} over the last {w} days",
            unit,
            "usage",
            label=f"daily {words} ({w}-day average)",
            template=f"{words.capitalize()} averaged {{value:num}} a day over the last {w} days{comparisons[w]}",
            when_zero=f"No {words} at all in the last {w} days" + TYPICAL.replace("{typical}", "{typical:num} a day"),
        )
        for w in USAGE_WINDOWS
    ]
    features += [
        Feature(
            f"usage_{slug}_trend_{w}d",
            f"Change in average daily {words}: last {w} days vs the {w} days before (-0.38 = down 38%)",
            "fraction",
            "usage",
            label=f"{words} trend over {w} days",
            template=f"Daily {words} {{value:changed}} over the last {w} days compared with the {w} days before"
            + f"[, to {{usage_{slug}_mean_{w}d:num}} a day]",
            missing=f"Too little {words} history to measure a {w}-day trend",
        )
        for w in (30, 90)
    ]
    features += [
        Feature(
            f"usage_{slug}_days_since_last",
            f"Days since the last day with any {words}",
            "days",
            "usage",
            label=f"days since the last {words}",
            template=f"The last day with any {words} was {{value:days}} ago"
            + TYPICAL.replace("{typical}", "{typical:days}"),
            missing=f"No {words} on record",
        ),
        Feature(
            f"usage_{slug}_active_day_share_30d",
            f"Share of the last 30 days with any {words}",
            "fraction",
            "usage",
            label=f"days with {words} (share of 30)",
            template=f"{words.capitalize()} on {{value:pct}} of the last 30 days"
            + TYPICAL.replace("{typical}", "{typical:pct}"),
            when_zero=f"Not a single day with {words} in the last 30 days",
        ),
    ]
    return features


_ACTIVE_USERS_30D = f"usage_{metric_slug(ACTIVE_USERS_METRIC)}_mean_30d"

ADOPTION = [
    Feature(
        "seat_utilization_30d",
        f"Average daily {_metric_words(ACTIVE_USERS_METRIC)} over the last 30 days divided by licensed seats",
        "fraction",
        "adoption",
        label="seat utilization",
        template=f"Seat utilization is {{value:pct}}[ ({{{_ACTIVE_USERS_30D}:int}} of {{seats:int}} seats)]"
        "[; renewing accounts typically use {typical:pct}]",
        missing="Seat utilization unknown (no seat count or no active-user data)",
    ),
    Feature(
        "modules_used_30d",
        "Product modules used at least once in the last 30 days",
        "modules",
        "adoption",
        label="modules used",
        template="{value:count:product module} used in the last 30 days[ (renewing accounts: {typical:int})]",
        when_zero="No product module used in the last 30 days[ (renewing accounts use {typical:int})]",
        missing="No module usage on record",
    ),
    Feature(
        "modules_used_change_30d",
        "Change in modules used: last 30 days minus the 30 days before",
        "modules",
        "adoption",
        label="change in modules used",
        template="Modules used changed by {value:signed} compared with the 30 days before[, to {modules_used_30d:int}]",
        when_zero="Modules used held steady compared with the 30 days before[ ({modules_used_30d:int})]",
        missing="Too little module history to compare",
    ),
]


def _ticket_count(priority: str, window: int) -> Feature:
    kind = priority if priority == "urgent" else f"{priority}-priority"
    return Feature(
        f"tickets_{priority}_{window}d",
        f"{priority.capitalize()}-priority tickets opened in the last {window} days",
        "tickets",
        "support",
        label=f"{priority}-priority tickets ({window} days)",
        template=f"{{value:count:{kind} ticket}} opened in the last {window} days" + TYPICAL,
        when_zero=f"No {kind} tickets opened in the last {window} days",
    )


SUPPORT = [
    *(_ticket_count(p, w) for w in TICKET_WINDOWS for p in PRIORITIES),
    Feature(
        f"tickets_urgent_high_{LONG_SUPPORT_WINDOW}d",
        f"Urgent or high-priority tickets opened in the last {LONG_SUPPORT_WINDOW} days",
        "tickets",
        "support",
        label=f"urgent or high tickets ({LONG_SUPPORT_WINDOW} days)",
        template=f"{{value:count:urgent or high-priority ticket}} opened in the last {LONG_SUPPORT_WINDOW} days"
        + TYPICAL,
        when_zero=f"No urgent or high-priority tickets in the last {LONG_SUPPORT_WINDOW} days",
    ),
    Feature(
        f"slow_urgent_high_tickets_{PAIN_WINDOW}d",
        f"Urgent or high-priority tickets opened in the last {PAIN_WINDOW} days that took {SLOW_TICKET_DAYS}+ days "
        "to resolve (or are still open after that long)",
        "tickets",
        "support",
        label=f"slow urgent or high tickets ({PAIN_WINDOW} days)",
        template=f"{{value:count:urgent or high-priority ticket}} from the last {PAIN_WINDOW} days took "
        f"{SLOW_TICKET_DAYS} days or more to resolve" + TYPICAL,
        when_zero=f"No urgent or high-priority ticket of the last {PAIN_WINDOW} days took {SLOW_TICKET_DAYS}+ days",
    ),
    Feature(
        "tickets_open",
        "Tickets open on the snapshot date",
        "tickets",
        "support",
        label="open tickets",
        template="{value:count:ticket} open[, the oldest for {oldest_open_ticket_age_days:days}]",
        when_zero="No tickets open",
    ),
    Feature(
        "oldest_open_ticket_age_days",
        "Age of the oldest open ticket (missing when none is open)",
        "days",
        "support",
        label="age of the oldest open ticket",
        template="The oldest open ticket has been open for {value:days}[ ({tickets_open:count:ticket} open in all)]",
        missing="No tickets open",
    ),
    Feature(
        f"urgent_high_open_over_{STALE_TICKET_DAYS}d",
        f"Urgent or high-priority tickets open for more than {STALE_TICKET_DAYS} days",
        "tickets",
        "support",
        label=f"urgent or high tickets open over {STALE_TICKET_DAYS} days",
        template=f"{{value:count:urgent or high-priority ticket}} open for more than {STALE_TICKET_DAYS} days"
        "[ (oldest: {oldest_open_ticket_age_days:days})]",
        when_zero=f"No urgent or high-priority ticket open for more than {STALE_TICKET_DAYS} days",
    ),
    Feature(
        f"median_resolution_days_{SUPPORT_WINDOW}d",
        f"Median days to resolve tickets closed in the last {SUPPORT_WINDOW} days",
        "days",
        "support",
        label="median time to resolve",
        template=f"Tickets closed in the last {SUPPORT_WINDOW} days took a median of {{value:days}} to resolve"
        + TYPICAL.replace("{typical}", "{typical:days}"),
        missing=f"No tickets closed in the last {SUPPORT_WINDOW} days",
    ),
    Feature(
        f"csat_mean_{SUPPORT_WINDOW}d",
        f"Average CSAT of tickets closed in the last {SUPPORT_WINDOW} days",
        "score 1-5",
        "support",
        label="CSAT",
        template=f"Average CSAT over the last {SUPPORT_WINDOW} days is {{value:num}} out of 5"
        + TYPICAL.replace("{typical}", "{typical:num}"),
        missing=f"No CSAT rating in the last {SUPPORT_WINDOW} days",
    ),
    Feature(
        f"escalations_{SUPPORT_WINDOW}d",
        f"Escalated tickets among those closed in the last {SUPPORT_WINDOW} days",
        "tickets",
        "support",
        label="escalations",
        template=f"{{value:count:escalated ticket}} among those closed in the last {SUPPORT_WINDOW} days",
        when_zero=f"No escalations in the last {SUPPORT_WINDOW} days",
    ),
]

DECLINE = [
    Feature(
        "active_users_vs_peak_7m",
        f"Weekday {_metric_words(ACTIVE_USERS_METRIC)} over the last 30 days relative to their best 30-day level "
        "in the 7 months before (0.6 = at 60% of the recent peak)",
        "fraction",
        "usage",
        label="active users against their recent peak",
        template="Weekday active users are at {value:pct} of their best level in the last 7 months"
        + TYPICAL.replace("{typical}", "{typical:pct}"),
        when_zero="No active users at all in the last 30 days, after earlier use",
        missing="Too little active-user history to compare with a recent peak",
    ),
]

RELATIONSHIP = [
    Feature(
        "nps_last_score",
        "Score of the most recent NPS response",
        "score 0-10",
        "relationship",
        label="latest NPS score",
        template="Latest NPS response: {value:nps}[, {days_since_nps_response:days} ago]"
        + TYPICAL.replace("{typical}", "{typical:int}"),
        missing="No NPS response on record",
    ),
    Feature(
        "nps_change",
        "Most recent NPS score minus the one before it",
        "points",
        "relationship",
        label="NPS change",
        template="NPS moved {value:signed} points since the previous response[, to {nps_last_score:int}]",
        when_zero="NPS unchanged since the previous response[ ({nps_last_score:int})]",
        missing="Fewer than two NPS responses on record",
    ),
    Feature(
        "days_since_nps_response",
        "Days since the most recent NPS response",
        "days",
        "relationship",
        label="days since the last NPS response",
        template="Last NPS response {value:days} ago" + TYPICAL.replace("{typical}", "{typical:days}"),
        missing="No NPS response on record",
    ),
    Feature(
        f"nps_detractor_responses_{DETRACTOR_WINDOW}d",
        f"NPS responses scoring {DETRACTOR_SCORE} or less in the last {DETRACTOR_WINDOW} days",
        "responses",
        "relationship",
        label=f"detractor NPS answers ({DETRACTOR_WINDOW} days)",
        template=f"{{value:count:NPS answer}} of {DETRACTOR_SCORE} or less in the last {DETRACTOR_WINDOW} days"
        "[ (latest score: {nps_last_score:nps})]",
        when_zero=f"No NPS answer of {DETRACTOR_SCORE} or less in the last {DETRACTOR_WINDOW} days",
    ),
    Feature(
        f"champion_losses_{CHAMPION_LOSS_WINDOW}d",
        f"Times the champion left in the last {CHAMPION_LOSS_WINDOW} days",
        "departures",
        "relationship",
        label=f"champion departures ({CHAMPION_LOSS_WINDOW} days)",
        template=f"The champion left {{value:count:time}} in the last {CHAMPION_LOSS_WINDOW} days"
        "[, most recently {days_since_champion_left:days} ago]",
        when_zero=f"No champion departure in the last {CHAMPION_LOSS_WINDOW} days",
    ),
    Feature(
        f"champion_lost_unreplaced_{CHAMPION_LOSS_WINDOW}d",
        f"1 if the champion left in the last {CHAMPION_LOSS_WINDOW} days and no new champion has been added since",
        "flag",
        "relationship",
        label="champion lost and not replaced",
        template="The champion left[ {days_since_champion_left:days} ago] and no successor has been named",
        when_zero=f"No unreplaced champion departure in the last {CHAMPION_LOSS_WINDOW} days",
    ),
    Feature(
        "days_since_champion_left",
        "Days since the champion last left (missing if never)",
        "days",
        "relationship",
        label="days since the champion left",
        template="The champion left {value:days} ago",
        missing="No champion departure on record",
    ),
    Feature(
        "has_champion",
        "1 if the latest champion change was a new champion, 0 if the champion left (missing if unknown)",
        "flag",
        "relationship",
        label="champion in place",
        template="A new champion is in place[ (the previous one left {days_since_champion_left:days} ago)]",
        when_zero="No champion: the last one left[ {days_since_champion_left:days} ago] and no successor is recorded",
        missing="No champion on record",
    ),
    Feature(
        "exec_sponsor_present",
        "1 if the latest executive sponsor change was an addition, 0 if the sponsor left (missing if unknown)",
        "flag",
        "relationship",
        label="executive sponsor in place",
        template="An executive sponsor is in place",
        when_zero="The executive sponsor left and no successor is recorded",
        missing="No executive sponsor on record",
    ),
    Feature(
        "days_since_qbr",
        "Days since the last quarterly business review (missing if never)",
        "days",
        "relationship",
        label="days since the last business review",
        template="Last business review {value:days} ago" + TYPICAL.replace("{typical}", "{typical:days}"),
        missing="No business review on record",
    ),
    Feature(
        f"qbrs_{QBR_WINDOW}d",
        f"Business reviews held in the last {QBR_WINDOW} days",
        "reviews",
        "relationship",
        label="business reviews in the last year",
        template=f"{{value:count:business review}} in the last {QBR_WINDOW} days",
        when_zero=f"No business review in the last {QBR_WINDOW} days",
    ),
]

_CATEGORY = "[ ({category_churn:pct} of such renewals churned in training, against {overall_churn:pct} overall)]"


def _categorical(name: str, description: str, label: str, template: str) -> Feature:
    return Feature(
        name,
        description,
        "category",
        "commercial",
        kind="categorical",
        label=label,
        template=template + _CATEGORY,
        missing=f"No {label} on record",
    )


def _change(name: str, description: str, label: str, template: str, missing: str, unit: str = "fraction") -> Feature:
    return Feature(name, description, unit, "commercial", label=label, template=template, missing=missing)


COMMERCIAL = [
    Feature(
        "arr",
        "Annual recurring revenue of the current contract",
        "currency",
        "commercial",
        label="ARR",
        template="ARR is {value:money}" + TYPICAL.replace("{typical}", "{typical:money}"),
    ),
    Feature(
        "seats",
        "Licensed seats on the current contract",
        "seats",
        "commercial",
        label="licensed seats",
        template="{value:count:licensed seat}" + TYPICAL.replace("{typical}", "{typical:int}"),
    ),
    Feature(
        "arr_per_seat",
        "Annual price per licensed seat",
        "currency per seat",
        "commercial",
        label="price per seat",
        template="Price per seat is {value:money} a year" + TYPICAL.replace("{typical}", "{typical:money}"),
    ),
    _categorical("plan", "Plan of the current contract", "plan", "On the {value} plan"),
    _categorical("segment", "Customer segment", "segment", "Segment: {value}"),
    _categorical("industry", "Industry of the customer", "industry", "Industry: {value}"),
    _categorical("region", "Sales region", "region", "Region: {value}"),
    Feature(
        "tenure_days",
        "Days since the account became a customer",
        "days",
        "commercial",
        label="tenure",
        template="Customer for {value:duration}" + TYPICAL.replace("{typical}", "{typical:duration}"),
    ),
    Feature(
        "contract_term_days",
        "Length of the current contract",
        "days",
        "commercial",
        label="contract term",
        template="Contract term is {value:duration}" + TYPICAL.replace("{typical}", "{typical:duration}"),
    ),
    Feature(
        "discount_pct",
        "Discount on the current contract",
        "fraction",
        "commercial",
        label="discount",
        template="Discount is {value:pct}" + TYPICAL.replace("{typical}", "{typical:pct}"),
        when_zero="No discount on the current contract" + TYPICAL.replace("{typical}", "{typical:pct}"),
    ),
    Feature(
        "prior_renewals",
        "Contracts the account had before the current one",
        "contracts",
        "commercial",
        label="earlier contracts",
        template="{value:count:earlier contract} before the current one",
        when_zero="First contract: the account has never renewed",
    ),
    _change(
        "arr_change_at_last_renewal",
        "ARR of the current contract vs the previous one (0.2 = up 20%; missing for a first contract)",
        "ARR change at the last renewal",
        "ARR {value:changed} at the last renewal[ (now {arr:money})][; renewing accounts: {typical:change}]",
        "First contract: no earlier ARR to compare",
    ),
    _change(
        "price_per_seat_change_at_last_renewal",
        "Price per seat of the current contract vs the previous one (0.2 = up 20%)",
        "price per seat change at the last renewal",
        "Price per seat {value:changed} at the last renewal[ (now {arr_per_seat:money})]",
        "First contract: no earlier price to compare",
    ),
    _change(
        "discount_change_at_last_renewal",
        "Discount of the current contract minus the previous one's (-0.2 = 20 points less discount)",
        "discount change at the last renewal",
        "Discount {value:points} at the last renewal[ (now {discount_pct:pct})]",
        "First contract: no earlier discount to compare",
    ),
    _change(
        "price_per_seat_change_12m",
        "Price per seat now vs the contract in force a year earlier (0.25 = up 25%; missing without one)",
        "price per seat change over a year",
        "Price per seat {value:changed} compared with a year ago[ (now {arr_per_seat:money})]",
        "No contract a year ago to compare prices with",
    ),
    _change(
        "discount_change_12m",
        "Discount now minus the discount a year earlier (-0.2 = 20 points less discount)",
        "discount change over a year",
        "Discount {value:points} compared with a year ago[ (now {discount_pct:pct})]",
        "No contract a year ago to compare discounts with",
    ),
    _change(
        "price_per_seat_max_step_12m",
        "Largest change in price per seat (ARR / seats, so discount changes count) at any renewal in the last "
        "365 days, each contract against the one before it (0.25 = up 25%)",
        "largest price per seat rise in a year",
        "Price per seat {value:changed} at a renewal in the last year[ (now {arr_per_seat:money})]",
        "No renewal in the last year to compare prices at",
    ),
    Feature(
        "auto_renew",
        "1 if the contract renews automatically",
        "flag",
        "commercial",
        label="auto-renewal",
        template="The contract renews automatically",
        when_zero="The contract does not renew automatically: someone has to sign",
        missing="Auto-renewal unknown",
    ),
    Feature(
        "days_to_renewal",
        "Days from the snapshot date to the renewal date",
        "days",
        "commercial",
        label="days to renewal",
        template="Renewal in {value:days}[ (on {renewal_date:date})]",
    ),
]

BILLING = [
    Feature(
        "overdue_invoices_open",
        "Invoices past due and still unpaid on the snapshot date",
        "invoices",
        "billing",
        label="overdue invoices",
        template="{value:count:invoice} past due and unpaid",
        when_zero="No invoice past due",
    ),
    *(
        Feature(
            f"failed_or_late_invoices_{w}d",
            f"Invoices due in the last {w} days that failed, were paid late, or are still unpaid",
            "invoices",
            "billing",
            label=f"failed or late invoices ({w} days)",
            template=f"{{value:count:problem invoice}} (failed, late or unpaid) among those due in the last {w} days"
            + TYPICAL.replace("{typical}", "{typical:int}"),
            when_zero=f"Every invoice due in the last {w} days was paid on time",
            missing=f"No invoices due in the last {w} days",
        )
        for w in (BILLING_WINDOW, LONG_BILLING_WINDOW)
    ),
    Feature(
        f"days_late_mean_{BILLING_WINDOW}d",
        f"Average days late of invoices due in the last {BILLING_WINDOW} days (unpaid ones count until the snapshot)",
        "days",
        "billing",
        label="days invoices are paid late",
        template=f"Invoices due in the last {BILLING_WINDOW} days were paid {{value:days}} late on average"
        + TYPICAL.replace("{typical}", "{typical:days}"),
        when_zero=f"Invoices due in the last {BILLING_WINDOW} days were paid on time",
        missing=f"No invoices due in the last {BILLING_WINDOW} days",
    ),
    Feature(
        f"days_late_max_{PAYMENT_PROBLEM_WINDOW}d",
        f"Most days late of any invoice due in the last {PAYMENT_PROBLEM_WINDOW} days "
        "(unpaid ones count until the snapshot)",
        "days",
        "billing",
        label="worst invoice delay",
        template=f"The latest-paid invoice due in the last {PAYMENT_PROBLEM_WINDOW} days was {{value:days}} late"
        + TYPICAL.replace("{typical}", "{typical:days}"),
        when_zero=f"Every invoice due in the last {PAYMENT_PROBLEM_WINDOW} days was paid on time",
        missing=f"No invoices due in the last {PAYMENT_PROBLEM_WINDOW} days",
    ),
]


# The current contract term so far (features/term.py): since the term began, up to as_of.
TERM = [
    Feature(
        "active_users_term_vs_previous_term",
        f"Average daily {_metric_words(ACTIVE_USERS_METRIC)} in the current contract term so far vs the year before "
        "it began (-0.3 = down 30%)",
        "fraction",
        "usage",
        label="active users this term against the year before",
        template="Active users this contract term {value:changed} compared with the year before it began"
        + TYPICAL.replace("{typical}", "{typical:change}"),
        missing="Too little active-user history to compare this term with the year before",
    ),
    Feature(
        "active_users_30d_vs_term_opening",
        f"Average daily {_metric_words(ACTIVE_USERS_METRIC)} over the last 30 days vs the first 90 days of the "
        "current contract term (-0.3 = down 30%)",
        "fraction",
        "usage",
        label="active users against the term's first months",
        template="Active users over the last 30 days {value:changed} compared with the first months of this term"
        f"[, to {{{_ACTIVE_USERS_30D}:num}} a day]",
        missing="Too little active-user history in this term to compare with its first months",
    ),
    Feature(
        "seat_utilization_change_term",
        "Seat utilization over the last 30 days minus that of the first 30 days of the current contract term "
        "(-0.2 = 20 points lower)",
        "fraction",
        "adoption",
        label="seat utilization change this term",
        template="Seat utilization {value:points} since the start of this contract term"
        "[, to {seat_utilization_30d:pct}][; renewing accounts: {typical:points}]",
        missing="Seat utilization at the start of this term unknown",
    ),
    Feature(
        "failed_or_late_invoices_term",
        "Invoices due in the current contract term so far that failed, were paid late, or are still unpaid",
        "invoices",
        "billing",
        label="failed or late invoices this term",
        template="{value:count:problem invoice} (failed, late or unpaid) this contract term"
        + TYPICAL.replace("{typical}", "{typical:int}"),
        when_zero="Every invoice due this contract term was paid on time",
        missing="No contract term to count over (a plan shorter than 90 days)",
    ),
    Feature(
        "tickets_urgent_high_term",
        "Urgent or high-priority tickets opened in the current contract term so far",
        "tickets",
        "support",
        label="urgent or high tickets this term",
        template="{value:count:urgent or high-priority ticket} opened this contract term" + TYPICAL,
        when_zero="No urgent or high-priority tickets this contract term",
        missing="No contract term to count over (a plan shorter than 90 days)",
    ),
    Feature(
        "escalations_term",
        "Escalated tickets among those closed in the current contract term so far",
        "tickets",
        "support",
        label="escalations this term",
        template="{value:count:escalated ticket} among those closed this contract term" + TYPICAL,
        when_zero="No escalations this contract term",
        missing="No contract term to count over (a plan shorter than 90 days)",
    ),
    Feature(
        "csat_mean_term",
        "Average CSAT of tickets closed in the current contract term so far",
        "score 1-5",
        "support",
        label="CSAT this term",
        template="Average CSAT this contract term is {value:num} out of 5"
        + TYPICAL.replace("{typical}", "{typical:num}"),
        missing="No CSAT rating this contract term",
    ),
    Feature(
        "nps_mean_term",
        "Average score of the NPS answers given in the current contract term so far",
        "score 0-10",
        "relationship",
        label="NPS this term",
        template="NPS answers this contract term averaged {value:num} out of 10"
        + TYPICAL.replace("{typical}", "{typical:num}"),
        missing="No NPS answer this contract term",
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

    def get(self, name: str) -> Feature | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @functools.cached_property
    def _by_name(self) -> dict[str, Feature]:
        """Built once per catalog: explanations look features up tens of thousands of times."""
        return {f.name: f for f in self.features}

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    def in_group(self, group: DriverGroup) -> list[str]:
        return [f.name for f in self.features if f.group == group]

    @property
    def context(self) -> list[str]:
        return [f.name for f in self.features if f.is_context]

    @property
    def actionable(self) -> list[str]:
        return [f.name for f in self.features if not f.is_context]

    def to_records(self) -> list[dict[str, str]]:
        return [asdict(f) for f in self.features]

    @classmethod
    def from_records(cls, records: Iterable[dict[str, str]]) -> Catalog:
        return cls(tuple(Feature(**r) for r in records))

    @property
    def version(self) -> str:
        """A short content hash: models record it so a mismatched catalog is caught at load time."""
        return records_version(self.to_records())


def records_version(records: list[dict[str, str]]) -> str:
    """The content hash of catalog records exactly as stored, so a bundle saved before the catalog
    gained a field still verifies (the new field takes its default when loaded)."""
    blob = json.dumps(records, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


# Context: who the account is and where its contract stands. The peer baseline, never a reason.
CONTEXT_FEATURES = frozenset(
    {
        "arr",
        "seats",
        "plan",
        "segment",
        "industry",
        "region",
        "tenure_days",
        "contract_term_days",
        "prior_renewals",
        "auto_renew",
        "days_to_renewal",
    }
)

# One fact, several windows or phrasings: (concept, feature-name pattern). Usage concepts are per metric.
_CONCEPT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("usage_{metric}_level", r"usage_(?P<metric>.+)_mean_\d+d"),
    ("usage_{metric}_trend", r"usage_(?P<metric>.+)_trend_\d+d"),
    (
        "usage_active_users_trend",
        r"active_users_vs_peak_7m|active_users_term_vs_previous_term|active_users_30d_vs_term_opening",
    ),
    ("modules", r"modules_used_(30d|change_30d)"),
    ("urgent_high_tickets", r"tickets_(urgent|high)_\d+d|tickets_urgent_high_(\d+d|term)"),
    ("slow_urgent_high_tickets", r"slow_urgent_high_tickets_\d+d|urgent_high_open_over_\d+d"),
    ("open_tickets", r"tickets_open|oldest_open_ticket_age_days"),
    ("nps", r"nps_last_score|nps_change|nps_detractor_responses_\d+d|nps_mean_term"),
    ("csat", r"csat_mean_(\d+d|term)"),
    ("escalations", r"escalations_(\d+d|term)"),
    ("champion", r"champion_losses_\d+d|champion_lost_unreplaced_\d+d|days_since_champion_left|has_champion"),
    ("price", r"arr_per_seat|price_per_seat_.+|arr_change_at_last_renewal"),
    ("discount", r"discount_pct|discount_change_.+"),
    ("payments", r"overdue_invoices_open|failed_or_late_invoices_(\d+d|term)|days_late_(mean|max)_\d+d"),
)
# Days since an event: they rise with the calendar alone, so a rise is news only when an event reset them.
_CLOCK_PATTERN = r"days_since_.+|usage_.+_days_since_last|oldest_open_ticket_age_days|tenure_days|days_to_renewal"


# Which side is worrying, where it is clear from what the feature measures.
_LOWER_IS_RISKIER = (
    r"usage_.+_(mean_\d+d|trend_\d+d|active_day_share_30d)|active_users_vs_peak_7m|seat_utilization_30d"
    r"|modules_used_30d|modules_used_change_30d|csat_mean_\d+d|nps_last_score|nps_change|has_champion"
    r"|exec_sponsor_present|qbrs_\d+d|discount_change_.+"
    r"|active_users_term_vs_previous_term|active_users_30d_vs_term_opening|seat_utilization_change_term"
    r"|csat_mean_term|nps_mean_term"
)
_HIGHER_IS_RISKIER = (
    r"usage_.+_days_since_last|tickets_(urgent|high)_\d+d|tickets_urgent_high_\d+d|slow_urgent_high_tickets_\d+d"
    r"|urgent_high_open_over_\d+d|tickets_open|oldest_open_ticket_age_days|median_resolution_days_\d+d"
    r"|escalations_\d+d|nps_detractor_responses_\d+d|champion_losses_\d+d|champion_lost_unreplaced_\d+d"
    r"|days_since_qbr|price_per_seat_change_.+|price_per_seat_max_step_12m|overdue_invoices_open"
    r"|failed_or_late_invoices_\d+d|days_late_(mean|max)_\d+d"
    r"|failed_or_late_invoices_term|tickets_urgent_high_term|escalations_term"
)


# Adverse events and their absence, where "more is never better" is a premise, not something to learn.
_MONOTONE = (
    r"tickets_(urgent|high)_\d+d|tickets_urgent_high_\d+d|slow_urgent_high_tickets_\d+d|urgent_high_open_over_\d+d"
    r"|escalations_\d+d|nps_detractor_responses_\d+d|champion_losses_\d+d|champion_lost_unreplaced_\d+d"
    r"|has_champion|exec_sponsor_present|overdue_invoices_open|failed_or_late_invoices_\d+d|days_late_(mean|max)_\d+d"
    r"|tickets_urgent_high_term|escalations_term|failed_or_late_invoices_term"
)


def riskier_side(name: str) -> str:
    """'lower', 'higher' or '' (no clear side: ARR, price level, days since a champion left)."""
    if re.fullmatch(_LOWER_IS_RISKIER, name):
        return "lower"
    if re.fullmatch(_HIGHER_IS_RISKIER, name):
        return "higher"
    return ""


def concept_of(name: str) -> str:
    """The concept a feature name belongs to ("" when it states a fact of its own)."""
    for concept, pattern in _CONCEPT_PATTERNS:
        match = re.fullmatch(pattern, name)
        if match:
            return concept.format(**match.groupdict())
    return ""


def with_roles(feature: Feature) -> Feature:
    """A feature with its role, concept and clock flag, from the declarations above."""
    return replace(
        feature,
        role="context" if feature.name in CONTEXT_FEATURES else "actionable",
        concept=concept_of(feature.name),
        clock=re.fullmatch(_CLOCK_PATTERN, feature.name) is not None,
        riskier=riskier_side(feature.name),  # type: ignore[arg-type]
        monotone=re.fullmatch(_MONOTONE, feature.name) is not None and riskier_side(feature.name) != "",
    )


def build_catalog(usage_metrics: Iterable[str]) -> Catalog:
    """The catalog for data whose usage table has these (non-module) metric names."""
    slugs = sorted({metric_slug(m): m for m in usage_metrics}.items())
    usage = [f for _, metric in slugs for f in usage_features(metric)]
    features = usage + DECLINE + ADOPTION + SUPPORT + RELATIONSHIP + COMMERCIAL + BILLING + TERM
    return Catalog(tuple(with_roles(f) for f in features))


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


# Words that mark a column of someone else's table as context (who the account is, where its contract stands).
_CONTEXT_KEYWORDS = ("tenure", "term", "days_to_renewal", "horizon", "segment", "plan", "industry", "region", "country")


def role_for_column(name: str) -> FeatureRole:
    """Best guess of whether a column is context (never a reason) or something the account can act on."""
    lowered = name.lower()
    return "context" if any(word in lowered for word in _CONTEXT_KEYWORDS) else "actionable"


def catalog_for_columns(kinds: dict[str, str]) -> Catalog:
    """A catalog for a snapshot table made elsewhere: each column described by its own name.

    ``kinds`` maps column name to "numeric" or "categorical". Driver groups and roles are
    guessed from the name (``group_for_column``, ``role_for_column``), so explanations can
    still group reasons and keep context out of them.
    """
    return Catalog(
        tuple(
            Feature(
                name,
                name.replace("_", " "),
                "as given",
                group_for_column(name),
                kind,  # type: ignore[arg-type]
                role=role_for_column(name),
            )
            for name, kind in kinds.items()
        )
    )
