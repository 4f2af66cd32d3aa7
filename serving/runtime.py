"""What the service does, without the web: load the model once, score payloads and stored accounts, build pages.

The BentoML service (``serving/service.py``) is a thin shell around one ``Runtime``; tests and
the load benchmark call the same object in-process. Scoring and explanations come from the
same functions the CLI uses (``explain.reasons.Explainer``, ``explain.pages``), so an account
gets the same score and the same sentences from `churn explain` and from the API.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explain.pages import (
    PORTFOLIO_HORIZON_DAYS,
    TREND_MONTHS,
    UnknownAccountError,
    pages_from_snapshots,
    portfolio_rows,
    riskiest_arr_of_book,
)
from explain.playbook import Playbook
from explain.reasons import Explainer
from explain.records import Explanation, Portfolio
from explain.report import render_account_page, render_portfolio_page
from explain.sentences import NOT_SENT_COLUMN
from serving.schemas import AccountResult, AccountScore, FeatureInfo, ModelInfo, Reason
from serving.store import SnapshotStore, StoreError
from training.bundle import ModelBundle
from training.names import DEFAULT_MODEL_URI

DEFAULT_STORE = "out/snapshots.db"
MODEL_ENV, STORE_ENV, TOKEN_ENV = "CHURN_MODEL_URI", "CHURN_SNAPSHOT_STORE", "CHURN_API_TOKEN"
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
    def load(cls, model_uri: str, store_path: str | None = None, playbook: str | None = None) -> Runtime:
        """Load model, playbook and store; a model that cannot be loaded stops the start, naming the URI."""
        from training import track

        try:
            track.configure(None)
            bundle = track.load_bundle(model_uri)
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
        return cls(bundle, explainer, model_uri, store, Path(store_path) if store_path else None)

    @classmethod
    def from_environment(cls) -> Runtime:
        return cls.load(
            os.environ.get(MODEL_ENV, DEFAULT_MODEL_URI),
            os.environ.get(STORE_ENV, DEFAULT_STORE),
            os.environ.get("CHURN_PLAYBOOK") or None,
        )

    @property
    def version(self) -> str:
        return self.bundle.version_label

    # scoring ----------------------------------------------------------------------------------

    def score_frame(self, frame: pd.DataFrame, reasons: int) -> list[AccountScore]:
        """Scores with the top ``reasons`` risk reasons for snapshot rows, in row order."""
        explanations = self.explainer.explain(frame, risk_reasons=reasons, protective_reasons=0, warn=False)
        return [self._score(e, reasons) for e in explanations]

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
        """Scores for stored accounts (``POST /score_accounts``); unknown ids are reported, not fatal."""
        frame = self._latest(account_ids)
        known = dict(zip(frame["account_id"], self.score_frame(frame, reasons), strict=True)) if len(frame) else {}
        return [
            AccountResult(account_id=a, found=True, score=known[a])
            if a in known
            else AccountResult(account_id=a, found=False, error="not in the snapshot store")
            for a in account_ids
        ]

    def _score(self, e: Explanation, reasons: int) -> AccountScore:
        return AccountScore(
            account_id=e.account_id,
            renewal_probability=e.renewal_probability,
            churn_risk=e.churn_risk,
            risk_band=e.risk_band,  # type: ignore[arg-type]
            risk_meaning=e.risk_meaning,
            peer_churn_risk=e.peer_churn_risk,
            peer_group=e.peer_group,
            horizon_note=e.horizon_note or None,
            reasons=[
                Reason(**{name: getattr(r, name) for name in Reason.model_fields}) for r in e.risk_drivers[:reasons]
            ],
            model_version=self.version,
            as_of=e.as_of,
        )

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

    def account_page(self, account_id: str):
        """The full account page record for one stored account (explanation, trend, change, charts)."""
        store = self._require_store()
        history = store.history([account_id], limit=TREND_MONTHS)
        if history.empty:
            raise UnknownAccountError(f"account {account_id!r} is not in the snapshot store")
        dates = sorted(history["as_of"].unique())
        then = dates[-2] if len(dates) > 1 else None
        pages = pages_from_snapshots(self.explainer, history, store.series([account_id]), [account_id], dates[-1], then)
        return pages[account_id]

    def account_json(self, account_id: str) -> dict:
        page = self.account_page(account_id)
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
            history = store.history(chosen, limit=TREND_MONTHS)
            pages = pages_from_snapshots(self.explainer, history, {}, chosen, as_of, None)
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
