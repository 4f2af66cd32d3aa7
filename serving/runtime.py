"""What the service does, without the web: load the model once, score payloads and stored accounts, build pages.

The BentoML service (``serving/service.py``) is a thin shell around one ``Runtime``; tests and
the load benchmark call the same object in-process. Scoring and explanations come from the
same functions the CLI uses (``explain.reasons.Explainer``, ``explain.pages``, through
``serving.answers``), so an account gets the same score and the same sentences from `churn
explain` and from the API. Stored accounts are answered from the records ``churn score --store``
precomputed for this model (same ``model_key``); an account without one is computed per request.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import settings
from explain.pages import (
    PORTFOLIO_HORIZON_DAYS,
    UnknownAccountError,
    portfolio_rows,
    riskiest_arr_of_book,
)
from explain.playbook import Playbook
from explain.reasons import Explainer
from explain.records import AccountPage, Portfolio
from explain.report import render_account_page, render_portfolio_page
from explain.sentences import NOT_SENT_COLUMN
from serving import answers
from serving.schemas import AccountResult, AccountScore, FeatureInfo, ModelInfo
from serving.store import SnapshotStore, StoreError
from training.bundle import ModelBundle

MODEL_ENV, STORE_ENV = settings.variable("model_uri"), settings.variable("snapshot_store")
_STORE_OPENING = threading.Lock()


class ModelLoadError(RuntimeError):
    """The service cannot start: the model named by the URI cannot be loaded."""


@dataclass
class Runtime:
    bundle: ModelBundle
    explainer: Explainer
    model_uri: str
    store: SnapshotStore | None
    store_path: Path | None = None  # where the store is expected; one that appears after the start is opened then

    @classmethod
    def load(
        cls,
        model_uri: str,
        store_path: str | None = None,
        playbook: str | Path | None = None,
        tracking_uri: str | None = None,
    ) -> Runtime:
        """Load model, playbook and store; a model that cannot be loaded stops the start, naming the URI."""
        from training.loading import load_bundle

        try:
            bundle = load_bundle(model_uri, tracking_uri)
        except Exception as error:  # any failure to load means: do not serve
            raise ModelLoadError(
                f"cannot load the model {model_uri!r} ({type(error).__name__}: {error}). "
                f"Set {MODEL_ENV} to a registry URI (models:/renewal-risk@champion) or a model folder, "
                "or train one with `churn train`."
            ) from None
        store = None
        if store_path and Path(store_path).exists():
            try:  # read-only; PRAGMA quick_check and the schema version, so a damaged store stops the start
                store = SnapshotStore(store_path)
            except (StoreError, sqlite3.Error) as error:
                raise ModelLoadError(f"cannot open the snapshot store {store_path!r}: {error}") from None
        explainer = Explainer(bundle, Playbook.load(playbook))
        answers.model_key(explainer)  # the fingerprint of the stored records it may read, once, before any request
        return cls(bundle, explainer, model_uri, store, Path(store_path) if store_path else None)

    @classmethod
    def from_environment(cls) -> Runtime:
        """The service's runtime as the environment configures it (``settings``); a bad value stops the start."""
        config = settings.current()
        return cls.load(config.model_uri, str(config.snapshot_store), config.playbook)

    @property
    def version(self) -> str:
        return self.bundle.version_label

    @property
    def model_key(self) -> str:
        """Which precomputed records in the store are this model's (``serving.answers.model_key``)."""
        return answers.model_key(self.explainer)

    # scoring ----------------------------------------------------------------------------------

    def score_frame(self, frame: pd.DataFrame, reasons: int) -> list[AccountScore]:
        """Scores with the top ``reasons`` risk reasons for snapshot rows, in row order."""
        return answers.score_frame(self.explainer, frame, reasons)

    def score_payloads(self, payloads: Sequence[dict], reasons: int) -> list[AccountScore]:
        """Scores for feature payloads (``POST /score``): a missing feature is unknown, never zero."""
        names = self.bundle.schema.names
        frame = pd.DataFrame.from_records(list(payloads))
        for name in names:
            if name not in frame.columns:
                frame[name] = None
        # what the caller did not send is "not provided", never "no events" (explain/sentences.py)
        frame[NOT_SENT_COLUMN] = [tuple(n for n in names if p.get(n) is None) for p in payloads]
        scores = self.score_frame(frame, reasons)
        return [s.model_copy(update={"as_of": None}) for s in scores]

    def score_accounts(self, account_ids: Sequence[str], reasons: int) -> list[AccountResult]:
        """Scores for stored accounts (``POST /score_accounts``); unknown ids are reported, not fatal.

        Each account's precomputed score for this model is read from the store; only accounts
        without one (another model wrote the store, or none did) are scored, in one batch."""
        ids = list(dict.fromkeys(account_ids))
        stored = self._require_store().score_records(self.model_key, ids)
        known = {a: answers.stored_score(record, reasons) for a, (_, record) in stored.items() if record is not None}
        missing = [a for a in stored if a not in known]
        if missing:
            frame = self._latest(missing)
            known.update(zip(frame["account_id"], self.score_frame(frame, reasons), strict=True))
        return [
            AccountResult(account_id=a, name=stored[a][0], found=True, score=known[a])
            if a in known
            else AccountResult(account_id=a, found=False, error="not in the snapshot store")
            for a in account_ids
        ]

    # accounts and pages -----------------------------------------------------------------------

    def _require_store(self) -> SnapshotStore:
        if self.store is None and self.store_path is not None and self.store_path.exists():
            with _STORE_OPENING:
                if self.store is None:
                    self.store = SnapshotStore(self.store_path)  # written after the start; checked like at start
        if self.store is None:
            raise StoreError(
                f"no snapshot store: write one with `churn score --data DIR --as-of DATE --store PATH` "
                f"and point {STORE_ENV} at it"
            )
        return self.store

    def readiness(self) -> str | None:
        """Why the service is not ready, or None: the model is loaded and the snapshot store, when
        there is one, passes its check (``PRAGMA quick_check``, schema version; re-run whenever the
        file changes, and a store rebuilt and renamed into place is picked up first)."""
        if self.bundle is None:
            return "no model loaded"
        if self.store is None and (self.store_path is None or not self.store_path.exists()):
            return None  # no store: /score works, the store endpoints say there is none
        try:
            self._require_store().check()
        except StoreError as error:
            return str(error)
        return None

    def ready(self) -> bool:
        """For ``/readyz`` (BentoML's ``__is_ready__``): False while the store is damaged or not a store."""
        return self.readiness() is None

    def _latest(self, account_ids: Sequence[str]) -> pd.DataFrame:
        return self._require_store().latest(list(dict.fromkeys(account_ids)))

    def _page_record(self, account_id: str) -> str | None:
        return self._require_store().page_records(self.model_key, [account_id]).get(account_id)

    def _computed_page(self, account_id: str) -> AccountPage:
        """The page computed now from the stored snapshots: for an account without a record for this model."""
        store = self._require_store()
        history = store.history([account_id], limit=answers.HISTORY_DATES)
        if history.empty:
            raise UnknownAccountError(f"account {account_id!r} is not in the snapshot store")
        return answers.newest_pages(self.explainer, history, store.series([account_id]))[account_id]

    def account_page(self, account_id: str) -> AccountPage:
        """The full account page record for one stored account (explanation, trend, change, charts)."""
        record = self._page_record(account_id)
        if record is None:
            return self._computed_page(account_id)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        series = self._require_store().series([account_id]).get(account_id, [])
        return answers.page_from_json(record, series, self.explainer.bands, stamp)

    def account_json(self, account_id: str) -> dict:
        """``GET /accounts/{id}``: the stored record as it is when there is one, else computed."""
        record = self._page_record(account_id)
        if record is not None:
            return answers.account_json(record)
        page = self._computed_page(account_id)
        data = page.explanation.to_dict()
        data["trend"] = [{"as_of": p.as_of.isoformat(), "churn_risk": p.churn_risk} for p in page.trend]
        return data

    def account_html(self, account_id: str) -> str:
        return render_account_page(self.account_page(account_id))

    def portfolio(self, horizon_days: int = PORTFOLIO_HORIZON_DAYS, top: int = 500) -> Portfolio:
        """Stored accounts renewing within ``horizon_days`` of the latest snapshot date, riskiest ARR first."""
        store = self._require_store()
        as_of = store.latest_date()
        accounts = store.renewing(as_of, horizon_days) if as_of is not None else []
        rows, totals = [], None
        if accounts:
            chosen, totals = riskiest_arr_of_book(self.explainer, store.latest(accounts), top)
            stored = store.page_records(self.model_key, chosen)
            pages = {a: answers.page_from_json(r, [], self.explainer.bands, "") for a, r in stored.items()}
            missing = [a for a in chosen if a not in pages]
            if missing:
                pages.update(answers.newest_pages(self.explainer, store.history(missing, limit=answers.HISTORY_DATES)))
            rows = portfolio_rows(pages)
        return Portfolio(
            as_of=(as_of or pd.Timestamp.today()).date(),
            horizon_days=horizon_days,
            model_version=self.version,
            rows=rows,
            bands=self.explainer.bands,
            book=totals,
        )

    def portfolio_html(self) -> str:
        from urllib.parse import quote

        return render_portfolio_page(self.portfolio(), lambda a: f"/accounts/{quote(a, safe='')}/page")

    def model_info(self) -> ModelInfo:
        metadata = self.bundle.metadata
        alias = (
            self.model_uri.split("@", 1)[1] if self.model_uri.startswith("models:/") and "@" in self.model_uri else None
        )
        metrics = {k: float(v) for k, v in (metadata.get("metrics") or {}).items() if k.startswith("test_")}
        return ModelInfo(
            model_uri=self.model_uri,
            model_version=self.version,
            alias=alias,
            trained_at=metadata.get("trained_at"),
            bands=self.explainer.bands,
            metrics=metrics,
            features=[
                FeatureInfo(name=f.name, description=f.description, unit=f.unit, group=f.group, kind=f.kind)
                for f in self.bundle.catalog
            ],
            snapshot_store=str(self.store.path) if self.store else None,
            store_as_of=self.store.latest_date().date()
            if self.store and self.store.latest_date() is not None
            else None,
        )
