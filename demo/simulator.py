"""A synthetic B2B SaaS book of business whose churn process is known exactly.

Why this exists: a churn model can only be checked against the truth if the truth is known.
``generate`` simulates customer accounts, their contract chains and everything the input
data contract (``features/schema.py``) asks for (usage, support tickets, NPS, relationship
events, invoices) from a hidden, documented process, and returns the ground truth next to
the tables: for every renewal in the window, which causes were active, the true renewal
probability, whether it renewed and what drove a churn. ``docs/demo-data.md`` describes
the process so a data scientist can compare what a model finds with what is really there.

How the world is built (the order matters, because each step only looks backwards):

1. Accounts and their *traits* (segment, seats, plan, utilization, module adoption, how
   often they open tickets, whether they answer NPS, how they pay).
2. *Episodes* on each account's timeline, as Poisson onsets per account-year: usage
   declines, support-pain bursts, champion departures and NPS detractor responses.
3. Contract chains, one generation at a time (a Python loop over generations, vectorized
   across accounts). Each contract's renewal is decided at its end date E from the
   account's state at the snapshot S = max(start + 1 day, E - 90 days): every cause that
   is visible at S fires independently with its probability and the contract churns if
   any fires (competing risks, so the driver of each churn is unambiguous). Invoices and
   failed-payment episodes are issued per contract inside the same loop, because they
   depend on the contract dates and feed later decisions.
4. The observable tables, rendered from the latent state: usage is a binomial/Poisson
   draw around each account's latent need, tickets/NPS/events are drawn from traits and
   episodes, and everything is cut to the periods in which the account is a customer and
   to the data window [end_date - years, end_date].

Everything is drawn from one ``numpy.random.default_rng(seed)`` in a fixed order and no
wall-clock time is read, so the same arguments give the same bytes on disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

from features import schema

# --------------------------------------------------------------------------- world constants

SEGMENTS = ("smb", "mid_market", "enterprise")
SEGMENT_MIX = (0.55, 0.32, 0.13)
REGIONS = ("na", "emea", "apac", "latam")
REGION_MIX = (0.45, 0.30, 0.15, 0.10)
# Public holidays depress usage; each region is represented by its largest market.
REGION_HOLIDAYS = {"na": ("US", None), "emea": ("GB", "ENG"), "apac": ("AU", None), "latam": ("BR", None)}
INDUSTRIES = (
    "software",
    "healthcare",
    "finance",
    "retail",
    "manufacturing",
    "education",
    "media",
    "logistics",
)
INDUSTRY_MIX = (0.26, 0.13, 0.12, 0.12, 0.11, 0.09, 0.09, 0.08)
PLANS = ("starter", "pro", "enterprise")
LIST_PRICE = np.array([360.0, 720.0, 1200.0])  # per seat per year
PLAN_MIX = np.array([[0.60, 0.37, 0.03], [0.15, 0.65, 0.20], [0.00, 0.35, 0.65]])
MONTHLY_PREMIUM = 1.2  # month-to-month plans cost more per seat than annual ones
# Initial seats: lognormal median, sigma, floor, cap per segment.
SEAT_MEDIAN = np.array([12.0, 70.0, 450.0])
SEAT_SIGMA = np.array([0.55, 0.6, 0.7])
SEAT_FLOOR = np.array([2, 20, 150])
SEAT_CAP = np.array([60, 400, 5000])

MODULES = ("reports", "dashboards", "integrations", "automation", "api", "mobile", "exports", "collaboration")
MODULE_POPULARITY = np.array([0.95, 0.9, 0.5, 0.45, 0.3, 0.4, 0.6, 0.55])
MODULE_INTENSITY = np.array([0.6, 0.9, 0.25, 0.35, 2.5, 0.3, 0.25, 0.7])  # daily events per active user
METRICS = (schema.ACTIVE_USERS_METRIC, "logins", *(schema.MODULE_METRIC_PREFIX + m for m in MODULES))

# Syllables for company names ("Norwick Labs", "Velanstone Health").
NAME_HEADS = (
    *(
        "Nor",
        "Vel",
        "Quin",
        "Ar",
        "Bel",
        "Cor",
        "Dal",
        "Fen",
        "Gal",
        "Hel",
        "Ith",
        "Jun",
        "Kel",
        "Lum",
        "Mer",
    ),
    *("Nov", "Ox", "Pel", "Ryn", "Sol", "Tal", "Ul", "Ver", "Wex", "Zen", "Bram", "Cal", "Dun", "Eld", "Fal"),
)
NAME_TAILS = (
    *("ra", "lo", "vex", "nis", "tra", "dor", "lia", "mont", "vale", "wick", "ton", "dex"),
    *("ly", "ro", "sphere", "gate", "point", "stone", "field", "wave", "bridge", "core", "path", "crest"),
)

P_EXISTING = 0.55  # share of accounts already customers when the window opens
PRE_HISTORY_DAYS = 4 * 365  # how far back existing accounts can have been created
WEEKEND_FACTOR = 0.12
HOLIDAY_FACTOR = 0.2

# Causes of churn. Order matters: on ties the earlier cause is reported as the driver.
CAUSES = (
    "usage_decline",
    "low_utilization",
    "narrow_adoption",
    "support_pain",
    "detractor",
    "champion_loss",
    "price_increase",
    "failed_payments",
    "unobservable",
)
CAUSE_GROUP = (
    "usage",
    "adoption",
    "adoption",
    "support",
    "relationship",
    "relationship",
    "commercial",
    "billing",
    "unobservable",
)
DRIVERS = ("usage", "adoption", "support", "relationship", "commercial", "billing", "unobservable", "none")
# Base fire probabilities per renewal of a one-year term (see _decide for the modifiers).
Q_USAGE_PER_DEPTH = 0.55
Q_LOW_UTIL_MAX = 0.5
LOW_UTIL_THRESHOLD = 0.35
Q_NARROW = 0.3
Q_SUPPORT = 0.45
Q_DETRACTOR = 0.35
Q_CHAMPION_LOST = 0.5
Q_CHAMPION_REPLACED = 0.15
Q_PRICE = 0.4
Q_BILLING = 0.45
# Bigger customers are stickier: every observable cause's q is multiplied by this.
STICKINESS = np.array([1.0, 0.75, 0.5])
UNOBSERVABLE_PER_YEAR = np.array([0.05, 0.03, 0.02])
# Episode rates per account-year.
RATE_DECLINE = 0.12
RATE_SUPPORT_PAIN = 0.10
RATE_CHAMPION_LOSS = 0.10
RATE_FAILED_PAYMENTS = 0.06
P_DETRACTOR_PER_WAVE = 0.05  # two waves a year: ~0.10 per responder-year
P_PRICE_INCREASE = 0.12  # per annual renewal; prorated for monthly terms
P_WIN_BACK = 0.05

_NEVER = 10**7  # a day number later than any window: "has not happened"
_KEY = 1 << 23  # account * _KEY + day gives one sortable key per (account, day)
_USAGE_CHUNK = 500  # accounts per block of the dense usage computation (bounds memory)


@dataclass(frozen=True)
class DemoData:
    """The generated tables (keyed by ``schema.TABLES`` names) and the hidden ground truth.

    ``truth`` has one row per contract whose end date falls on or before the window end:
    contract_id, account_id, renewal_date, true_renewal_probability, renewed,
    primary_driver, causes (``;``-separated active causes, empty when none).
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame


# Changes monitoring must catch, planted from a date on (``--plant KIND --plant-after DATE``). usage-halved
# and new-segment leave everything before that date exactly as the unplanted world of the same seed;
# cause-shift changes renewal decisions, so later draws differ too (same process before the date).
PLANTS = ("usage-halved", "cause-shift", "new-segment")
PLANTED_METRIC = "logins"  # usage-halved: a tracking change reports half of this metric's events
NEW_SEGMENT = "public_sector"  # new-segment: accounts signed from the date on are a kind never seen before
# cause-shift: a product change makes support problems and narrow adoption matter far more at renewal
CAUSE_SHIFT = {"support_pain": 3.0, "narrow_adoption": 3.0, "low_utilization": 3.0}


def generate(
    n_accounts: int = 3000,
    years: int = 3,
    seed: int = 7,
    end_date: str = "2026-10-31",
    plant: str | None = None,
    plant_after: str | None = None,
) -> DemoData:
    """Simulate ``n_accounts`` accounts over the window [end_date - years, end_date].

    Pure: the result depends only on the arguments, so tests and benchmarks can rely on it.
    ``plant`` (one of ``PLANTS``) changes the world from ``plant_after`` on (default: a year
    before ``end_date``), for monitoring to find.
    """
    if n_accounts < 1:
        raise ValueError("n_accounts must be at least 1")
    if years < 1:
        raise ValueError("years must be at least 1")
    if plant is not None and plant not in PLANTS:
        raise ValueError(f"plant must be one of {', '.join(PLANTS)}, not {plant!r}")
    world = _World(n_accounts, years, seed, end_date)
    if plant is not None:
        after = pd.Timestamp(plant_after) if plant_after else pd.Timestamp(end_date) - pd.DateOffset(years=1)
        world.plant, world.plant_day = plant, _day_number(after.normalize())
    return world.build()


def write(data: DemoData, out_dir: Path, fmt: str = "parquet") -> None:
    """Write every table as ``<table>.<fmt>`` and the truth as ``_truth/renewals.parquet``.

    Everything is written into a temporary sibling directory first and only then moved
    into place, so a crash never leaves a half-written file where a loader would find it.
    A new ``out_dir`` appears in one rename; an existing one has its table files replaced
    one atomic ``os.replace`` at a time (other files in it are left alone), and stale
    copies of the same tables in the other format are removed so the loader never has
    to choose between ``accounts.csv`` and ``accounts.parquet``.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', not {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        for table in schema.TABLES:
            frame = data.tables[table.name]
            target = tmp / f"{table.name}.{fmt}"
            if fmt == "parquet":
                frame.to_parquet(target, index=False, compression="zstd")
            else:
                _csv_ready(frame).to_csv(target, index=False, lineterminator="\n")
        (tmp / "_truth").mkdir()
        data.truth.to_parquet(tmp / "_truth" / "renewals.parquet", index=False, compression="zstd")
        if not out_dir.exists():
            os.replace(tmp, out_dir)
            return
        other = "csv" if fmt == "parquet" else "parquet"
        (out_dir / "_truth").mkdir(exist_ok=True)
        for table in schema.TABLES:
            os.replace(tmp / f"{table.name}.{fmt}", out_dir / f"{table.name}.{fmt}")
            (out_dir / f"{table.name}.{other}").unlink(missing_ok=True)
        os.replace(tmp / "_truth" / "renewals.parquet", out_dir / "_truth" / "renewals.parquet")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Render dates as ISO 8601 (date only when every value is midnight) and booleans as true/false."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            raw = col.to_numpy(dtype="datetime64[s]")
            midnight = bool((raw[~np.isnat(raw)].astype(np.int64) % 86400 == 0).all())
            text = np.datetime_as_string(raw, unit="D" if midnight else "s").astype(object)
            text[np.isnat(raw)] = None
            out[name] = text
        elif pd.api.types.is_bool_dtype(col):
            out[name] = col.map({True: "true", False: "false"})
    return out


# --------------------------------------------------------------------------- small helpers


def _day_number(ts: pd.Timestamp) -> int:
    """Days since 1970-01-01: all internal dates are plain integers, which vectorize well."""
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


def _add_months(day: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Calendar-month arithmetic on day numbers (Jan 31 + 1 month = Feb 28/29), vectorized."""
    d = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    dom = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64).astype("timedelta64[M]")
    first = target.astype("datetime64[D]")
    length = ((target + 1).astype("datetime64[D]") - first).astype(np.int64)
    return (first + np.minimum(dom, length - 1)).astype(np.int64)


def _month_index(day: np.ndarray | int) -> np.ndarray:
    return np.asarray(day, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _ranges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand counts into (group index, position within group) for ragged vectorized work."""
    counts = np.asarray(counts, dtype=np.int64)
    group = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return group, np.arange(counts.sum()) - starts[group]


def _ids(prefix: str, count: int, width: int) -> np.ndarray:
    width = max(width, len(str(count)))
    return np.strings.add(prefix, np.strings.zfill(np.arange(1, count + 1).astype(str), width))


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[s]")
    if missing is not None:
        out[missing] = np.datetime64("NaT")
    return out


def _text(values: np.ndarray) -> pd.arrays.ArrowStringArray:
    return pd.array(values, dtype="str")


class _Episodes:
    """Onsets of one kind on the account timeline, sorted by (account, day), with attributes.

    Lookups answer "which onsets of account a fall in [lo, hi]?" for many accounts at once
    via a binary search on a combined (account, day) key.
    """

    def __init__(self, acc: np.ndarray, day: np.ndarray, **attrs: np.ndarray):
        order = np.lexsort((day, acc))
        self.acc = np.asarray(acc, dtype=np.int64)[order]
        self.day = np.asarray(day, dtype=np.int64)[order]
        self.attrs = {k: np.asarray(v)[order] for k, v in attrs.items()}
        self.key = self.acc * _KEY + self.day

    def __len__(self) -> int:
        return self.acc.size

    def window(self, acc: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        left = np.searchsorted(self.key, acc * _KEY + lo, side="left")
        right = np.searchsorted(self.key, acc * _KEY + hi, side="right")
        return left, np.maximum(right, left)

    def max_over(
        self,
        acc: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        value: Callable[[np.ndarray, np.ndarray], np.ndarray],
        empty: float = 0.0,
    ) -> np.ndarray:
        """Largest ``value(episode_index, query_rows)`` over each query's matching onsets."""
        left, right = self.window(acc, lo, hi)
        count = right - left
        out = np.full(acc.size, empty, dtype=np.float64)
        for m in range(int(count.max(initial=0))):
            rows = np.flatnonzero(count > m)
            out[rows] = np.maximum(out[rows], value(left[rows] + m, rows))
        return out


# --------------------------------------------------------------------------- the world


class _World:
    """All latent state of one simulation; ``build`` runs the steps in dependency order."""

    def __init__(self, n_accounts: int, years: int, seed: int, end_date: str):
        self.rng = np.random.default_rng(seed)
        self.n = n_accounts
        w1 = pd.Timestamp(end_date).normalize()
        w0 = w1 - pd.DateOffset(years=years)
        self.d0, self.d1 = _day_number(w0), _day_number(w1)
        self.nd = self.d1 - self.d0 + 1
        self.plant: str | None = None
        self.plant_day = _NEVER

    def build(self) -> DemoData:
        self._accounts()
        self._episodes()
        self._contracts()
        tables = {
            "accounts": self._accounts_table(),
            "contracts": self._contracts_table(),
            "usage": self._usage_table(),
            "support_tickets": self._tickets_table(),
            "nps": self._nps_table(),
            "relationship_events": self._events_table(),
            "invoices": self._invoices_table(),
        }
        tables = self._planted(tables)
        tables = {t.name: tables[t.name][[c.name for c in t.columns]] for t in schema.TABLES}
        return DemoData(tables=tables, truth=self._truth_table())

    def _planted(self, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """What the data reports after a planted change (``cause-shift`` acts in ``_decide`` instead)."""
        since = pd.Timestamp(0) + pd.Timedelta(days=int(min(self.plant_day, self.d1 + 1)))
        if self.plant == "usage-halved":
            usage = tables["usage"]
            hit = usage["metric"].eq(PLANTED_METRIC).to_numpy() & (usage["date"] >= since).to_numpy()
            value = usage["value"].to_numpy().copy()
            value[hit] = (value[hit] + 1) // 2  # half the events, and a day with one event still shows
            tables["usage"] = usage.assign(value=value)
        elif self.plant == "new-segment":
            accounts = tables["accounts"]
            new = (accounts["created_at"] >= since).to_numpy()
            segment = accounts["segment"].to_numpy(dtype=object).copy()
            segment[new] = NEW_SEGMENT
            tables["accounts"] = accounts.assign(segment=_text(segment))
        return tables

    # ----------------------------------------------------------------------- accounts & traits

    def _accounts(self) -> None:
        """Draw accounts and every per-account trait the later steps read."""
        rng, n, d0 = self.rng, self.n, self.d0
        existing = rng.random(n) < P_EXISTING
        back = 1 + np.floor(rng.beta(1.0, 1.6, n) * (PRE_HISTORY_DAYS - 1))  # skewed to recent
        join = np.floor(rng.random(n) * max(self.nd - 7, 1))
        # Sorted so account ids increase with creation date, as CRM ids do.
        self.created = np.sort(np.where(existing, d0 - back, d0 + join).astype(np.int64))
        self.seg = rng.choice(3, n, p=SEGMENT_MIX)
        self.region = rng.choice(len(REGIONS), n, p=REGION_MIX)
        self.industry = rng.choice(len(INDUSTRIES), n, p=INDUSTRY_MIX)
        self.industry_missing = rng.random(n) < 0.02
        self.name = self._names()

        seg = self.seg
        raw = SEAT_MEDIAN[seg] * np.exp(SEAT_SIGMA[seg] * rng.standard_normal(n))
        self.seats0 = np.clip(np.round(raw), SEAT_FLOOR[seg], SEAT_CAP[seg]).astype(np.int64)
        cum = np.cumsum(PLAN_MIX[seg], axis=1)
        self.plan = (rng.random(n)[:, None] > cum[:, :-1]).sum(axis=1)
        # Discounts: rare and small for smb, larger for bigger deals.
        size = np.log(self.seats0 / SEAT_MEDIAN[seg])
        disc = np.select(
            [seg == 0, seg == 1],
            [np.where(rng.random(n) < 0.55, 0.0, rng.uniform(0.03, 0.15, n)), rng.uniform(0.03, 0.22, n)],
            rng.uniform(0.08, 0.28, n),
        )
        self.disc0 = np.round(np.clip(disc + 0.03 * np.clip(size, -1, 1) * (disc > 0), 0.0, 0.30), 2)

        u = rng.random(n)
        term = np.full(n, 12)
        term[(seg == 0) & (u < 0.35)] = 1
        term[(seg == 1) & (u < 0.10)] = 24
        term[(seg == 2) & (u < 0.24)] = 24
        term[(seg == 2) & (u >= 0.24) & (u < 0.40)] = 36
        self.term = term
        u = rng.random(n)
        bill = np.where(seg == 0, 1, np.where(seg == 1, np.select([u < 0.80, u < 0.95], [3, 12], 1), 12))
        bill = np.where((seg == 2) & (u < 0.45), 3, bill)
        self.bill = np.where(term == 1, 1, bill)
        p_auto = np.select([term == 1, seg == 0, seg == 1], [0.95, 0.7, 0.5], 0.25)
        self.auto_renew = rng.random(n) < p_auto
        self.auto_renew_missing = rng.random(n) < 0.04

        # Utilization: share of seats active on a typical weekday; a ~15% minority is low.
        low = rng.random(n) < 0.15
        self.util = np.where(low, rng.uniform(0.10, 0.33, n), rng.beta(8.0, 4.0, n))
        self.growth = np.clip(rng.normal(0.05, 0.08, n), -0.12, 0.25)  # need grows per year
        self.drift_amp = np.stack([rng.uniform(0.03, 0.08, n), rng.uniform(0.01, 0.04, n)], axis=1)
        self.drift_period = np.stack([rng.uniform(150, 420, n), rng.uniform(30, 90, n)], axis=1)
        self.drift_phase = rng.uniform(0, 2 * np.pi, (n, 2))
        self.login_rate = 1.8 * np.exp(0.2 * rng.standard_normal(n))

        # Module adoption: a popularity-weighted subset, adopted over the first months.
        narrow = rng.random(n) < 0.15
        n_mod = np.where(narrow, rng.integers(1, 3, n), rng.choice([3, 4, 5, 6, 7], n, p=[0.15, 0.25, 0.27, 0.2, 0.13]))
        keys = np.log(MODULE_POPULARITY)[None, :] + rng.gumbel(size=(n, len(MODULES)))
        rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
        offset = np.select(
            [rank == 0, rank == 1],
            [rng.integers(0, 4, (n, len(MODULES))), rng.integers(2, 31, (n, len(MODULES)))],
            np.minimum(14 + rng.exponential(45.0, (n, len(MODULES))) * (rank - 1), 400).astype(np.int64),
        )
        self.adopt_day = np.where(rank < n_mod[:, None], self.created[:, None] + offset, _NEVER).astype(np.int64)
        self.intensity = MODULE_INTENSITY[None, :] * np.exp(0.5 * rng.standard_normal((n, len(MODULES))))

        self.opens_tickets = rng.random(n) < 0.75
        self.ticket_rate = np.sqrt(self.seats0) * rng.gamma(2.0, 0.5, n)  # tickets per year
        self.csat_mean = np.clip(rng.normal(4.4, 0.3, n), 3.5, 4.9)
        self.nps_responder = rng.random(n) < 0.65
        self.nps_mean = np.clip(rng.normal(8.4, 0.7, n), 6.0, 9.8)
        self.slow_payer = rng.random(n) < 0.10
        self.has_sponsor = rng.random(n) < np.array([0.10, 0.70, 0.90])[seg]
        qbr_p = np.array([0.04, 0.55, 0.80])[seg]
        self.qbr_months = np.where(rng.random(n) < qbr_p, np.array([12, 6, 3])[seg], 0)

    def _names(self) -> np.ndarray:
        """Pronounceable company names: two or three syllables plus an industry-flavoured suffix."""
        rng, n = self.rng, self.n
        heads = np.array(NAME_HEADS)
        mids = np.array(["a", "i", "o", "e", "", "", "an", "el"])
        tails = np.array(NAME_TAILS)
        stem = np.strings.add(heads[rng.integers(0, heads.size, n)], tails[rng.integers(0, tails.size, n)])
        with_mid = rng.random(n) < 0.35
        mid = mids[rng.integers(0, mids.size, n)]
        head = heads[rng.integers(0, heads.size, n)]
        stem = np.where(with_mid, np.strings.add(np.strings.add(head, mid), np.strings.lower(stem)), stem)
        stem = np.strings.capitalize(stem)
        suffixes = {
            "software": ["Labs", "Systems", "Software", "Technologies", "AI"],
            "healthcare": ["Health", "Care", "Medical", "Clinics"],
            "finance": ["Capital", "Financial", "Bank", "Advisors"],
            "retail": ["Goods", "Stores", "Brands", "Market"],
            "manufacturing": ["Industries", "Manufacturing", "Works", "Metals"],
            "education": ["Learning", "Academy", "Education"],
            "media": ["Media", "Studios", "Press"],
            "logistics": ["Logistics", "Freight", "Shipping"],
        }
        generic = np.array(["Inc", "Group", "Co", "Partners", "Holdings", "LLC"])
        suffix = generic[rng.integers(0, generic.size, n)].astype("U16")
        specific = rng.random(n) < 0.6
        for i, industry in enumerate(INDUSTRIES):
            rows = np.flatnonzero(specific & (self.industry == i))
            options = np.array(suffixes[industry])
            suffix[rows] = options[rng.integers(0, options.size, rows.size)]
        return np.strings.add(np.strings.add(stem, " "), suffix)

    # ----------------------------------------------------------------------- episodes

    def _onsets(self, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Poisson onsets per account over the window part of its life (from max(created, window start))."""
        lo = np.maximum(self.created, self.d0)
        span = np.maximum(self.d1 + 1 - lo, 0)
        count = self.rng.poisson(rate * span / 365.0)
        acc = np.repeat(np.arange(self.n), count)
        day = lo[acc] + np.floor(self.rng.random(acc.size) * span[acc]).astype(np.int64)
        return acc, day

    def _episodes(self) -> None:
        """Timeline episodes that do not depend on the contracts (those come later in the loop)."""
        rng, n = self.rng, self.n
        acc, day = self._onsets(np.full(n, RATE_DECLINE))
        m = acc.size
        self.decline = _Episodes(
            acc,
            day,
            ramp=rng.uniform(60, 120, m),
            depth=rng.uniform(0.4, 0.7, m),  # active users fall to 30-60% of baseline
            recover=rng.uniform(0.3, 0.7, m),  # share of the drop won back after a renewal
            recover_day=np.full(m, _NEVER, dtype=np.int64),
        )
        acc, day = self._onsets(RATE_SUPPORT_PAIN * self.opens_tickets)
        self.support = _Episodes(acc, day)
        acc, day = self._onsets(np.full(n, RATE_CHAMPION_LOSS))
        replaced = rng.random(acc.size) < 0.6
        added = np.where(replaced, day + rng.integers(20, 91, acc.size), _NEVER)
        self.champion = _Episodes(acc, day, added=added)
        acc, day = self._onsets(0.06 * self.has_sponsor)
        readded = np.where(rng.random(acc.size) < 0.5, day + rng.integers(30, 181, acc.size), _NEVER)
        self.sponsor_left = _Episodes(acc, day, readded=readded)

        # NPS waves: mid-March and mid-September, the send date shifted a few days each time.
        y0 = pd.Timestamp(self.d0 * 86400, unit="s").year
        y1 = pd.Timestamp(self.d1 * 86400, unit="s").year
        waves = np.array(
            [_day_number(pd.Timestamp(y, mo, 15)) for y in range(y0, y1 + 1) for mo in (3, 9)], dtype=np.int64
        )
        waves = waves + rng.integers(-3, 4, waves.size)
        shape = (n, waves.size)
        respond_day = waves[None, :] + np.minimum(np.floor(rng.exponential(4.0, shape)), 21).astype(np.int64)
        responder = self.nps_responder[:, None]
        detractor = responder & (rng.random(shape) < P_DETRACTOR_PER_WAVE)
        organic = responder & (rng.random(shape) < 0.6)
        organic_score = np.clip(np.round(self.nps_mean[:, None] + rng.normal(0.0, 1.0, shape)), 0, 10)
        bad_score = rng.choice(6, shape, p=[0.05, 0.07, 0.10, 0.18, 0.25, 0.35])
        answered = (detractor | organic) & (respond_day >= self.d0) & (respond_day <= self.d1)
        rows, cols = np.nonzero(answered)
        self.nps_acc = rows.astype(np.int64)
        self.nps_day = respond_day[rows, cols]
        self.nps_score = np.where(detractor, bad_score, organic_score)[rows, cols].astype(np.int64)
        det = detractor[rows, cols]
        self.detractor = _Episodes(self.nps_acc[det], self.nps_day[det])

    # ----------------------------------------------------------------------- latent need

    def _drift(self, acc: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Slow wiggle of the user base (two sinusoids per account): usage is never flat."""
        out = np.ones(np.broadcast_shapes(np.shape(acc), np.shape(t)))
        for j in range(2):
            amp = self.drift_amp[acc, j]
            period = self.drift_period[acc, j]
            phase = self.drift_phase[acc, j]
            out = out + amp * np.sin(2 * np.pi * t / period + phase)
        return out

    def _decline_factor(self, ep_idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Multiplier (<= 1) of decline episodes at time t: ramps down, partly recovers after a renewal."""
        a = self.decline.attrs
        ramp = np.clip((t - self.decline.day[ep_idx]) / a["ramp"][ep_idx], 0.0, 1.0)
        back = np.clip((t - a["recover_day"][ep_idx]) / 60.0, 0.0, 1.0)
        return 1.0 - a["depth"][ep_idx] * ramp * (1.0 - a["recover"][ep_idx] * back)

    def _need(self, acc: np.ndarray, t: np.ndarray, with_decline: bool) -> np.ndarray:
        """Latent weekday active users at day t (before the binomial draw, weekends or holidays)."""
        age = np.maximum(t - self.created[acc], 0).astype(np.float64)
        need = self.seats0[acc] * self.util[acc] * np.exp(self.growth[acc] * age / 365.0)
        need = need * (1.0 - 0.5 * np.exp(-age / 20.0)) * self._drift(acc, t)  # onboarding ramp
        if with_decline:
            left, right = self.decline.window(acc, np.zeros_like(t), t - 1)
            for m in range(int((right - left).max(initial=0))):
                rows = np.flatnonzero(right - left > m)
                need[rows] *= self._decline_factor(left[rows] + m, t[rows])
        return need

    # ----------------------------------------------------------------------- contract chains

    def _contracts(self) -> None:
        """Contract chains, one generation per loop pass; renewal decisions, invoices and truth inline."""
        rng, n, d0, d1 = self.rng, self.n, self.d0, self.d1
        term, created, seg = self.term, self.created, self.seg
        # Accounts that exist before the window: only the contract in force at its start is
        # exported; earlier renewals are survivors' history and all renewed on time.
        k = np.zeros(n, dtype=np.int64)
        pre = created < d0
        k[pre] = np.maximum((_month_index(d0) - _month_index(created[pre])) // term[pre] - 1, 0)
        start = _add_months(created, k * term)
        end = _add_months(created, (k + 1) * term)
        for _ in range(3):
            late = end <= d0
            k += late
            start = np.where(late, end, start)
            end = np.where(late, _add_months(created, (k + 1) * term), end)
        years_in = (start - created) / 365.0
        jitter = np.exp(0.08 * rng.standard_normal(n))
        seats = np.round(self.seats0 * np.exp(self.growth * years_in) * jitter)
        self.s_start, self.s_end = start, end
        self.s_seats = np.clip(seats, SEAT_FLOOR[seg], 2 * SEAT_CAP[seg]).astype(np.int64)
        self.s_price = self._list_price(np.arange(n), years_in)
        self.s_disc = self.disc0.copy()
        self.chain_start = created.copy()
        self.inc_day = np.full(n, -_NEVER, dtype=np.int64)
        self.inc_size = np.zeros(n)
        self.bill_carry = np.zeros(n, dtype=np.int64)
        self.last_util = np.zeros(n)

        self.contract_parts: list[dict[str, np.ndarray]] = []
        self.invoice_parts: list[dict[str, np.ndarray]] = []
        self.truth_parts: list[dict[str, np.ndarray]] = []
        bill_acc: list[np.ndarray] = []
        bill_day: list[np.ndarray] = []
        chain_acc, chain_day = [np.arange(n)], [created.copy()]
        churn_acc: list[np.ndarray] = []
        churn_day: list[np.ndarray] = []
        open_ = np.ones(n, dtype=bool)
        gen = 0
        while open_.any():
            ids = np.flatnonzero(open_)
            self._record_contract(ids, gen)
            acc, due = self._bill(ids)
            bill_acc.append(acc)
            bill_day.append(due)
            self.billing = _Episodes(np.concatenate(bill_acc), np.concatenate(bill_day))

            decide = ids[self.s_end[ids] <= d1]
            open_[ids[self.s_end[ids] > d1]] = False
            if decide.size:
                renewed = self._decide(decide, gen)
                self._renew(decide[renewed])
                churned = decide[~renewed]
                open_[churned] = False
                churn_acc.append(churned)
                churn_day.append(self.s_end[churned])
                back = churned[rng.random(churned.size) < P_WIN_BACK]
                wait = 61 + np.minimum(np.floor(rng.exponential(150.0, back.size)), 600).astype(np.int64)
                back_start = self.s_end[back] + wait
                back, back_start = back[back_start <= d1], back_start[back_start <= d1]
                self._win_back(back, back_start)
                open_[back] = True
                chain_acc.append(back)
                chain_day.append(back_start)
            gen += 1

        # Customer spans: from each chain's first start to its churn; the i-th churn of an
        # account closes its i-th chain, and a chain still open runs past the window.
        ca, cs = np.concatenate(chain_acc), np.concatenate(chain_day)
        order = np.lexsort((cs, ca))
        ca, cs = ca[order], cs[order]
        ka = np.concatenate(churn_acc) if churn_acc else np.zeros(0, dtype=np.int64)
        ke = np.concatenate(churn_day) if churn_day else np.zeros(0, dtype=np.int64)
        order = np.lexsort((ke, ka))
        ka, ke = ka[order], ke[order]
        ce = np.full(ca.size, d1 + 1, dtype=np.int64)
        nth = np.arange(ka.size) - np.searchsorted(ka, ka, side="left")
        ce[np.searchsorted(ca, ka, side="left") + nth] = ke
        self.span_acc, self.span_start, self.span_end = ca, cs, ce
        self.span_key = ca * _KEY + cs

    def _list_price(self, acc: np.ndarray, years_in: np.ndarray) -> np.ndarray:
        """Per-seat annual price: list price, ~2.5%/year drift since signing, monthly premium."""
        price = LIST_PRICE[self.plan[acc]] * 1.025 ** np.maximum(years_in, 0)
        price = price * np.where(self.term[acc] == 1, MONTHLY_PREMIUM, 1.0)
        return np.round(price * np.exp(0.02 * self.rng.standard_normal(acc.size)), 2)

    def _record_contract(self, ids: np.ndarray, gen: int) -> None:
        arr = np.round(self.s_seats[ids] * self.s_price[ids] * (1.0 - self.s_disc[ids]), 2)
        self.contract_parts.append(
            {
                "acc": ids,
                "gen": np.full(ids.size, gen),
                "start": self.s_start[ids],
                "end": self.s_end[ids],
                "seats": self.s_seats[ids],
                "arr": arr,
                "disc": self.s_disc[ids],
            }
        )

    def _bill(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Invoices of this generation's contracts, with failed-payment episodes marked.

        An episode starts at an invoice (rate ~0.06 per account-year for monthly/quarterly
        billing) and spoils it and the next 1-2 invoices, which may belong to the next
        contract: the remainder is carried over per account.
        """
        rng = self.rng
        pm = self.bill[ids]
        group, j = _ranges(self.term[ids] // pm)
        acc = ids[group]
        pm = pm[group]
        due = _add_months(self.s_start[acc], j * pm) + 30
        keep = (due >= self.d0) & (due <= self.d1)
        acc, pm, due, j = acc[keep], pm[keep], due[keep], j[keep]
        amount = np.round(self.s_seats[acc] * self.s_price[acc] * (1.0 - self.s_disc[acc]) * pm / 12.0, 2)
        m = acc.size

        pos = np.arange(m)
        first = np.r_[True, acc[1:] != acc[:-1]] if m else np.zeros(0, dtype=bool)
        gid = np.cumsum(first) - 1
        first_pos = pos[first]
        size = np.bincount(gid, minlength=first_pos.size)
        last_pos = first_pos + size - 1
        rank = pos - first_pos[gid]
        carried = rank < self.bill_carry[acc]
        starts = (pm <= 3) & (rng.random(m) < RATE_FAILED_PAYMENTS * pm / 12.0) & ~carried
        n_aff = rng.integers(1, 4, m)
        reach = np.where(starts, pos + n_aff - 1, -1)
        run = np.maximum.accumulate(np.minimum(reach, last_pos[gid])) if m else reach
        affected = carried | (run >= pos)
        carry = np.zeros(self.n, dtype=np.int64)
        carry[acc[first]] = np.maximum(self.bill_carry[acc[first]] - size, 0)
        np.maximum.at(carry, acc[starts], reach[starts] - last_pos[gid[starts]])
        self.bill_carry[ids] = carry[ids]

        # Payment: ordinary invoices are mostly paid by the due date; slow payers drift later.
        u = rng.random(m)
        slow = self.slow_payer[acc]
        offset = np.where(
            slow,
            np.select(
                [u < 0.4, u < 0.85],
                [rng.integers(-10, 1, m), rng.integers(1, 26, m)],
                rng.integers(25, 36, m),
            ),
            np.select(
                [u < 0.75, u < 0.95],
                [rng.integers(-25, 1, m), rng.integers(1, 15, m)],
                rng.integers(15, 31, m),
            ),
        )
        v = rng.random(m)
        late = rng.integers(30, 76, m)
        recovered = np.where(rng.random(m) < 0.5, rng.integers(45, 121, m), _NEVER)
        offset = np.where(affected, np.where(v < 0.45, late, recovered), offset)
        failed = affected & (v >= 0.45)
        self.invoice_parts.append(
            {"acc": acc, "due": due, "paid": due + offset, "amount": amount, "failed": failed, "j": j}
        )
        return acc[starts], due[starts]

    def _decide(self, acc: np.ndarray, gen: int) -> np.ndarray:
        """Competing-risks renewal decision at each contract's end date; returns ``renewed``.

        Every cause visible at the snapshot S fires independently with its q (made
        term-proportional so a monthly contract sees a 1/12 share of an annual one's risk per
        renewal); the contract churns iff any fires. The driver is the fired cause with the
        largest q, or for renewals the active cause with the largest q.
        """
        rng = self.rng
        start, end, seg = self.s_start[acc], self.s_end[acc], self.seg[acc]
        snap = np.maximum(start + 1, end - 90)
        chain = self.chain_start[acc]
        m = acc.size
        q = np.zeros((m, len(CAUSES)))

        dec = self.decline
        dec_lo = np.maximum(snap - 200, chain)

        def depth_at_s(idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
            return 1.0 - self._decline_factor(idx, snap[rows])

        q[:, 0] = Q_USAGE_PER_DEPTH * dec.max_over(acc, dec_lo, snap - 15, depth_at_s)
        # Low utilization is judged on the account's underlying level, without decline episodes,
        # so a decline is reported as a usage problem and not double-counted as adoption.
        util_base = np.minimum(self._need(acc, snap, with_decline=False) / self.s_seats[acc], 0.97)
        shortfall = np.clip((LOW_UTIL_THRESHOLD - util_base) / 0.2, 0.0, 1.0)
        # Adoption traits need a month of history to be judged (a brand-new account is not "narrow").
        settled = snap - chain >= 30
        q[:, 1] = np.where(
            settled & (util_base < LOW_UTIL_THRESHOLD), Q_LOW_UTIL_MAX * np.maximum(shortfall, 0.05), 0.0
        )
        modules_live = (self.adopt_day[acc] < snap[:, None] - 7).sum(axis=1)
        q[:, 2] = np.where(settled & (modules_live <= 2), Q_NARROW, 0.0)
        q[:, 3] = self.support.max_over(acc, dec_lo, snap - 15, lambda i, r: np.full(i.size, Q_SUPPORT))
        q[:, 4] = self.detractor.max_over(
            acc, np.maximum(snap - 180, chain), snap - 10, lambda i, r: np.full(i.size, Q_DETRACTOR)
        )
        added = self.champion.attrs["added"]
        q[:, 5] = self.champion.max_over(
            acc,
            np.maximum(snap - 300, chain),
            snap - 15,
            lambda i, r: np.where(added[i] <= snap[r], Q_CHAMPION_REPLACED, Q_CHAMPION_LOST),
        )
        inc = self.inc_day[acc]
        price_active = (inc >= np.minimum(start, end - 365)) & (inc <= snap) & (inc >= chain)
        q[:, 6] = np.where(price_active, Q_PRICE * np.clip(self.inc_size[acc] / 0.275, 0.5, 1.5), 0.0)
        q[:, 7] = self.billing.max_over(acc, dec_lo, snap - 15, lambda i, r: np.full(i.size, Q_BILLING))

        if self.plant == "cause-shift":
            shifted = snap >= self.plant_day
            for cause, factor in CAUSE_SHIFT.items():
                k = CAUSES.index(cause)
                q[:, k] = np.where(shifted, np.minimum(q[:, k] * factor, 0.95), q[:, k])
        term_days = (end - start).astype(np.float64)
        q[:, :-1] *= STICKINESS[seg][:, None]
        q[:, :-1] = 1.0 - (1.0 - q[:, :-1]) ** (np.minimum(term_days, 365.0) / 365.0)[:, None]
        q[:, -1] = 1.0 - (1.0 - UNOBSERVABLE_PER_YEAR[seg]) ** (term_days / 365.0)
        fired = rng.random((m, len(CAUSES))) < q
        churn = fired.any(axis=1)

        group_index = np.array([DRIVERS.index(g) for g in CAUSE_GROUP])
        active = q[:, :-1] > 0
        top_fired = np.argmax(np.where(fired, q, -1.0), axis=1)
        top_active = np.argmax(np.where(active, q[:, :-1], -1.0), axis=1)
        driver = np.where(
            churn,
            group_index[top_fired],
            np.where(active.any(axis=1), group_index[top_active], DRIVERS.index("none")),
        )
        bits = (active * (1 << np.arange(len(CAUSES) - 1))).sum(axis=1) + fired[:, -1] * (1 << (len(CAUSES) - 1))
        self.truth_parts.append(
            {
                "acc": acc,
                "gen": np.full(m, gen),
                "end": end,
                "p": np.prod(1.0 - q, axis=1),
                "renewed": ~churn,
                "driver": driver,
                "bits": bits,
            }
        )
        self.last_util[acc] = np.minimum(self._need(acc, snap, with_decline=True) / self.s_seats[acc], 0.97)
        return ~churn

    def _renew(self, acc: np.ndarray) -> None:
        """Successor contracts: dates, seat changes from utilization, price drift or increase."""
        rng, m = self.rng, acc.size
        end = self.s_end[acc]
        monthly = self.term[acc] == 1
        # Renewing after a decline has fully shown (ramp + 60 days) marks a re-engaged customer:
        # the drop partly recovers from the renewal on. Earlier renewals (monthly auto-charges)
        # do not count, otherwise month-to-month accounts would never show a decline.
        renewal_day = np.full(self.n, -1, dtype=np.int64)
        renewal_day[acc] = end
        ea = self.decline.acc
        rd = self.decline.attrs["recover_day"]
        settled = self.decline.day + self.decline.attrs["ramp"] + 60  # the drop has been visible a while
        hit = (renewal_day[ea] >= 0) & (rd == _NEVER) & (settled <= renewal_day[ea])
        rd[hit] = renewal_day[ea[hit]]

        u = rng.random(m)
        gap = np.where(
            monthly,
            np.select([u < 0.90, u < 0.97], [0, rng.integers(1, 6, m)], -rng.integers(1, 4, m)),
            np.select([u < 0.70, u < 0.90], [0, rng.integers(1, 21, m)], -rng.integers(1, 6, m)),
        )
        start = end + gap
        self.s_start[acc] = start
        self.s_end[acc] = _add_months(start, self.term[acc])

        seats = self.s_seats[acc].astype(np.float64)
        util = self.last_util[acc]
        adjust = ~monthly | (rng.random(m) < 0.15)
        grow = adjust & (util >= 0.85)
        shrink = adjust & (util < LOW_UTIL_THRESHOLD) & (rng.random(m) < 0.5)
        new = np.where(grow, np.maximum(np.ceil(seats * rng.uniform(1.10, 1.30, m)), seats + 1), seats)
        new = np.where(shrink, np.minimum(np.floor(seats * rng.uniform(0.7, 0.9, m)), seats - 1), new)
        self.s_seats[acc] = np.maximum(new, SEAT_FLOOR[self.seg[acc]] // 2).astype(np.int64)

        old_price, old_disc = self.s_price[acc], self.s_disc[acc]
        drift = np.where(~monthly | (rng.random(m) < 1 / 12), rng.uniform(0.0, 0.05, m), 0.0)
        price = old_price * (1.0 + drift)
        disc = old_disc.copy()
        p_inc = P_PRICE_INCREASE * np.minimum(self.term[acc], 12) / 12.0
        inc = rng.random(m) < p_inc
        drop = inc & (old_disc >= 0.2) & (rng.random(m) < 0.6)
        raise_ = inc & ~drop
        disc = np.where(drop, np.round(rng.uniform(0.0, 0.05, m), 2), disc)
        price = np.where(raise_, old_price * (1.0 + rng.uniform(0.15, 0.40, m)), price)
        price = np.round(price, 2)
        self.s_price[acc], self.s_disc[acc] = price, disc
        size = price * (1 - disc) / (old_price * (1 - old_disc)) - 1.0
        self.inc_day[acc] = np.where(inc, start, self.inc_day[acc])
        self.inc_size[acc] = np.where(inc, size, self.inc_size[acc])

    def _win_back(self, acc: np.ndarray, start: np.ndarray) -> None:
        """A churned account signs again after a pause: a fresh chain with fresh terms."""
        rng, m = self.rng, acc.size
        if not m:
            return
        seg = self.seg[acc]
        need = self._need(acc, start, with_decline=False)
        seats = np.round(need / rng.uniform(0.55, 0.8, m))
        self.s_start[acc] = start
        self.s_end[acc] = _add_months(start, self.term[acc])
        self.s_seats[acc] = np.clip(seats, SEAT_FLOOR[seg] // 2, 2 * SEAT_CAP[seg]).astype(np.int64)
        self.s_price[acc] = self._list_price(acc, (start - self.created[acc]) / 365.0)
        self.s_disc[acc] = np.round(np.clip(self.disc0[acc] + rng.uniform(-0.03, 0.05, m), 0, 0.3), 2)
        self.chain_start[acc] = start
        self.inc_day[acc] = -_NEVER
        self.bill_carry[acc] = 0
        # The pause wipes out old declines: the returning customer starts from its baseline.
        back = np.full(self.n, -1, dtype=np.int64)
        back[acc] = start
        ea = self.decline.acc
        rd = self.decline.attrs["recover_day"]
        hit = (back[ea] >= 0) & (self.decline.day < back[ea]) & (rd > back[ea])
        rd[hit] = back[ea[hit]]
        self.decline.attrs["recover"][hit] = 1.0

    # ----------------------------------------------------------------------- customer spans

    def _alive(self, acc: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each (account, day) is inside a customer span, and that span's end."""
        idx = np.searchsorted(self.span_key, acc * _KEY + day, side="right") - 1
        ok = idx >= 0
        idx = np.maximum(idx, 0)
        ok &= (self.span_acc[idx] == acc) & (day < self.span_end[idx])
        ok &= (day >= self.d0) & (day <= self.d1)
        return ok, self.span_end[idx]

    def _sample_alive_days(self, acc: np.ndarray) -> np.ndarray:
        """Uniform random customer days (within the window) for each account in ``acc``."""
        s = np.clip(self.span_start, self.d0, self.d1 + 1)
        e = np.clip(self.span_end, self.d0, self.d1 + 1)
        length = np.maximum(e - s, 0)
        total = np.bincount(self.span_acc, weights=length, minlength=self.n).astype(np.int64)
        before = np.cumsum(total) - total
        cum = np.cumsum(length)
        g = before[acc] + np.floor(self.rng.random(acc.size) * total[acc]).astype(np.int64)
        idx = np.minimum(np.searchsorted(cum, g, side="right"), length.size - 1)
        return s[idx] + g - (cum[idx] - length[idx])

    def _alive_days(self) -> np.ndarray:
        s = np.clip(self.span_start, self.d0, self.d1 + 1)
        e = np.clip(self.span_end, self.d0, self.d1 + 1)
        return np.bincount(self.span_acc, weights=np.maximum(e - s, 0), minlength=self.n)

    # ----------------------------------------------------------------------- tables

    def _accounts_table(self) -> pd.DataFrame:
        industry = np.array(INDUSTRIES, dtype=object)[self.industry]
        industry[self.industry_missing] = None
        return pd.DataFrame(
            {
                "account_id": _text(self._account_ids()),
                "name": _text(self.name),
                "segment": _text(np.array(SEGMENTS)[self.seg]),
                "industry": _text(industry),
                "region": _text(np.array(REGIONS)[self.region]),
                "created_at": _dates(self.created),
            }
        )

    def _account_ids(self) -> np.ndarray:
        return _ids("ACC-", self.n, 5)

    def _contract_frame(self) -> dict[str, np.ndarray]:
        """All contracts, rows ordered by (account, start); ids numbered in signing order."""
        if hasattr(self, "_cf"):
            return self._cf
        parts = self.contract_parts
        c = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.lexsort((c["gen"], c["start"], c["acc"]))
        c = {k: v[order] for k, v in c.items()}
        chrono = np.lexsort((c["gen"], c["acc"], c["start"]))
        number = np.empty(order.size, dtype=np.int64)
        number[chrono] = np.arange(order.size)
        c["id"] = _ids("CTR-", order.size, 6)[number]
        c["key"] = c["acc"] * 4096 + c["gen"]
        self._cf = c
        return c

    def _contracts_table(self) -> pd.DataFrame:
        c = self._contract_frame()
        acc = c["acc"]
        auto = pd.arrays.BooleanArray(self.auto_renew[acc], self.auto_renew_missing[acc])
        return pd.DataFrame(
            {
                "contract_id": _text(c["id"]),
                "account_id": _text(self._account_ids()[acc]),
                "start_date": _dates(c["start"]),
                "end_date": _dates(c["end"]),
                "arr": c["arr"],
                "seats": c["seats"],
                "plan": _text(np.array(PLANS)[self.plan[acc]]),
                "discount_pct": c["disc"],
                "auto_renew": auto,
            }
        )

    def _truth_table(self) -> pd.DataFrame:
        parts = self.truth_parts
        t = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        c = self._contract_frame()
        key = t["acc"] * 4096 + t["gen"]
        sort = np.argsort(c["key"])
        contract = c["id"][sort[np.searchsorted(c["key"][sort], key)]]
        order = np.lexsort((t["end"], t["acc"]))
        # One label per distinct set of active causes, so strings are built once per set.
        bits, inverse = np.unique(t["bits"][order], return_inverse=True)
        labels = np.array([";".join(name for i, name in enumerate(CAUSES) if b >> i & 1) for b in bits])
        return pd.DataFrame(
            {
                "contract_id": _text(contract[order]),
                "account_id": _text(self._account_ids()[t["acc"][order]]),
                "renewal_date": _dates(t["end"][order]),
                "true_renewal_probability": np.round(t["p"][order], 6),
                "renewed": t["renewed"][order],
                "primary_driver": _text(np.array(DRIVERS)[t["driver"][order]]),
                "causes": _text(labels[inverse]),
            }
        )

    def _day_factor(self) -> np.ndarray:
        """Per region and window day: weekday rhythm, public holidays, the December lull."""
        days = self.d0 + np.arange(self.nd)
        dow = (days + 3) % 7  # 0 = Monday
        base = np.where(dow >= 5, WEEKEND_FACTOR, np.where(dow == 4, 0.92, 1.0))
        dt = days.astype("datetime64[D]")
        month = dt.astype("datetime64[M]")
        dom = (dt - month.astype("datetime64[D]")).astype(np.int64) + 1
        is_dec = month.astype(np.int64) % 12 == 11
        base = base * np.where(is_dec & (dom >= 24), 0.4, np.where(is_dec & (dom >= 18), 0.7, 1.0))
        years = range(pd.Timestamp(self.d0 * 86400, unit="s").year, pd.Timestamp(self.d1 * 86400, unit="s").year + 1)
        out = np.empty((len(REGIONS), self.nd))
        for r, region in enumerate(REGIONS):
            country, subdiv = REGION_HOLIDAYS[region]
            cal = holidays.country_holidays(country, subdiv=subdiv, years=years)
            hol = np.array(sorted(np.datetime64(d, "D").astype(np.int64) for d in cal), dtype=np.int64)
            out[r] = base * np.where(np.isin(days, hol), HOLIDAY_FACTOR, 1.0)
        return out

    def _usage_table(self) -> pd.DataFrame:
        """Daily usage, long form, rows only where the value is positive.

        Computed densely (accounts x days x metrics) in blocks of accounts so memory stays
        bounded; ``np.nonzero`` on each block yields rows already ordered by account, day, metric.
        """
        rng, nd, d0 = self.rng, self.nd, self.d0
        days = d0 + np.arange(nd)
        dayf = self._day_factor()
        c = self._contract_frame()
        prev_same = np.r_[False, c["acc"][1:] == c["acc"][:-1]]
        seat_delta = c["seats"] - np.where(prev_same, np.r_[0, c["seats"][:-1]], 0)
        seat_day = np.clip(c["start"] - d0, 0, nd)
        span_s = np.clip(self.span_start - d0, 0, nd)
        span_e = np.clip(self.span_end - d0, 0, nd)
        ep = self.decline
        out_acc, out_day, out_metric, out_value = [], [], [], []
        for a0 in range(0, self.n, _USAGE_CHUNK):
            a1 = min(a0 + _USAGE_CHUNK, self.n)
            acc = np.arange(a0, a1)
            rows = a1 - a0
            alive = np.zeros((rows, nd + 1), dtype=np.int32)
            sel = (self.span_acc >= a0) & (self.span_acc < a1)
            np.add.at(alive, (self.span_acc[sel] - a0, span_s[sel]), 1)
            np.add.at(alive, (self.span_acc[sel] - a0, span_e[sel]), -1)
            alive = np.cumsum(alive, axis=1)[:, :nd] > 0
            if not alive.any():
                continue
            seats = np.zeros((rows, nd + 1), dtype=np.int64)
            sel = (c["acc"] >= a0) & (c["acc"] < a1)
            np.add.at(seats, (c["acc"][sel] - a0, seat_day[sel]), seat_delta[sel])
            seats = np.cumsum(seats, axis=1)[:, :nd]

            need = self._need(acc[:, None], days[None, :], with_decline=False)
            esel = np.flatnonzero((ep.acc >= a0) & (ep.acc < a1))
            if esel.size:
                factor = self._decline_factor(esel[:, None], days[None, :])
                np.multiply.at(need, ep.acc[esel] - a0, factor)
            util = np.minimum(need / np.maximum(seats, 1), 0.97)
            p = np.where(alive, util * dayf[self.region[acc]], 0.0)
            active = rng.binomial(np.where(alive, seats, 0), p)
            values = np.zeros((rows, nd, len(METRICS)), dtype=np.int32)
            values[:, :, 0] = active
            values[:, :, 1] = rng.poisson(active * self.login_rate[acc][:, None])
            adopted = days[None, :, None] >= self.adopt_day[acc][:, None, :]
            lam = active[:, :, None] * self.intensity[acc][:, None, :] * adopted
            mask = lam > 0
            modules = values[:, :, 2:]
            modules[mask] = rng.poisson(lam[mask])
            ai, di, mi = np.nonzero(values)
            out_acc.append((ai + a0).astype(np.int32))
            out_day.append(di.astype(np.int32))
            out_metric.append(mi.astype(np.int8))
            out_value.append(values[ai, di, mi])

        # Build one column at a time and free its compact source right away: the string
        # columns dominate memory, so this keeps the peak close to the final frame's size.
        def take(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            out = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
            parts.clear()
            return out

        account_id = _text(self._account_ids()).take(take(out_acc, np.int32))
        date = ((take(out_day, np.int32).astype(np.int64) + d0) * 86400).view("datetime64[s]")
        metric = _text(np.array(METRICS)).take(take(out_metric, np.int8).astype(np.intp))
        value = take(out_value, np.int32).astype(np.int64)
        return pd.DataFrame({"account_id": account_id, "date": date, "metric": metric, "value": value}, copy=False)

    def _tickets_table(self) -> pd.DataFrame:
        """Everyday tickets from each account's rate, plus the bursts of support-pain episodes."""
        rng, n = self.rng, self.n
        expected = self.ticket_rate * self.opens_tickets * self._alive_days() / 365.0
        acc = np.repeat(np.arange(n), rng.poisson(expected))
        m = acc.size
        # Tickets come in on working days: take the first weekday among three random days.
        cand = np.stack([self._sample_alive_days(acc) for _ in range(3)], axis=1)
        weekday = (cand + 3) % 7 < 5
        day = cand[np.arange(m), np.where(weekday.any(axis=1), np.argmax(weekday, axis=1), 2)]
        priority = rng.choice(4, m, p=[0.30, 0.50, 0.15, 0.05])
        median_h = np.array([70.0, 30.0, 12.0, 4.0])[priority]
        hours = median_h * np.exp(rng.standard_normal(m))
        escalated = rng.random(m) < np.array([0.008, 0.015, 0.04, 0.12])[priority]
        slow = hours > 5 * 24
        answered = rng.random(m) < np.where(slow, 0.5, 0.68)
        score = self.csat_mean[acc] - 0.6 * slow - 0.2 * (priority == 3) + rng.normal(0, 0.7, m)

        ep = self.support
        k = rng.integers(3, 8, len(ep))
        grp, pos = _ranges(k)
        b_acc = ep.acc[grp]
        b_day = ep.day[grp] + np.where(pos == 0, 0, rng.integers(1, 31, grp.size))
        mb = b_acc.size
        b_priority = np.where(rng.random(mb) < 0.65, 2, 3)
        b_hours = rng.uniform(20, 60, mb) * 24
        b_escalated = rng.random(mb) < 0.3
        b_answered = rng.random(mb) < 0.7
        b_score = rng.integers(1, 3, mb).astype(np.float64)

        acc = np.concatenate([acc, b_acc])
        day = np.concatenate([day, b_day])
        priority = np.concatenate([priority, b_priority])
        hours = np.concatenate([hours, b_hours])
        escalated = np.concatenate([escalated, b_escalated])
        answered = np.concatenate([answered, b_answered])
        score = np.concatenate([score, b_score])
        total = acc.size
        secs = np.where(
            rng.random(total) < 0.95,
            np.clip(rng.normal(13.0, 2.6, total), 7.0, 19.5) * 3600,
            rng.uniform(0, 86400, total),
        ).astype(np.int64)
        alive, span_end = self._alive(acc, day)
        opened = day * 86400 + secs
        closed = opened + np.round(hours * 3600).astype(np.int64)
        # Tickets of an account that leaves are closed administratively on its last day.
        offboard = (closed >= span_end * 86400) & (span_end <= self.d1)
        closed = np.where(offboard, np.maximum(span_end * 86400 + 9 * 3600, opened + 60), closed)
        still_open = closed >= (self.d1 + 1) * 86400
        csat = np.clip(np.round(score), 1, 5).astype(np.int64)
        csat_missing = ~answered | offboard | still_open
        keep = alive
        order = np.lexsort((acc[keep], opened[keep]))
        sel = np.flatnonzero(keep)[order]
        closed_s = closed[sel].astype("datetime64[s]")
        closed_s[still_open[sel]] = np.datetime64("NaT")
        return pd.DataFrame(
            {
                "ticket_id": _text(_ids("T-", sel.size, 7)),
                "account_id": _text(self._account_ids()[acc[sel]]),
                "opened_at": opened[sel].astype("datetime64[s]"),
                "closed_at": closed_s,
                "priority": _text(np.array(schema.PRIORITIES)[priority[sel]]),
                "csat": pd.arrays.IntegerArray(csat[sel], csat_missing[sel]),
                "escalated": escalated[sel],
            }
        )

    def _nps_table(self) -> pd.DataFrame:
        alive, _ = self._alive(self.nps_acc, self.nps_day)
        sel = np.flatnonzero(alive)
        sel = sel[np.lexsort((self.nps_acc[sel], self.nps_day[sel]))]
        return pd.DataFrame(
            {
                "account_id": _text(self._account_ids()[self.nps_acc[sel]]),
                "responded_at": _dates(self.nps_day[sel]),
                "score": self.nps_score[sel],
            }
        )

    def _events_table(self) -> pd.DataFrame:
        """Champion and sponsor changes plus QBRs; only those that happen while a customer."""
        rng, n = self.rng, self.n
        code = {e: i for i, e in enumerate(schema.RELATIONSHIP_EVENTS)}
        acc_l, day_l, ev_l = [], [], []

        def add(acc: np.ndarray, day: np.ndarray, event: str) -> None:
            acc_l.append(acc)
            day_l.append(day)
            ev_l.append(np.full(acc.size, code[event]))

        everyone = np.arange(n)
        add(everyone, self.created + rng.integers(0, 31, n), "champion_added")
        add(self.champion.acc, self.champion.day, "champion_left")
        replaced = self.champion.attrs["added"] < _NEVER
        add(self.champion.acc[replaced], self.champion.attrs["added"][replaced], "champion_added")
        sponsor = np.flatnonzero(self.has_sponsor)
        add(sponsor, self.created[sponsor] + rng.integers(10, 121, sponsor.size), "exec_sponsor_added")
        add(self.sponsor_left.acc, self.sponsor_left.day, "exec_sponsor_left")
        back = self.sponsor_left.attrs["readded"] < _NEVER
        add(self.sponsor_left.acc[back], self.sponsor_left.attrs["readded"][back], "exec_sponsor_added")

        has = np.flatnonzero(self.qbr_months > 0)
        step = self.qbr_months[has] * 30.44
        anchor = self.created[has] + rng.integers(20, 61, has.size)
        k_lo = np.maximum(np.floor((self.d0 - anchor) / step) - 1, 0).astype(np.int64)
        k_hi = np.floor((self.d1 - anchor) / step).astype(np.int64) + 1
        grp, pos = _ranges(np.maximum(k_hi - k_lo + 1, 0))
        q_day = anchor[grp] + np.round((k_lo[grp] + pos) * step[grp]).astype(np.int64)
        q_day = q_day + rng.integers(-7, 8, grp.size)
        held = rng.random(grp.size) < 0.9
        add(has[grp][held], q_day[held], "qbr_held")

        acc = np.concatenate(acc_l)
        day = np.concatenate(day_l)
        ev = np.concatenate(ev_l)
        alive, _ = self._alive(acc, day)
        acc, day, ev = acc[alive], day[alive], ev[alive]
        # two episodes of one kind starting on the same day (a rare draw) are one event: a second row
        # would be an exact copy of the first, which the loader rightly refuses
        _, first = np.unique(np.stack([acc, day, ev]), axis=1, return_index=True)
        keep = np.sort(first)
        acc, day, ev = acc[keep], day[keep], ev[keep]
        order = np.lexsort((ev, acc, day))
        return pd.DataFrame(
            {
                "account_id": _text(self._account_ids()[acc[order]]),
                "date": _dates(day[order]),
                "event": _text(np.array(schema.RELATIONSHIP_EVENTS)[ev[order]]),
            }
        )

    def _invoices_table(self) -> pd.DataFrame:
        parts = self.invoice_parts
        v = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.lexsort((v["j"], v["acc"], v["due"]))
        v = {k: a[order] for k, a in v.items()}
        unpaid = v["paid"] > self.d1
        status = np.where(~unpaid, 0, np.where(v["failed"], 1, 2))
        return pd.DataFrame(
            {
                "account_id": _text(self._account_ids()[v["acc"]]),
                "invoice_id": _text(_ids("INV-", order.size, 7)),
                "due_date": _dates(v["due"]),
                "paid_at": _dates(np.minimum(v["paid"], self.d1), missing=unpaid),
                "amount": v["amount"],
                "status": _text(np.array(schema.INVOICE_STATUSES)[status]),
            }
        )


def ensure_demo_data(directory: Path | str, accounts: int = 600, years: int = 3, seed: int = 7) -> bool:
    """Generate demo data into ``directory`` when it is missing or empty; True when it did.

    What ``churn demo-data --out DIR --accounts N`` writes, so a notebook runs on a fresh checkout.
    A directory with any file in it is left alone: the loader then says what is wrong with it.
    """
    directory = Path(directory)
    if directory.is_dir() and any(directory.iterdir()):
        return False
    write(generate(accounts, years=years, seed=seed), directory)
    return True
