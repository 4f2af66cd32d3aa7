"""Shared fixtures: a tiny, seeded world small enough to reason about and fast to rebuild.

``tiny_frames`` makes raw tables the way an export would look; ``as_tables`` runs them
through the real parser, so tests exercise the same types the loader produces.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from features.load import Tables, parse_table
from features.schema import TABLES
from tests.chromium import browser, open_page  # noqa: F401  (one Chromium for the browser and serving tests)
from tests.monitor_fixtures import book_world  # noqa: F401  (a demo world trained with a book-shaped reference)

START = pd.Timestamp("2023-01-01")
END = pd.Timestamp("2024-12-31")
MODULES = ("feature.reports", "feature.api", "feature.mobile")


def tiny_frames(seed: int = 0, n_accounts: int = 6) -> dict[str, pd.DataFrame]:
    """Raw tables for a handful of accounts over two years: renewals, a churn, open contracts, tickets."""
    rng = np.random.default_rng(seed)
    ids = [f"A{i}" for i in range(n_accounts)]
    created = [START + pd.Timedelta(days=int(d)) for d in rng.integers(0, 120, n_accounts)]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Account {i}" for i in range(n_accounts)],
            "segment": rng.choice(["smb", "mid_market", "enterprise"], n_accounts),
            "industry": rng.choice(["software", "retail"], n_accounts),
            "region": rng.choice(["na", "emea"], n_accounts),
            "created_at": created,
        }
    )
    contracts, usage, tickets, nps, events, invoices = [], [], [], [], [], []
    for i, (account, start) in enumerate(zip(ids, created, strict=False)):
        monthly = i % 3 == 2
        term = pd.DateOffset(months=1) if monthly else pd.DateOffset(years=1)
        churn_after = int(rng.integers(1, 4 if not monthly else 14))
        seats = float(rng.integers(5, 50))
        c_start = start
        for k in range(churn_after + (0 if i % 2 else 5)):
            c_end = c_start + term
            arr = seats * float(rng.choice([600, 700])) * (1.1**k)
            contracts.append(
                (
                    f"C{i}-{k}",
                    account,
                    c_start,
                    c_end,
                    arr,
                    seats,
                    "pro",
                    float(rng.choice([0, 0.1, 0.2])),
                    bool(rng.integers(0, 2)),
                )
            )
            c_start = c_end
            if c_start > END:
                break
        last = min(c_start, END)
        for day in pd.date_range(start, last - pd.Timedelta(days=1)):
            if rng.random() < (0.9 if day.weekday() < 5 else 0.2):
                active = float(rng.integers(0, int(seats) + 1))
                usage.append((account, day, "active_users", active))
                usage.append((account, day, "logins", float(rng.poisson(1.5 * active + 0.1))))
                for module in MODULES[: 1 + i % 3]:
                    if rng.random() < 0.5:
                        usage.append((account, day, module, float(rng.integers(1, 10))))
        for t in range(int(rng.integers(0, 6))):
            opened = start + pd.Timedelta(hours=int(rng.integers(0, 24 * 500)))
            closed = opened + pd.Timedelta(hours=int(rng.integers(1, 24 * 40))) if rng.random() < 0.8 else pd.NaT
            tickets.append(
                (
                    f"T{i}-{t}",
                    account,
                    opened,
                    closed,
                    str(rng.choice(["low", "normal", "high", "urgent"])),
                    float(rng.integers(1, 6)) if rng.random() < 0.6 else np.nan,
                    bool(rng.random() < 0.2),
                )
            )
        for _r in range(int(rng.integers(0, 4))):
            nps.append((account, start + pd.Timedelta(days=int(rng.integers(10, 600))), float(rng.integers(0, 11))))
        for _e in range(int(rng.integers(0, 5))):
            events.append(
                (
                    account,
                    start + pd.Timedelta(days=int(rng.integers(0, 600))),
                    str(rng.choice(["champion_left", "champion_added", "exec_sponsor_added", "qbr_held"])),
                )
            )
        for q in range(int(rng.integers(0, 6))):
            due = start + pd.Timedelta(days=30 + 90 * q)
            paid = due + pd.Timedelta(days=int(rng.integers(-10, 40))) if rng.random() < 0.8 else pd.NaT
            status = "paid" if pd.notna(paid) else str(rng.choice(["failed", "overdue"]))
            invoices.append((account, f"I{i}-{q}", due, paid, 1000.0, status))

    def frame(table_name: str, rows: list[tuple]) -> pd.DataFrame:
        columns = [c.name for c in next(t for t in TABLES if t.name == table_name).columns]
        return pd.DataFrame(rows, columns=columns)

    return {
        "accounts": accounts,
        "contracts": frame("contracts", contracts),
        "usage": frame("usage", usage),
        "support_tickets": frame("support_tickets", tickets),
        "nps": frame("nps", nps),
        "relationship_events": frame("relationship_events", events),
        "invoices": frame("invoices", invoices),
    }


def as_tables(frames: dict[str, pd.DataFrame]) -> Tables:
    """Parse raw frames exactly as the loader would, without touching the disk."""
    parsed = {t.name: parse_table(frames[t.name], t, Path(f"{t.name}.parquet")) for t in TABLES if t.name in frames}
    missing = tuple(t.name for t in TABLES if t.name not in frames)
    return Tables(**parsed, missing_tables=missing)


def write_frames(frames: dict[str, pd.DataFrame], directory: Path, fmt: str = "csv") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if fmt == "csv":
            frame.to_csv(directory / f"{name}.csv", index=False)
        else:
            frame.to_parquet(directory / f"{name}.parquet", index=False)
    return directory


@pytest.fixture(scope="session")
def frames() -> dict[str, pd.DataFrame]:
    return tiny_frames()


@pytest.fixture(scope="session")
def tables(frames) -> Tables:
    return as_tables(frames)


@pytest.fixture
def data_dir(tmp_path, frames) -> Path:
    return write_frames(frames, tmp_path / "data")


def synthetic_snapshots(n: int = 3000, seed: int = 0, signal: float = 1.0) -> pd.DataFrame:
    """A labelled snapshot table with a known signal: churn rises as usage falls and tickets pile up.

    Renewals spread over two years, each observed 90 days ahead, so time splits and purges
    have something to work on; ``signal=0`` gives labels unrelated to the features.
    """
    rng = np.random.default_rng(seed)
    renewal = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    usage_trend = rng.normal(0, 0.3, n)
    tickets = rng.poisson(1.0, n).astype(float)
    utilization = rng.beta(4, 3, n)
    segment = rng.choice(["smb", "mid_market", "enterprise"], n, p=[0.5, 0.35, 0.15])
    logit = -2.2 + signal * (-3.0 * usage_trend + 0.6 * tickets - 2.0 * (utilization - 0.55))
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int8")
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "contract_id": [f"C{i:05d}" for i in range(n)],
            "as_of": renewal - pd.Timedelta(days=90),
            "renewal_date": renewal,
            "horizon_days": 90,
            "churned": churned,
            "renewed_arr": np.where(churned == 1, 0.0, 1000.0),
            "usage_active_users_trend_30d": usage_trend,
            "tickets_high_30d": tickets,
            "seat_utilization_30d": np.where(rng.random(n) < 0.05, np.nan, utilization),
            "arr": rng.lognormal(9, 1, n).round(),
            "segment": segment,
        }
    )
    return frame.sort_values("renewal_date", ignore_index=True)


def synthetic_table(n: int = 3000, seed: int = 0, signal: float = 1.0):
    """The synthetic snapshots as a TrainingTable with a catalog, as ``churn train --data`` would make."""
    from features.catalog import Catalog, Feature
    from training.dataset import TrainingTable

    frame = synthetic_snapshots(n, seed, signal)
    frame["segment"] = frame["segment"].astype("str")
    catalog = Catalog(
        (
            Feature("usage_active_users_trend_30d", "Change in active users", "fraction", "usage"),
            Feature("tickets_high_30d", "High-priority tickets", "tickets", "support"),
            Feature("seat_utilization_30d", "Seat utilization", "fraction", "adoption"),
            Feature("arr", "ARR", "currency", "commercial"),
            Feature("segment", "Segment", "category", "commercial", kind="categorical"),
        )
    )
    return TrainingTable(frame, catalog)


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory):
    """A small demo world (400 accounts, 3 years) with a model trained on it and saved as a folder.

    Real tables, real features, a real LightGBM model: what explanation and report tests need,
    in about three seconds.
    """
    from demo import simulator
    from features.build import build_training_snapshots
    from features.load import load_tables
    from training.dataset import from_snapshots
    from training.train import TrainConfig, train

    root = tmp_path_factory.mktemp("small_demo")
    simulator.write(simulator.generate(400, years=3, seed=11), root / "data")
    tables = load_tables(root / "data")
    snapshots = build_training_snapshots(tables)
    # 1,260 training rows: with the default regularisation (7 leaves, L2 10) early stopping on a
    # 250-row validation window keeps 2 trees that barely use any feature; explanation and report
    # tests need a model that does, so this world trains with the lighter regularisation of before.
    light = {"num_leaves": 15, "min_data_in_leaf": 20, "lambda_l2": 1.0, "feature_fraction": 0.8}
    result = train(from_snapshots(snapshots.frame, snapshots.catalog), TrainConfig(seed=3, params=light))
    model_dir = result.bundle.save(root / "model")
    return SimpleNamespace(
        data=root / "data",
        tables=tables,
        snapshots=snapshots,
        result=result,
        bundle=result.bundle,
        model=model_dir,
        params=light,
    )
