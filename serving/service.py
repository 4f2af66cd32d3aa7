"""The risk-score API: a BentoML service for CRM jobs and the pages CSMs open from the CRM.

    bentoml serve serving.service:RenewalRisk --port 3000      (or: churn serve, make serve)

Configuration by environment: ``CHURN_MODEL_URI`` (default ``models:/renewal-risk@champion``
from the MLflow store in ``MLFLOW_TRACKING_URI`` or ./mlflow.db; a model folder works too),
``CHURN_SNAPSHOT_STORE`` (default out/snapshots.db), ``CHURN_MONITOR_REPORT`` (default
out/monitor.json, the last ``churn monitor`` report), ``CHURN_API_TOKEN`` (when set, every
endpoint but /healthz and /readyz needs ``Authorization: Bearer <token>``), ``CHURN_PLAYBOOK``.

The model is loaded once, when the module is imported: a model that cannot be loaded stops
the server before it serves anything, with a message naming the URI. The request schema is
built from the served model's catalog (``serving/schemas.py``).

Endpoints: ``POST /score`` (feature payloads), ``POST /score_accounts`` (ids from the snapshot
store) are BentoML APIs; ``GET /accounts/{id}``, ``/accounts/{id}/page``, ``/portfolio/page``, ``/model`` and
``/monitoring`` are FastAPI routes mounted on the same service (BentoML APIs cannot take path
parameters); ``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus, behind the token) are BentoML's own.
Every request passes ``serving/edge.py``: token, 413/415 limits, problem+json errors, X-Request-ID
and the request log; metrics are labelled by route template.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import aiohttp
import anyio
import bentoml
import pydantic
from fastapi import FastAPI, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

import settings
from explain.pages import UnknownAccountError
from serving import edge
from serving.monitoring import MonitorReport
from serving.runtime import ModelLoadError, Runtime
from serving.schemas import (
    MAX_BATCH,
    AccountDetail,
    AccountScore,
    ModelInfo,
    Problem,
    ScoreAccountsRequest,
    ScoreAccountsResponse,
    ScoreResponse,
    account_features_model,
    score_request_model,
)
from serving.store import StoreError

log = logging.getLogger("renewal_risk")
edge.install()  # BentoML's traffic metrics by route template, never by raw path
edge.own_prometheus_directory()  # this instance's own Prometheus multiprocess directory


class _NoClientErrorTracebacks(logging.Filter):
    """BentoML logs every rejected request with its pydantic error, which quotes the input: account data.
    A client's mistake is answered with a 4xx naming the field; it has no place in the server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, pydantic.ValidationError):
            return False
        client_error = isinstance(error, bentoml.exceptions.BentoMLException) and int(error.error_code) < 500
        return not client_error


logging.getLogger("bentoml._internal.server.http_app").addFilter(_NoClientErrorTracebacks())
logging.getLogger("bentoml.access").addFilter(lambda record: False)

try:
    RUNTIME = Runtime.from_environment()
except ModelLoadError as error:
    print(f"renewal-risk service: {error}", file=sys.stderr)
    raise SystemExit(2) from None

MONITORING = MonitorReport()
AccountFeatures = account_features_model(RUNTIME.bundle.catalog, categories=RUNTIME.bundle.schema.categories)
ScoreRequest = score_request_model(AccountFeatures, MAX_BATCH)

web = FastAPI(
    title="Renewal risk",
    description="Account pages, the portfolio page and model facts. Scores: POST /score, POST /score_accounts.",
    version="1",
    docs_url=None,  # FastAPI's Swagger and ReDoc pages load from a CDN; the docs page is "/" (serving/edge.py)
    redoc_url=None,
)
AccountIdPath = Annotated[str, PathParam(min_length=1, max_length=128, description="Account id.")]
NOT_FOUND = {404: {"model": Problem, "description": "The account is not in the snapshot store."}}


SMALL_BATCH = 32  # requests with fewer accounts go through adaptive batching; larger ones are batches already


@bentoml.service(
    name="renewal_risk_scorer",
    workers=1,
    traffic={"timeout": 60, "max_concurrency": 256},
    logging={"access": {"enabled": False}},
    # BentoML's client replaces its HTTP session to this service every `max_requests` calls
    # (default 100) and closes the old one even while concurrent calls still use it, which
    # fails them. Replace it only hourly; `RenewalRisk._batched` retries the rare casualty.
    runner_connection={"max_requests": 1_000_000_000, "max_age": 3600.0},
)
class Scorer:
    """Scores small requests in adaptive batches: BentoML merges concurrent calls into one model pass.

    A single-account request costs mostly fixed per-call work (building a frame, one
    ``pred_contrib`` call, finding the top reasons); sixteen of them merged cost little more
    than one. No ``max_latency_ms`` below the default: a low one makes BentoML answer 503
    under load, and no request may be rejected as overloaded.
    """

    def __init__(self) -> None:
        self.runtime = RUNTIME

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH)
    def explain_rows(self, rows: list[dict]) -> list[dict]:
        """Rows are feature payloads carrying their own ``_reasons``; merged rows keep their own count."""
        wanted = [int(row.get("_reasons", 3)) for row in rows]
        payloads = [{k: v for k, v in row.items() if k != "_reasons"} for row in rows]
        scores = self.runtime.score_payloads(payloads, max(wanted, default=0))
        return [
            score.model_copy(update={"reasons": score.reasons[:n]}).model_dump(mode="json")
            for score, n in zip(scores, wanted, strict=True)
        ]


@bentoml.service(
    name="renewal_risk",
    workers=settings.current().service_workers,
    traffic={"timeout": 60, "max_concurrency": 64},
    logging={"access": {"enabled": False}},  # paths carry account ids; the auth middleware logs without them
)
@bentoml.asgi_app(web, path="/")
class RenewalRisk:
    """One model bundle, loaded once per worker, serving scores, explanations and pages."""

    scorer = bentoml.depends(Scorer)

    def __init__(self) -> None:
        self.runtime = RUNTIME
        self.monitoring = MONITORING
        self.monitoring.current()  # the gauges hold the last report from the start
        log.info("serving model %s (version %s)", RUNTIME.model_uri, RUNTIME.version)

    def __is_ready__(self) -> bool:
        """``/readyz``: the model is loaded and the snapshot store (if any) passes its check.

        Probes come every few seconds, so this is also where a new monitoring report reaches the gauges."""
        MONITORING.current()
        return self.runtime.ready()

    @bentoml.api(route="/score", input_spec=ScoreRequest, output_spec=ScoreResponse)
    async def score(self, accounts: list, reasons: int = 3) -> ScoreResponse:
        """Score 1 to 1,000 feature payloads; every feature is optional (missing means unknown).

        A categorical value the model never saw in training is scored as unknown and named in
        that result's ``warnings`` (with the known values): flagged, not refused.

        A large request is a batch already and is scored here at once; small ones go to the
        ``Scorer`` so that concurrent callers share model passes (adaptive batching).
        """
        payloads = [dict(a.__dict__) if hasattr(a, "__dict__") else dict(a) for a in accounts]  # validated already
        if len(payloads) >= SMALL_BATCH:
            results = await anyio.to_thread.run_sync(RUNTIME.score_payloads, payloads, reasons)
        else:
            results = await self._batched(payloads, reasons)
        return ScoreResponse(model_version=RUNTIME.version, results=results)

    async def _batched(self, payloads: list[dict], reasons: int) -> list[AccountScore]:
        """Through the batching ``Scorer``; retried, then scored here, if BentoML's internal client fails.

        BentoML 1.4's client between services can fail a call when it replaces its session
        (see ``Scorer``) or when a pooled connection drops (its issues #4971 and #5544), which
        would surface as a 500. A caller must never see that: after two failed attempts the
        request is scored in this process, as a large one is.
        """
        rows = [{**p, "_reasons": reasons} for p in payloads]
        for attempt in (1, 2):
            try:
                return [AccountScore.model_validate(r) for r in await self.scorer.to_async.explain_rows(rows)]
            except (aiohttp.ClientError, RuntimeError) as error:
                log.warning("batched scoring failed on attempt %d: %s", attempt, type(error).__name__)
        return await anyio.to_thread.run_sync(RUNTIME.score_payloads, payloads, reasons)

    @bentoml.api(route="/score_accounts", input_spec=ScoreAccountsRequest, output_spec=ScoreAccountsResponse)
    def score_accounts(self, account_ids: list[str], reasons: int = 3) -> ScoreAccountsResponse:
        """Score accounts from the snapshot store by id; unknown ids are reported per item.

        Read from the scores ``churn score --store`` precomputed for this model; computed only
        for accounts the store has none for."""
        try:
            results = RUNTIME.score_accounts(account_ids, reasons)
        except StoreError as error:
            raise bentoml.exceptions.NotFound(str(error)) from None
        return ScoreAccountsResponse(model_version=RUNTIME.version, results=results)

    @web.get(
        "/accounts/{account_id}", response_model=AccountDetail, responses=NOT_FOUND, summary="An account's explanation"
    )
    def account(self, account_id: AccountIdPath) -> dict:
        """Reasons, protective factors, plays, risk trend and the change since the previous snapshot."""
        return _or_404(lambda: RUNTIME.account_json(account_id))

    @web.get("/accounts/{account_id}/page", response_class=HTMLResponse, responses=NOT_FOUND, summary="Account page")
    def account_page(self, account_id: AccountIdPath) -> HTMLResponse:
        return HTMLResponse(_or_404(lambda: RUNTIME.account_html(account_id)))

    @web.get("/portfolio/page", response_class=HTMLResponse, responses=NOT_FOUND, summary="Portfolio page")
    def portfolio_page(self) -> HTMLResponse:
        return HTMLResponse(_or_404(RUNTIME.portfolio_html))

    @web.get("/favicon.ico", include_in_schema=False)
    def favicon(self) -> Response:
        """Browsers ask for it when a page is opened; no icon, and no 404 in their console."""
        return Response(status_code=204)

    @web.get("/model", response_model=ModelInfo, summary="The served model")
    def model(self) -> ModelInfo:
        return RUNTIME.model_info()

    @web.get("/monitoring", responses=NOT_FOUND, summary="The last monitoring report")
    def monitoring_report(self) -> dict:
        """The report the last ``churn monitor`` wrote ($CHURN_MONITOR_REPORT): verdict, reasons, drift per
        feature, estimated and realized performance."""
        report = self.monitoring.current()
        if report is None:
            detail = f"No monitoring report at {self.monitoring.path}: run `churn monitor --data DIR --out PATH`."
            raise HTTPException(status_code=404, detail=detail)
        return report


def _or_404(build):
    try:
        return build()
    except (UnknownAccountError, StoreError) as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


edge.ROUTES.add([api.route for service in (RenewalRisk, Scorer) for api in service.apis.values()])
# FastAPI's routes, as declared above (a test checks every documented path is its own template)
edge.ROUTES.add(
    [
        "/accounts/{account_id}",
        "/accounts/{account_id}/page",
        "/portfolio/page",
        "/model",
        "/monitoring",
        "/favicon.ico",
    ]
)
edge.ROUTES.add(["/docs", "/openapi.json", "/redoc"])
RenewalRisk.add_asgi_middleware(edge.EdgeMiddleware, problem_schema=Problem.model_json_schema())
