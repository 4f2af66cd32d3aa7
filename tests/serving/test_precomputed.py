"""Answers precomputed when the store is written: read back per account, equal to computing them, for one model only."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3

import pandas as pd
import pytest

from explain.pages import default_as_of
from explain.playbook import Playbook
from explain.reasons import Explainer
from features.build import build_scoring_snapshots
from serving import answers
from serving.runtime import Runtime
from serving.store import SCHEMA_VERSION, SnapshotStore, StoreError, store_from_tables, write_snapshots
from training.bundle import ModelBundle


@pytest.fixture(scope="module")
def world(small_demo, tmp_path_factory):
    """The small demo's model as the service loads it, its current book, and a store written with that model."""
    bundle = ModelBundle.load(small_demo.model)
    as_of = default_as_of(small_demo.tables)
    current = build_scoring_snapshots(small_demo.tables, as_of).frame
    path = tmp_path_factory.mktemp("precomputed") / "snapshots.db"
    store_from_tables(path, small_demo.tables, current, as_of, months=3, explainer=Explainer(bundle, Playbook.load()))
    return dataclasses.make_dataclass("World", ["bundle", "as_of", "current", "path", "model"])(
        bundle, as_of, current, path, small_demo.model
    )


def _no_model_calls(runtime: Runtime, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the model ran for a precomputed account")

    monkeypatch.setattr(runtime.explainer, "explain", refuse)
    monkeypatch.setattr(runtime.bundle, "contributions", refuse)


def _close(value):
    """``value`` with floats to 12 significant digits: numpy sums over a batch of 300 accounts and over one
    differ in the last bit (1e-16), which is not a different answer."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _close(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_close(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _close(dataclasses.asdict(value))
    if hasattr(value, "model_dump"):
        return _close(value.model_dump())
    return value


def _computed_json(runtime: Runtime, account: str) -> dict:
    page = runtime._computed_page(account)
    data = page.explanation.to_dict()
    data["trend"] = [{"as_of": p.as_of.isoformat(), "churn_risk": p.churn_risk} for p in page.trend]
    return data


def test_stored_answers_are_read_without_running_the_model_and_equal_computing_them(world, monkeypatch):
    runtime = Runtime.load(str(world.model), str(world.path))
    accounts = world.current["account_id"].astype("str").tolist()[:5]
    computed = {a: _computed_json(runtime, a) for a in accounts}
    scored = {a: runtime.score_frame(runtime._latest([a]), 3)[0] for a in accounts}
    _no_model_calls(runtime, monkeypatch)
    for account in accounts:
        assert _close(runtime.account_json(account)) == _close(computed[account])
        without_trend = {k: v for k, v in computed[account].items() if k != "trend"}
        assert _close(runtime.account_page(account).explanation.to_dict()) == _close(without_trend)
    results = runtime.score_accounts(accounts, 3)
    assert _close([r.score for r in results]) == _close([scored[a] for a in accounts])
    assert "renewal outlook" in runtime.account_html(accounts[0]).lower()


def test_stored_pages_decode_to_the_records_they_were_written_from(world):
    runtime = Runtime.load(str(world.model), str(world.path))
    account = str(world.current["account_id"].iloc[0])
    computed = runtime._computed_page(account)
    stored = runtime.account_page(account)
    assert _close(stored.explanation) == _close(computed.explanation)
    assert _close(stored.trend) == _close(computed.trend) and stored.series == computed.series


@pytest.mark.parametrize("reasons", [0, 1, 3, 10])
def test_a_stored_score_cut_to_k_reasons_equals_scoring_with_k(world, reasons):
    runtime = Runtime.load(str(world.model), str(world.path))
    accounts = world.current["account_id"].astype("str").tolist()[:20]
    direct = runtime.score_frame(runtime._latest(accounts), reasons)
    assert _close([r.score for r in runtime.score_accounts(accounts, reasons)]) == _close(direct)


def test_records_are_json_keyed_by_model_and_newest_date(world):
    connection = sqlite3.connect(world.path)
    rows = connection.execute("SELECT model, account_id, as_of, score, page FROM records").fetchall()
    connection.close()
    assert len(rows) == world.current["account_id"].nunique()
    keys = {r[0] for r in rows}
    assert keys == {answers.model_key(Explainer(world.bundle, Playbook.load()))}
    assert {r[2] for r in rows} == {world.as_of.date().isoformat()}
    for _, account, _, score, page in rows[:50]:
        assert json.loads(score)["account_id"] == account
        assert json.loads(page)["explanation"]["account_id"] == account


def test_a_service_with_another_model_computes_its_own_answers(world, monkeypatch, tmp_path):
    other = dataclasses.replace(world.bundle, metadata={**world.bundle.metadata, "model_version": "other-model"})
    path = tmp_path / "other.db"
    tables_free = world.current  # the current book alone: enough for scores and a one-date page
    write_snapshots(path, tables_free, explainer=Explainer(other, Playbook.load()))
    runtime = Runtime.load(str(world.model), str(path))
    assert runtime.model_key != answers.model_key(Explainer(other, Playbook.load()))
    account = str(world.current["account_id"].iloc[0])
    result = runtime.score_accounts([account], 3)[0]
    assert result.found and result.score.model_version == runtime.version != "other-model"
    assert runtime.account_json(account)["model_version"] == runtime.version
    _no_model_calls(runtime, monkeypatch)
    with pytest.raises(AssertionError, match="the model ran"):
        runtime.account_json(account)


def test_another_playbook_is_another_key(world, tmp_path):
    custom = tmp_path / "plays.yaml"
    custom.write_text("version: 1\nreplace: true\nplays: []\n")
    assert answers.model_key(Explainer(world.bundle, Playbook.load(custom))) != answers.model_key(
        Explainer(world.bundle, Playbook.load())
    )


def test_writing_an_older_date_keeps_the_newer_dates_record(small_demo, world, tmp_path):
    path = tmp_path / "store.db"
    explainer = Explainer(world.bundle, Playbook.load())
    store_from_tables(path, small_demo.tables, world.current, world.as_of, months=2, explainer=explainer)
    older = world.as_of - pd.Timedelta(days=15)  # between the newer run's two dates: now the previous one
    store_from_tables(
        path, small_demo.tables, build_scoring_snapshots(small_demo.tables, older).frame, older, 2, explainer
    )
    runtime = Runtime.load(str(world.model), str(path))
    in_both = set(build_scoring_snapshots(small_demo.tables, older).frame["account_id"].astype("str"))
    account = next(a for a in world.current["account_id"].astype("str") if a in in_both)
    data = runtime.account_json(account)
    assert data["as_of"] == world.as_of.date().isoformat()
    assert _close(data) == _close(_computed_json(runtime, account)), "the newest record follows the store as it stands"
    assert data["change"]["as_of_then"] == older.date().isoformat()


def test_a_write_without_a_model_drops_the_records_it_would_contradict(world, tmp_path):
    path = tmp_path / "store.db"
    explainer = Explainer(world.bundle, Playbook.load())
    write_snapshots(path, world.current, explainer=explainer)
    account = str(world.current["account_id"].iloc[0])
    changed = world.current[world.current["account_id"] == account].assign(arr=1.0)
    write_snapshots(path, changed)  # e.g. churn build-features --store: new data, no model
    runtime = Runtime.load(str(world.model), str(path))
    assert runtime._page_record(account) is None
    assert runtime.account_json(account)["arr"] == 1.0
    others = world.current["account_id"].astype("str").tolist()[1:3]
    assert all(runtime._page_record(a) is not None for a in others)


def test_a_rebuilt_store_with_other_records_is_served_without_a_restart(small_demo, world, tmp_path):
    path = tmp_path / "store.db"
    explainer = Explainer(world.bundle, Playbook.load())
    write_snapshots(path, world.current, explainer=explainer)
    runtime = Runtime.load(str(world.model), str(path))
    account = str(world.current["account_id"].iloc[0])
    assert runtime.account_json(account)["as_of"] == world.as_of.date().isoformat()
    later = world.current.assign(as_of=world.as_of + pd.Timedelta(days=7), arr=123.0)
    rebuilt = tmp_path / "store.db.new"
    write_snapshots(rebuilt, later, explainer=explainer)
    os.replace(rebuilt, path)
    data = runtime.account_json(account)
    assert data["as_of"] == (world.as_of + pd.Timedelta(days=7)).date().isoformat() and data["arr"] == 123.0
    assert runtime.score_accounts([account], 1)[0].score.as_of == (world.as_of + pd.Timedelta(days=7)).date()


def _version_1_store(path) -> None:
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE snapshots (account_id TEXT NOT NULL, as_of TEXT NOT NULL, contract_id TEXT, renewal_date TEXT,
                                features TEXT NOT NULL, PRIMARY KEY (account_id, as_of));
        CREATE TABLE series (account_id TEXT PRIMARY KEY, as_of TEXT NOT NULL, charts TEXT NOT NULL);
        INSERT INTO snapshots VALUES ('OLD', '2026-10-01', 'C', '2027-01-01', '{"arr": 5.0}');
        PRAGMA application_id = 1381126995;
        PRAGMA user_version = 1;
        """
    )
    connection.close()


def test_a_version_1_store_is_refused_by_the_service_and_upgraded_by_a_write(world, tmp_path):
    path = tmp_path / "v1.db"
    _version_1_store(path)
    with pytest.raises(StoreError, match=r"older layout \(schema version 1.*upgrades it in place"):
        SnapshotStore(path)
    write_snapshots(path, world.current.head(3), explainer=Explainer(world.bundle, Playbook.load()))
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    connection.close()
    store = SnapshotStore(path)
    assert list(store.latest(["OLD"])["arr"]) == [5.0] and store.latest(["OLD"])["name"].isna().all()
    runtime = Runtime.load(str(world.model), str(path))
    assert runtime._page_record("OLD") is None and runtime.score_accounts(["OLD"], 1)[0].found


def test_churn_score_store_precomputes_for_the_model_it_scored_with(small_demo, world, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from churn.cli import app

    store, as_of = tmp_path / "s.db", world.as_of.date().isoformat()
    args = ["score", "--data", str(small_demo.data), "--model-uri", str(small_demo.model), "--as-of", as_of]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "s.csv"), "--store", str(store)])
    assert result.exit_code == 0, result.output
    runtime = Runtime.load(str(world.model), str(store))
    account = str(world.current["account_id"].iloc[0])
    expected = _computed_json(runtime, account)
    _no_model_calls(runtime, monkeypatch)
    assert _close(runtime.account_json(account)) == _close(expected)
    assert runtime.score_accounts([account], 2)[0].score.as_of == world.as_of.date()
