"""The demo data generator: deterministic, faithful to the data contract, consistent with its truth.

Small worlds (a few hundred accounts, two years) keep every test fast; the module-scoped
fixture is generated once and shared, the determinism tests generate their own copies.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from demo import simulator
from features import schema

N_ACCOUNTS = 300
YEARS = 2
SEED = 11
END = pd.Timestamp("2026-10-31")
START = END - pd.DateOffset(years=YEARS)
DATE_COLUMNS_IN_WINDOW = {
    "usage": "date",
    "support_tickets": "opened_at",
    "nps": "responded_at",
    "relationship_events": "date",
    "invoices": "due_date",
}


@pytest.fixture(scope="module")
def data() -> simulator.DemoData:
    return simulator.generate(N_ACCOUNTS, YEARS, SEED, end_date=str(END.date()))


@pytest.fixture(scope="module")
def contracts_with_segment(data: simulator.DemoData) -> pd.DataFrame:
    accounts = data.tables["accounts"].set_index("account_id")
    contracts = data.tables["contracts"].copy()
    contracts["segment"] = contracts["account_id"].map(accounts["segment"])
    contracts["term_days"] = (contracts["end_date"] - contracts["start_date"]).dt.days
    return contracts


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_gives_identical_bytes(tmp_path: Path, fmt: str) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    simulator.write(simulator.generate(150, YEARS, seed=3), first, fmt=fmt)
    simulator.write(simulator.generate(150, YEARS, seed=3), second, fmt=fmt)
    expected = sorted([Path(f"{t.name}.{fmt}") for t in schema.TABLES] + [Path("_truth/renewals.parquet")])
    assert _files(first) == expected
    assert _files(second) == expected
    for name in expected:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_different_seed_gives_different_data() -> None:
    a = simulator.generate(150, YEARS, seed=3)
    b = simulator.generate(150, YEARS, seed=4)
    for name in ("accounts", "contracts", "usage"):
        assert not a.tables[name].equals(b.tables[name]), name
    assert not a.truth.equals(b.truth)


def test_write_replaces_in_place_and_round_trips(tmp_path: Path, data: simulator.DemoData) -> None:
    out = tmp_path / "demo"
    simulator.write(data, out, fmt="csv")
    (out / "README.txt").write_text("keep me")
    simulator.write(data, out, fmt="parquet")
    names = {p.name for p in out.iterdir()}
    assert {f"{t.name}.parquet" for t in schema.TABLES} <= names
    assert not any(n.endswith(".csv") for n in names), "stale csv copies must go"
    assert "README.txt" in names
    assert [p.name for p in tmp_path.iterdir()] == ["demo"], "no temporary directory may be left behind"
    for table in schema.TABLES:
        back = pd.read_parquet(out / f"{table.name}.parquet")
        assert list(back.columns) == list(data.tables[table.name].columns)
        pd.testing.assert_frame_equal(_seconds(back), _seconds(data.tables[table.name]))
    truth = pd.read_parquet(out / "_truth" / "renewals.parquet")
    pd.testing.assert_frame_equal(_seconds(truth), _seconds(data.truth))


def _seconds(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet has no second-resolution timestamps (they come back as ms): compare at seconds."""
    return frame.astype({c: "datetime64[s]" for c in frame.columns if frame[c].dtype.kind == "M"})


# --------------------------------------------------------------------------- the data contract


@pytest.mark.parametrize("table", schema.TABLES, ids=lambda t: t.name)
def test_table_meets_the_contract(data: simulator.DemoData, table: schema.Table) -> None:
    frame = data.tables[table.name]
    assert list(frame.columns) == [c.name for c in table.columns]
    assert len(frame) > 0
    account_ids = set(data.tables["accounts"]["account_id"])
    for col in table.columns:
        values = frame[col.name]
        present = values.dropna()
        where = f"{table.name}.{col.name}"
        if not col.nullable:
            assert values.notna().all(), f"{where} has empty values"
        if col.kind in ("date", "day"):
            assert pd.api.types.is_datetime64_any_dtype(values), where
            if col.kind == "day":
                assert (values == values.dt.floor("D")).all(), f"{where} has times of day"
        elif col.kind in ("number", "integer"):
            assert pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values), where
        elif col.kind == "bool":
            assert pd.api.types.is_bool_dtype(values), where
        else:
            assert pd.api.types.is_string_dtype(values), where
        if col.unique:
            assert values.is_unique, where
        if col.minimum is not None:
            assert (present >= col.minimum).all(), where
        if col.maximum is not None:
            assert (present <= col.maximum).all(), where
        if col.below is not None:
            assert (present < col.below).all(), where
        if col.choices:
            assert set(present) <= set(col.choices), where
        if col.references_accounts:
            assert set(present) <= account_ids, where
    if table.unique_together:
        assert not frame.duplicated(list(table.unique_together)).any()


def test_cross_column_rules(data: simulator.DemoData) -> None:
    contracts = data.tables["contracts"]
    assert (contracts["end_date"] > contracts["start_date"]).all()
    tickets = data.tables["support_tickets"]
    closed = tickets.dropna(subset=["closed_at"])
    assert (closed["closed_at"] >= closed["opened_at"]).all()
    assert tickets.loc[tickets["closed_at"].isna(), "csat"].isna().all(), "CSAT only once closed"
    invoices = data.tables["invoices"]
    assert ((invoices["status"] == "paid") == invoices["paid_at"].notna()).all()
    assert (invoices["paid_at"].dropna() <= END).all()
    assert (data.tables["accounts"]["created_at"] <= END).all()


@pytest.mark.parametrize(("table", "column"), sorted(DATE_COLUMNS_IN_WINDOW.items()))
def test_activity_lies_in_the_window(data: simulator.DemoData, table: str, column: str) -> None:
    dates = data.tables[table][column]
    assert dates.min() >= START
    assert dates.max() < END + pd.Timedelta(days=1)


def test_activity_only_while_a_customer(data: simulator.DemoData) -> None:
    """No usage on a day when no contract covers the account (renewal gaps of <= 30 days aside)."""
    contracts = data.tables["contracts"]
    usage = data.tables["usage"]
    days = usage[["account_id", "date"]].drop_duplicates()
    joined = days.merge(contracts[["account_id", "start_date", "end_date"]], on="account_id")
    covered = (joined["date"] >= joined["start_date"]) & (joined["date"] < joined["end_date"] + pd.Timedelta(days=30))
    per_day = covered.groupby([joined["account_id"], joined["date"]]).any()
    assert per_day.all()


# --------------------------------------------------------------------------- ground truth


def test_truth_has_one_row_per_decided_contract(data: simulator.DemoData) -> None:
    truth, contracts = data.truth, data.tables["contracts"]
    assert list(truth.columns) == [
        "contract_id",
        "account_id",
        "renewal_date",
        "true_renewal_probability",
        "renewed",
        "primary_driver",
        "causes",
    ]
    assert truth["contract_id"].is_unique
    decided = contracts[contracts["end_date"] <= END]
    assert set(truth["contract_id"]) == set(decided["contract_id"])
    merged = truth.merge(contracts, on=["contract_id", "account_id"])
    assert (merged["renewal_date"] == merged["end_date"]).all()
    assert truth["true_renewal_probability"].between(0, 1, inclusive="right").all()
    assert truth["renewed"].dtype == bool


def test_truth_matches_the_contract_history(data: simulator.DemoData) -> None:
    """Renewed iff the account has a contract starting after this one's start, at most 30 days
    after its end date, and ending after it (a win-back months later is not a renewal)."""
    truth, contracts = data.truth, data.tables["contracts"]
    own = contracts[["contract_id", "account_id", "start_date", "end_date"]]
    pairs = own.merge(own, on="account_id", suffixes=("", "_next"))
    follows = (
        (pairs["start_date_next"] > pairs["start_date"])
        & (pairs["start_date_next"] <= pairs["end_date"] + pd.Timedelta(days=30))
        & (pairs["end_date_next"] > pairs["end_date"])
    )
    has_successor = follows.groupby(pairs["contract_id"]).any()
    assert (truth["renewed"].to_numpy() == has_successor.loc[truth["contract_id"]].to_numpy()).all()


def test_truth_drivers_are_consistent(data: simulator.DemoData) -> None:
    truth = data.truth
    assert set(truth["primary_driver"]) <= set(simulator.DRIVERS)
    group = dict(zip(simulator.CAUSES, simulator.CAUSE_GROUP, strict=True))
    for causes, driver, renewed in truth[["causes", "primary_driver", "renewed"]].itertuples(index=False):
        listed = [c for c in causes.split(";") if c]
        assert set(listed) <= set(simulator.CAUSES)
        if driver == "none":
            assert renewed and not listed
        else:
            assert driver in {group[c] for c in listed}
    churned = truth[~truth["renewed"]]
    assert (churned["primary_driver"] != "none").all()
    assert churned["primary_driver"].nunique() >= 4, "churn must not have a single driver"
    # Contracts with no active cause renew with probability close to 1 - unobservable risk.
    assert truth.loc[truth["causes"] == "", "true_renewal_probability"].min() > 0.9


def test_some_winbacks_are_not_renewals(data: simulator.DemoData) -> None:
    """Late returns exist in the world, and the truth never counts them as renewals."""
    big = simulator.generate(800, YEARS, seed=5)
    contracts = big.tables["contracts"].sort_values(["account_id", "start_date"])
    gap = contracts.groupby("account_id")["start_date"].shift(-1) - contracts["end_date"]
    late = contracts.loc[gap > pd.Timedelta(days=60), "contract_id"]
    assert len(late) > 0
    assert not big.truth.set_index("contract_id").loc[late, "renewed"].any()


# --------------------------------------------------------------------------- realism


def test_segment_mix(data: simulator.DemoData) -> None:
    share = data.tables["accounts"]["segment"].value_counts(normalize=True)
    assert abs(share["smb"] - 0.55) < 0.08
    assert abs(share["mid_market"] - 0.32) < 0.08
    assert abs(share["enterprise"] - 0.13) < 0.06


def test_monthly_contracts_only_in_smb(contracts_with_segment: pd.DataFrame) -> None:
    monthly = contracts_with_segment[contracts_with_segment["term_days"] <= 31]
    assert len(monthly) > 0
    assert (monthly["segment"] == "smb").all()
    assert set(contracts_with_segment["term_days"]) <= set(range(28, 32)) | set(range(365, 367)) | set(
        range(730, 732)
    ) | set(range(1095, 1098))


def test_weekends_and_holidays_are_quiet(data: simulator.DemoData) -> None:
    usage = data.tables["usage"]
    active = usage[usage["metric"] == schema.ACTIVE_USERS_METRIC]
    per_day = active.groupby("date")["value"].sum()
    weekend = per_day.index.day_of_week >= 5
    assert per_day[weekend].mean() < 0.3 * per_day[~weekend].mean()
    christmas = per_day[(per_day.index.month == 12) & (per_day.index.day == 25)]
    assert christmas.max() < 0.5 * per_day[~weekend].median()


def test_usage_metrics(data: simulator.DemoData) -> None:
    usage = data.tables["usage"]
    assert (usage["value"] > 0).all()
    assert set(usage["metric"]) == set(simulator.METRICS)
    modules = usage[usage["metric"].str.startswith(schema.MODULE_METRIC_PREFIX)]
    breadth = modules.groupby("account_id")["metric"].nunique()
    assert (breadth <= 2).mean() > 0.05, "some accounts use only one or two modules"
    assert breadth.median() >= 3


def test_not_every_account_talks_to_us(data: simulator.DemoData) -> None:
    accounts = set(data.tables["accounts"]["account_id"])
    with_nps = set(data.tables["nps"]["account_id"])
    with_tickets = set(data.tables["support_tickets"]["account_id"])
    assert 0.2 < 1 - len(with_nps) / len(accounts) < 0.7
    assert 0.15 < 1 - len(with_tickets) / len(accounts) < 0.6


def test_accounts_keep_joining(data: simulator.DemoData) -> None:
    created = data.tables["accounts"]["created_at"]
    new = created >= START
    assert 0.3 < new.mean() < 0.6
    assert created[new].max() > END - pd.Timedelta(days=120), "new accounts join until the end"
    assert (created < START - pd.DateOffset(years=2)).any(), "some accounts are old"


def test_live_accounts_have_contracts_beyond_the_window(data: simulator.DemoData) -> None:
    contracts = data.tables["contracts"]
    assert (contracts["end_date"] > END).sum() > 0.5 * N_ACCOUNTS


def test_churn_is_higher_for_smb_than_enterprise(
    contracts_with_segment: pd.DataFrame, data: simulator.DemoData
) -> None:
    """Logo churn per customer-year, so monthly and multi-year terms compare fairly."""
    c = contracts_with_segment
    exposure = (c["end_date"].clip(upper=END) - c["start_date"].clip(lower=START)).dt.days.clip(lower=0) / 365
    years = exposure.groupby(c["segment"]).sum()
    churned = data.truth[~data.truth["renewed"]].merge(c[["contract_id", "segment"]], on="contract_id")
    rate = churned.groupby("segment").size().reindex(years.index, fill_value=0) / years
    assert rate["smb"] > rate["enterprise"]
    assert 0.08 < rate["smb"] < 0.35


def test_invoices_follow_billing_rules(data: simulator.DemoData) -> None:
    invoices = data.tables["invoices"]
    assert (invoices["due_date"] <= END).all()
    assert (invoices["status"] == "paid").mean() > 0.9
    assert {"failed", "overdue"} & set(invoices["status"])
    late = (invoices["paid_at"] - invoices["due_date"]).dt.days
    assert (late.dropna() <= 0).mean() > 0.6, "most invoices are paid on time"


def test_ticket_mix(data: simulator.DemoData) -> None:
    tickets = data.tables["support_tickets"]
    share = tickets["priority"].value_counts(normalize=True)
    assert share["normal"] > share["low"] > share["high"] > share["urgent"]
    assert 0.45 < tickets["csat"].notna().mean() < 0.8
    assert tickets["escalated"].mean() < 0.1
    hours = tickets["opened_at"].dt.hour
    assert hours.between(7, 19).mean() > 0.9, "tickets are opened in business hours"


@pytest.mark.slow
def test_a_world_whose_draws_repeat_an_event_on_one_day_still_loads(tmp_path: Path) -> None:
    """Seed 4 at 1,500 accounts over 4 years draws two champion departures of one account on one day."""
    from features.load import load_tables

    simulator.write(simulator.generate(1500, years=4, seed=4), tmp_path)
    events = load_tables(tmp_path).relationship_events
    assert not events.duplicated(["account_id", "date", "event"]).any()
