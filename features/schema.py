"""The input data contract, as data.

One declaration per table and column drives three things that must never drift apart:
the loader's validation (``features.load``), the published contract
(``docs/data-contract.md`` is generated from here and a test keeps it in sync),
and the demo data generator, which writes exactly these columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnKind = Literal["id", "text", "date", "day", "number", "integer", "bool", "choice"]

PRIORITIES = ("low", "normal", "high", "urgent")
RELATIONSHIP_EVENTS = (
    "champion_left",
    "champion_added",
    "exec_sponsor_left",
    "exec_sponsor_added",
    "qbr_held",
)
INVOICE_STATUSES = ("paid", "failed", "overdue")
ACTIVE_USERS_METRIC = "active_users"
MODULE_METRIC_PREFIX = "feature."


@dataclass(frozen=True)
class Column:
    """One column of an input table and the rules a value must meet."""

    name: str
    kind: ColumnKind
    meaning: str
    example: str
    required: bool = True
    nullable: bool = False
    unique: bool = False
    minimum: float | None = None
    maximum: float | None = None
    below: float | None = None  # exclusive upper bound, e.g. discount_pct < 1
    choices: tuple[str, ...] = ()
    references_accounts: bool = False
    repeated: bool = False  # values repeat over many rows: held as a categorical, so checks run per distinct value
    must_include: tuple[str, ...] = ()  # values at least one row must have, e.g. the metric seat utilization needs
    must_include_why: str = ""  # what is computed from them, for the docs and the error message

    def rule(self) -> str:
        """The constraint in words, as the docs and error messages state it."""
        parts: list[str] = []
        if self.unique:
            parts.append("unique")
        if self.choices:
            parts.append("one of " + " / ".join(self.choices))
        if self.minimum is not None and self.maximum is not None:
            parts.append(f"{self.minimum:g} to {self.maximum:g}")
        elif self.minimum is not None:
            parts.append(f">= {self.minimum:g}")
        if self.below is not None:
            parts.append(f"< {self.below:g}")
        if self.references_accounts:
            parts.append("must exist in accounts")
        if self.must_include:
            parts.append("must include " + " and ".join(f"`{v}`" for v in self.must_include))
        parts.append("may be empty" if self.nullable else "never empty")
        return "; ".join(parts)


@dataclass(frozen=True)
class Table:
    """One input table: a file ``<name>.csv`` or ``<name>.parquet`` in the data directory."""

    name: str
    required: bool
    meaning: str
    columns: tuple[Column, ...]
    unique_together: tuple[str, ...] = ()
    checks: tuple[str, ...] = field(default=())  # cross-column rules, in words
    # The column that dates each row (coverage, volume over time, an account's first activity).
    dated_by: str = ""
    # The columns that date something that happened, as opposed to a plan for the future (a
    # due date, a contract's end): how far the export reaches is read from these alone.
    events_dated_by: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def keyless(self) -> bool:
        """No id or key tells its rows apart, so an exact copy of a row is checked for on its own."""
        return not self.unique_together and not any(c.unique for c in self.columns)


def _account_ref(meaning: str = "The account this row belongs to.", repeated: bool = False) -> Column:
    return Column("account_id", "id", meaning, "ACC-00042", references_accounts=True, repeated=repeated)


ACCOUNTS = Table(
    "accounts",
    required=True,
    meaning="One row per customer account.",
    columns=(
        Column("account_id", "id", "Stable account identifier, as in the CRM.", "ACC-00042", unique=True),
        Column(
            "name",
            "text",
            "Account name, shown to customer-success managers.",
            "Northwind Labs",
            required=False,
            nullable=True,
        ),
        Column("segment", "text", "Customer segment, e.g. smb / mid_market / enterprise.", "mid_market"),
        Column("industry", "text", "Industry of the customer.", "software", required=False, nullable=True),
        Column("region", "text", "Sales region.", "emea", required=False, nullable=True),
        Column("created_at", "date", "When the account became a customer.", "2022-03-14"),
    ),
    dated_by="created_at",
    events_dated_by=(),
)

CONTRACTS = Table(
    "contracts",
    required=True,
    meaning=(
        "Every subscription contract an account has signed; renewal outcomes are derived "
        "from this history. A contract's terms are taken as known from its start date."
    ),
    columns=(
        Column("contract_id", "id", "Contract identifier.", "CTR-000913", unique=True),
        _account_ref(),
        Column("start_date", "date", "First day of the contract term.", "2024-04-01"),
        Column("end_date", "date", "Renewal date: the day after the last day of the term.", "2025-04-01"),
        Column(
            "arr", "number", "Annual recurring revenue of the contract, in the book's currency.", "48000", minimum=0
        ),
        Column("seats", "number", "Licensed seats.", "60", required=False, nullable=True, minimum=0),
        Column("plan", "text", "Plan or package name.", "pro", required=False, nullable=True),
        Column(
            "discount_pct",
            "number",
            "Discount off list price, as a fraction.",
            "0.15",
            required=False,
            nullable=True,
            minimum=0,
            below=1,
        ),
        Column(
            "auto_renew", "bool", "Whether the contract renews automatically.", "false", required=False, nullable=True
        ),
    ),
    checks=("end_date is after start_date",),
    dated_by="start_date",
    events_dated_by=(),
)

USAGE = Table(
    "usage",
    required=True,
    meaning=(
        "Daily product usage per account in long form. A missing row means zero for that day. "
        f"`{ACTIVE_USERS_METRIC}` drives seat utilization and the active-user decline features, so the "
        "export must have it, spelled exactly so: a renamed or removed metric (`ActiveUsers`) stops the "
        "load, naming the metrics found, instead of leaving those features empty for every account. "
        f"Metrics named `{MODULE_METRIC_PREFIX}<module>` count as product modules for adoption breadth; "
        "any other metric name gets the usage features."
    ),
    columns=(
        _account_ref(repeated=True),
        Column("date", "day", "The day the usage happened (a time of day, if any, is dropped).", "2024-06-03"),
        Column(
            "metric",
            "text",
            "Metric name.",
            "active_users",
            repeated=True,
            must_include=(ACTIVE_USERS_METRIC,),
            must_include_why="seat_utilization_30d and active_users_vs_peak_7m are computed from it",
        ),
        Column("value", "number", "The day's value of the metric.", "37", minimum=0),
    ),
    unique_together=("account_id", "date", "metric"),
    dated_by="date",
    events_dated_by=("date",),
)

SUPPORT_TICKETS = Table(
    "support_tickets",
    required=False,
    meaning="Support tickets. A ticket's CSAT and escalation are read only once it has closed.",
    columns=(
        Column("ticket_id", "id", "Ticket identifier.", "T-77120", unique=True),
        _account_ref(),
        Column("opened_at", "date", "When the ticket was opened (date or timestamp).", "2024-06-03T09:12:00"),
        Column("closed_at", "date", "When it was closed; empty while open.", "2024-06-05T16:40:00", nullable=True),
        Column("priority", "choice", "Ticket priority.", "high", choices=PRIORITIES),
        Column(
            "csat",
            "number",
            "Customer satisfaction rating after closing.",
            "4",
            required=False,
            nullable=True,
            minimum=1,
            maximum=5,
        ),
        Column("escalated", "bool", "Whether the ticket was escalated.", "false", required=False, nullable=True),
    ),
    checks=("closed_at is not before opened_at",),
    dated_by="opened_at",
    events_dated_by=("opened_at", "closed_at"),
)

NPS = Table(
    "nps",
    required=False,
    meaning="Net Promoter Score survey responses.",
    columns=(
        _account_ref(),
        Column("responded_at", "date", "When the response was given.", "2024-05-20"),
        Column("score", "number", "Likelihood to recommend.", "8", minimum=0, maximum=10),
    ),
    dated_by="responded_at",
    events_dated_by=("responded_at",),
)

RELATIONSHIP_EVENTS_TABLE = Table(
    "relationship_events",
    required=False,
    meaning="Changes in who the account's people are, and business reviews held.",
    columns=(
        _account_ref(),
        Column("date", "date", "When it happened.", "2024-08-12"),
        Column("event", "choice", "What happened.", "champion_left", choices=RELATIONSHIP_EVENTS),
    ),
    dated_by="date",
    events_dated_by=("date",),
)

INVOICES = Table(
    "invoices",
    required=False,
    meaning=(
        "Invoices and their payment. Status is read point-in-time: an invoice counts as overdue "
        "at a date when it was due before it and not yet paid, whatever its status is today."
    ),
    columns=(
        _account_ref(),
        Column("invoice_id", "id", "Invoice identifier.", "INV-55012", unique=True),
        Column("due_date", "date", "When payment was due.", "2024-07-01"),
        Column("paid_at", "date", "When it was paid; empty if unpaid.", "2024-07-09", nullable=True),
        Column("amount", "number", "Invoice amount.", "4000", required=False, nullable=True, minimum=0),
        Column("status", "choice", "Payment status at export time.", "paid", choices=INVOICE_STATUSES),
    ),
    dated_by="due_date",
    events_dated_by=("paid_at",),
)

TABLES: tuple[Table, ...] = (
    ACCOUNTS,
    CONTRACTS,
    USAGE,
    SUPPORT_TICKETS,
    NPS,
    RELATIONSHIP_EVENTS_TABLE,
    INVOICES,
)
TABLES_BY_NAME = {t.name: t for t in TABLES}


def contract_markdown() -> str:
    """Render the data contract as Markdown; ``docs/data-contract.md`` is this text."""
    lines = [
        "# Input data contract",
        "",
        "<!-- Generated from features/schema.py by `churn data-contract`; do not edit by hand. -->",
        "",
        "Point the tool at a directory holding one file per table, named after the table: "
        "`accounts.csv` or `accounts.parquet`, and so on. CSV files are UTF-8 and comma-separated "
        "with a header row. Dates are ISO 8601 (`2024-06-03` or `2024-06-03T09:12:00`). A timestamp "
        "with a UTC offset is read as the date and time it states, in every date column of every table: "
        "`2025-04-01T00:00:00+02:00` is 1 April at 00:00, not 31 March; a timezone-aware Parquet "
        "column likewise keeps its own zone's wall-clock time. Booleans are `true/false`, `yes/no`, "
        "`1/0` or `t/f` in any case. An empty cell is a missing value. Columns not listed here are "
        "ignored, never an error.",
        "",
        "No table may hold the same row twice: an export that ran twice would otherwise double what "
        "is counted (two NPS detractors for one response). Duplicates stop the load, naming the rows, "
        "rather than being dropped, because only the exporter knows whether two identical rows are one "
        "record repeated or two records: a table with an id rejects a repeated id, `usage` a repeated "
        "account, day and metric, and `nps` and `relationship_events` a row identical in every column "
        "to another. Two genuine responses alike in every listed column (two people at one account "
        "giving the same score on the same day) load once the export has a column that tells them "
        "apart, such as `response_id`.",
        "",
        "Every file is validated on load. A file that breaks a rule stops the run with one paragraph "
        "naming the file, the column, up to five offending rows (CSV line numbers, counting the header "
        "as line 1; Parquet row numbers from 1) and what was expected. Nothing is written when a run stops.",
        "",
        "Optional tables may be absent: their features are then missing (not zero) and the run says so once.",
        "",
    ]
    for table in TABLES:
        status = "required" if table.required else "optional"
        lines += [f"## `{table.name}` ({status})", "", table.meaning, ""]
        lines += ["| column | type | required | rule | meaning |", "| --- | --- | --- | --- | --- |"]
        for col in table.columns:
            lines.append(
                f"| `{col.name}` | {col.kind} | {'yes' if col.required else 'no'} | {col.rule()} | {col.meaning} |"
            )
        rules = list(table.checks)
        if table.unique_together:
            rules.append("one row per " + ", ".join(f"`{c}`" for c in table.unique_together))
        if table.keyless:
            rules.append("no row identical to another in every column")
        rules += [
            f"at least one row has `{c.name}` "
            + " and ".join(f"`{v}`" for v in c.must_include)
            + f": {c.must_include_why}"
            for c in table.columns
            if c.must_include
        ]
        if rules:
            lines += ["", "Also: " + "; ".join(rules) + "."]
        header = ",".join(c.name for c in table.columns)
        example = ",".join(c.example for c in table.columns)
        lines += ["", "Example:", "", "```csv", header, example, "```", ""]
    return "\n".join(lines)
