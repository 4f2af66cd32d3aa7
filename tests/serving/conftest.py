"""A model and snapshot store from the small demo world, the service built on them, and real servers."""

from __future__ import annotations

import dataclasses
import importlib
import os
from types import SimpleNamespace

import pytest

from explain.pages import default_as_of
from explain.playbook import Playbook
from explain.reasons import Explainer
from features.build import build_scoring_snapshots
from serving.store import store_from_tables
from tests.serving.local_server import start_server, stop_server
from training.bundle import ModelBundle

TOKEN = "test-token-3f9a"
# customer text that must reach pages and JSON as text: HTML, and rich markup that breaks a console
EVIL_NAMES = ("<script>alert(1)</script>", "Enterprise [EMEA] [/bold]")
ODD_SEGMENT = "Enterprise "  # a segment the model never saw (case and a trailing space)


@pytest.fixture(scope="session")
def served(small_demo, tmp_path_factory):
    """Environment for the service: the small demo's model folder and a store of its current book, written with
    that model (precomputed answers), the first two accounts named with markup, the last one in an odd segment."""
    as_of = default_as_of(small_demo.tables)
    current = build_scoring_snapshots(small_demo.tables, as_of).frame
    named = [str(a) for a in current["account_id"].iloc[:2]]
    accounts = small_demo.tables.accounts.copy()
    accounts["name"] = accounts["name"].astype("object")
    for account, name in zip(named, EVIL_NAMES, strict=True):
        accounts.loc[accounts["account_id"] == account, "name"] = name
    tables = dataclasses.replace(small_demo.tables, accounts=accounts)
    odd = str(current["account_id"].iloc[-1])
    if "segment" in current.columns:
        current = current.copy()
        current.loc[current.index[-1], "segment"] = ODD_SEGMENT
    store = tmp_path_factory.mktemp("store") / "snapshots.db"
    explainer = Explainer(ModelBundle.load(small_demo.model), Playbook.load())
    store_from_tables(store, tables, current, as_of, months=3, explainer=explainer)
    env = {"CHURN_MODEL_URI": str(small_demo.model), "CHURN_SNAPSHOT_STORE": str(store)}
    return SimpleNamespace(
        env=env,
        store=store,
        as_of=as_of,
        current=current,
        bundle=small_demo.bundle,
        named=dict(zip(named, EVIL_NAMES, strict=True)),
        odd=odd,
    )


@pytest.fixture(scope="session")
def service(served):
    """The service module, imported with the environment pointing at the small demo."""
    os.environ.update(served.env)
    return importlib.import_module("serving.service")


@pytest.fixture(scope="session")
def asgi_app(service):
    """The service's ASGI app, built once (BentoML registers its Prometheus metrics when building it)."""
    return service.RenewalRisk.to_asgi()


def _client(asgi_app, monkeypatch, token: str | None):
    from starlette.testclient import TestClient

    if token:
        monkeypatch.setenv("CHURN_API_TOKEN", token)
    else:
        monkeypatch.delenv("CHURN_API_TOKEN", raising=False)
    return TestClient(asgi_app, raise_server_exceptions=False)


@pytest.fixture
def client(asgi_app, monkeypatch):
    with _client(asgi_app, monkeypatch, None) as c:
        yield c


@pytest.fixture
def client_with_token(asgi_app, monkeypatch):
    with _client(asgi_app, monkeypatch, TOKEN) as c:
        yield c


@pytest.fixture(scope="session")
def server(served, tmp_path_factory):
    """A real server with the token off."""
    base, process = start_server(served.env, None, tmp_path_factory.mktemp("logs") / "open.log")
    yield base
    stop_server(process)


@pytest.fixture(scope="session")
def secured_server(served, tmp_path_factory):
    """A real server with CHURN_API_TOKEN set; yields (base url, log file)."""
    log = tmp_path_factory.mktemp("logs") / "secured.log"
    base, process = start_server(served.env, TOKEN, log)
    yield base, log
    stop_server(process)
