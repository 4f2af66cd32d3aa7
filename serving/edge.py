"""What every request passes through around the service: route templates, limits, one error shape, one log line.

- **Route templates.** Metrics and the request log name a route by its template
  (``/accounts/{account_id}``), never by the raw path; a path no route matches is
  ``unmatched``, so unknown paths cannot add Prometheus series (``RouteTemplates``).
- **BentoML's traffic metrics** label by ``scope["path"]``; ``RouteLabelledMetrics`` hands them
  the template instead and the real path to the app. BentoML 1.4 has no option for that, so
  ``install()`` puts it in place of ``RunnerTrafficMetricsMiddleware``, which BentoML's app
  factory imports each time it builds an app (a test checks the replacement is in use).
- **A Prometheus directory per instance.** BentoML keeps multiprocess metrics in one directory
  per ``BENTOML_HOME`` and empties it at every start, so a second instance on the host wiped
  the first one's counters. ``own_prometheus_directory()`` gives each ``bentoml serve`` its own
  temporary directory before BentoML creates it (the mechanism BentoML's own pytest plugin uses).
- **Edge checks** (``EdgeMiddleware``): bearer token, 415 for a body that is not JSON, 413 for
  a body over ``CHURN_MAX_BODY_BYTES`` (by Content-Length, and by counting streamed chunks,
  never holding more than the limit), every 4xx and 5xx as ``application/problem+json``
  (RFC 9457), an ``X-Request-ID`` on every response, and one log line per request with time,
  method, route template, status, latency and request id: never an account id, body or token.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

import settings
from serving.auth import authorized, required_token

BODY_LIMIT_ENV = settings.variable("max_body_bytes")
# 4 MiB: the largest valid request (CHURN_MAX_BATCH = 1,000 accounts, every feature sent) is about 2.1 MB
DEFAULT_BODY_LIMIT = settings.Settings.model_fields["max_body_bytes"].default
UNMATCHED = "unmatched"
PROBLEM_JSON = b"application/problem+json"
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/favicon.ico"})
# The docs page, its static files and the OpenAPI document carry the API's shape, no customer data: a
# browser (which cannot send a bearer header) must be able to open them; the page's Authorize button
# then takes the token for the calls tried from it.
DOCS_PATHS = frozenset({"/", "/docs.json"})
DOCS_ASSETS = "/static_content/"


def open_path(path: str) -> bool:
    """Whether ``path`` is served without the token: the probes and the docs page."""
    return path in OPEN_PATHS or path in DOCS_PATHS or path.startswith(DOCS_ASSETS)


# BentoML's own routes, besides the service's APIs and the FastAPI routes.
BENTOML_ROUTES = ("/", "/healthz", "/livez", "/readyz", "/metrics", "/docs.json", "/schema.json")
BENTOML_PREFIXES = {"/static_content/": "/static_content/{path}", "/assets/": "/assets/{path}"}
_REQUEST_ID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_CLASS_NAMES = re.compile(r"\s*\bfor\s+\w+IODescriptor\b|\b\w+IODescriptor\b")
_MAX_ERROR_BODY = 65_536
log = logging.getLogger("renewal_risk.access")
log.setLevel(logging.INFO)  # BentoML's server logging leaves the root at WARNING: the request log is INFO


class RouteTemplates:
    """Maps a request path to the template of the route serving it, or ``unmatched``."""

    def __init__(self, templates: Iterable[str] = ()):
        self.static: set[str] = set()
        self.patterns: list[tuple[re.Pattern[str], str]] = []
        self.add(BENTOML_ROUTES)
        self.add(templates)

    def add(self, templates: Iterable[str]) -> None:
        for template in templates:
            if "{" in template:
                regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
                self.patterns.append((re.compile(f"^{regex}$"), template))
            else:
                self.static.add(template)

    def __call__(self, path: str) -> str:
        if path in self.static:
            return path
        for pattern, template in self.patterns:
            if pattern.match(path):
                return template
        for prefix, template in BENTOML_PREFIXES.items():
            if path.startswith(prefix):
                return template
        return UNMATCHED


ROUTES = RouteTemplates()


def body_limit() -> int:
    """The body limit in force (``CHURN_MAX_BODY_BYTES``, validated when the service starts)."""
    return settings.current().max_body_bytes


# --- metrics ---------------------------------------------------------------------------------


def _route_labelled_metrics_class():
    from bentoml._internal.server.http import instruments

    base = getattr(instruments, "_churn_original_runner_metrics", instruments.RunnerTrafficMetricsMiddleware)

    class RouteLabelledMetrics(base):
        """BentoML's traffic metrics, labelled by route template: it reads the template, the app the real path."""

        def __init__(self, app, *args, **kwargs):
            super().__init__(_RealPath(app), *args, **kwargs)

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                scope = {**scope, "path": ROUTES(scope["path"]), "churn.path": scope["path"]}
            await super().__call__(scope, receive, send)

    return instruments, base, RouteLabelledMetrics


class _RealPath:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if "churn.path" in scope:
            scope = dict(scope)
            scope["path"] = scope.pop("churn.path")
        await self.app(scope, receive, send)


def install() -> None:
    """Route-labelled traffic metrics for every BentoML app built from now on in this process."""
    instruments, base, cls = _route_labelled_metrics_class()
    if getattr(instruments.RunnerTrafficMetricsMiddleware, "churn_route_labelled", False):
        return
    cls.churn_route_labelled = True
    instruments._churn_original_runner_metrics = base
    instruments.RunnerTrafficMetricsMiddleware = cls


def own_prometheus_directory() -> str | None:
    """In the ``bentoml serve`` process (not its workers): a fresh Prometheus multiprocess directory.

    BentoML empties ``$BENTOML_HOME/prometheus_multiproc_dir`` at every start and points its
    workers at it (``PROMETHEUS_MULTIPROC_DIR``); this sets its own per-start directory first,
    so instances sharing a host and a BentoML home keep their own counters.
    """
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.context import server_context

    if server_context.worker_index is not None:  # a worker: the serving process chose its directory
        return None
    directory = tempfile.mkdtemp(prefix="renewal-risk-prometheus-")
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(directory, ignore_errors=True))
    BentoMLContainer.prometheus_multiproc_dir.set(directory)
    return directory


# --- errors ----------------------------------------------------------------------------------

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "invalid-field",
    429: "too-many-requests",
}


def problem(status: int, detail: str, field: str | None = None, kind: str | None = None, **extra) -> dict:
    """An RFC 9457 problem: type, title, status, detail, and the offending field when there is one."""
    slug = kind or _SLUGS.get(status, "server-error" if status >= 500 else "client-error")
    body = {"type": f"urn:renewal-risk:problem:{slug}", "title": _phrase(status), "status": status}
    body["detail"] = detail
    if field:
        body["field"] = field
    body.update(extra)
    return body


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _clean(text: str) -> str:
    return _CLASS_NAMES.sub("", str(text)).strip()


def _field(loc) -> str | None:
    parts = [str(p) for p in (loc or [])]
    if parts and parts[0] in ("body", "path", "query", "header"):
        parts = parts[1:]
    return ".".join(parts) or None


def problem_from(status: int, body: bytes, content_type: str) -> tuple[int, dict]:
    """The problem for an error answer the app wrote in BentoML's, FastAPI's or Starlette's own shape."""
    if status >= 500:
        return status, problem(status, "The server could not answer this request; the request id names it in the log.")
    data = None
    if "json" in content_type:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
    errors = data.get("detail") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        if any(e.get("type") == "json_invalid" for e in errors):
            return 400, problem(400, "The body is not valid JSON.", kind="invalid-json")
        listed = [{"field": _field(e.get("loc")), "message": _clean(e.get("msg", ""))} for e in errors]
        first = listed[0]
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in listed[:5])
        status = 422 if status in (400, 422) else status
        return status, problem(status, detail, first["field"] or "body", errors=listed)
    if isinstance(data, dict):
        message = data.get("detail") if isinstance(data.get("detail"), str) else data.get("error")
        if isinstance(message, str) and message:
            return status, problem(status, _clean(message))
    return status, problem(status, _phrase(status) + ".")


def problem_response(status: int, body: dict, headers: Iterable[tuple[bytes, bytes]] = ()) -> tuple[dict, dict]:
    payload = json.dumps(body).encode()
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")]
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [*kept, (b"content-type", PROBLEM_JSON), (b"content-length", str(len(payload)).encode())],
    }
    return start, {"type": "http.response.body", "body": payload}


# --- the OpenAPI document --------------------------------------------------------------------

_DOCUMENTED = {
    401: "Missing or invalid bearer token.",
    413: "The body is larger than CHURN_MAX_BODY_BYTES.",
    415: "The body is not JSON.",
    422: "A field is invalid; `field` names it.",
}


def document(spec: dict, problem_schema: dict) -> dict:
    """The served OpenAPI document, completed: the bearer scheme, and the problem shape for 401/413/415/422."""
    # BentoML declares 3.0 but writes JSON Schema 2020-12 (anyOf with null, prefixItems): that is OpenAPI 3.1.
    spec["openapi"] = "3.1.0"
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = problem_schema
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "CHURN_API_TOKEN; every route but the probes needs it when the server has one.",
    }
    spec["security"] = [{"bearer": []}]
    problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method not in ("get", "post", "put", "patch", "delete"):
                continue
            if path in OPEN_PATHS:
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            for status, description in _DOCUMENTED.items():
                if status in (413, 415) and method not in ("post", "put", "patch"):
                    continue
                if status == 401 and path in OPEN_PATHS:
                    continue
                responses[str(status)] = {"description": description, "content": problem_ref}
            for status, response in responses.items():
                if str(status).startswith(("4", "5")) and "content" in response:
                    response["content"] = problem_ref
    return spec


# --- the middleware --------------------------------------------------------------------------


class BodyTooLargeError(Exception):
    pass


class EdgeMiddleware:
    """Pure ASGI middleware around the whole service; see the module docstring.

    ``json_routes`` are the routes whose POST body must be JSON (else 415).
    """

    def __init__(
        self,
        app,
        token: str | None = None,
        json_routes: Iterable[str] = ("/score", "/score_accounts"),
        problem_schema: dict | None = None,
    ):
        self.app = app
        self.fixed_token = token
        self.json_routes = frozenset(json_routes)
        self.problem_schema = problem_schema

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        route = ROUTES(scope["path"])
        state = {"status": 0, "start": None, "chunks": [], "size": 0}

        async def send_shaped(message):
            if route == "/docs.json" and self.problem_schema is not None:
                return await self._send_document(message, state, send)
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
                state["status"] = message["status"]
                content_type = dict(message["headers"]).get(b"content-type", b"")
                if message["status"] >= 400 and not content_type.startswith(PROBLEM_JSON):
                    state["start"] = message  # an error in the app's own shape: rewrite it when complete
                    return
                return await send(message)
            if message["type"] == "http.response.body" and state["start"] is not None:
                if state["size"] < _MAX_ERROR_BODY:
                    state["chunks"].append(message.get("body", b""))
                    state["size"] += len(message.get("body", b""))
                if message.get("more_body"):
                    return
                begun = state.pop("start")
                state["start"] = None
                content_type = dict(begun["headers"]).get(b"content-type", b"").decode("latin-1")
                status, body = problem_from(begun["status"], b"".join(state["chunks"]), content_type)
                state["status"] = status
                start, body_message = problem_response(status, body, begun["headers"])
                await send(start)
                return await send(body_message)
            await send(message)

        try:
            answer = self._refusal(scope, headers)
            if answer is not None:
                await _send_problem(send_shaped, *answer)
            else:
                try:
                    replay = await _read_body(receive, body_limit())
                except BodyTooLargeError:
                    await _send_problem(send_shaped, 413, _too_large())
                else:
                    if route == "/" and scope["method"] in ("GET", "HEAD"):
                        await _send_docs_page(send_shaped, scope["method"] == "HEAD")
                    else:
                        await self.app(scope, replay, send_shaped)
        except Exception as error:  # the app failed: a 500 problem if nothing was sent, never its message
            log.error("request_id=%s failed: %s", request_id, type(error).__name__)
            if state["status"] == 0 or state["start"] is not None:
                state["start"] = None
                state["status"] = 500
                await _send_problem(send, 500, problem_from(500, b"", "")[1], [(b"x-request-id", request_id.encode())])
        finally:
            log.info(
                "%s %s %s %d %.1fms request_id=%s",
                datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                scope["method"],
                route,
                state["status"],
                1e3 * (time.perf_counter() - started),
                request_id,
            )

    async def _send_document(self, message, state, send) -> None:
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            state["doc_start"], state["doc"] = message, []
            return
        state["doc"].append(message.get("body", b""))
        if message.get("more_body"):
            return
        start, body = state.pop("doc_start"), b"".join(state.pop("doc"))
        if start["status"] == 200:
            body = json.dumps(document(json.loads(body), self.problem_schema)).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope, headers) -> tuple[int, dict, list] | None:
        """401, 415 or 413 (by Content-Length) before the app or the body is touched."""
        token = required_token(self.fixed_token)
        if token is not None and not open_path(scope["path"]) and not authorized(headers, token):
            detail = "Missing or invalid token: send Authorization: Bearer <CHURN_API_TOKEN>."
            return 401, problem(401, detail), [(b"www-authenticate", b'Bearer realm="renewal-risk"')]
        if scope["method"] in ("POST", "PUT", "PATCH") and ROUTES(scope["path"]) in self.json_routes:
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json" and not media.endswith(b"+json"):
                detail = "The body must be JSON: send Content-Type: application/json."
                return 415, problem(415, detail), [(b"accept-post", b"application/json")]
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return 400, problem(400, "Content-Length is not a number."), []
            if declared > body_limit():
                return 413, _too_large(), []
        return None


def _too_large() -> dict:
    limit = body_limit()
    return problem(413, f"The body is larger than {limit:,} bytes ({BODY_LIMIT_ENV}).", limit_bytes=limit)


# BentoML's own index page loads Google Tag Manager (and links out); ours serves the same Swagger UI from
# BentoML's local static files and nothing else, so the docs page a token holder opens calls no third party.
DOCS_PAGE = (Path(__file__).with_name("docs.html")).read_bytes()


async def _send_docs_page(send, head: bool) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(DOCS_PAGE)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else DOCS_PAGE})


async def _send_problem(send, status: int, body: dict, headers: list | None = None) -> None:
    start, body_message = problem_response(status, body, headers or [])
    await send(start)
    await send(body_message)


async def _read_body(receive, limit: int):
    """Read the body, at most ``limit`` bytes of it (else ``BodyTooLargeError``); returns a replaying receive."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            pending = [message]
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body"):
            pending = []
            break
    body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
    queue = [*([body] if not pending else []), *pending]

    async def replay():
        if queue:
            return queue.pop(0)
        return await receive()

    return replay
