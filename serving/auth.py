"""Bearer-token authentication and an access log that never records account ids or tokens.

When ``CHURN_API_TOKEN`` is set, every request except the probes (/healthz, /livez, /readyz)
needs ``Authorization: Bearer <token>``; the comparison is constant-time (``hmac.compare_digest``)
so response timing says nothing about the token. Unset, the API is open (for local use); the
README tells operators to set it.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time

OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/favicon.ico"})
_ACCOUNT_PATH = re.compile(r"^/accounts/[^/]+")
log = logging.getLogger("renewal_risk.access")


def route_of(path: str) -> str:
    """The path with the account id replaced, fit for a log line."""
    return _ACCOUNT_PATH.sub("/accounts/{account_id}", path)


class BearerTokenMiddleware:
    """Pure ASGI middleware: 401 without the right token; one log line per request, without ids."""

    def __init__(self, app, token: str | None = None):
        self.app = app
        self.fixed_token = token

    @property
    def token(self) -> bytes | None:
        """The token in force: fixed at construction, else read from the environment (so it can rotate)."""
        token = self.fixed_token if self.fixed_token is not None else os.environ.get("CHURN_API_TOKEN", "")
        return token.encode() if token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 0}

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        token = self.token
        if token is not None and scope["path"] not in OPEN_PATHS and not self._authorized(scope, token):
            await _unauthorized(send_and_note)
        else:
            await self.app(scope, receive, send_and_note)
        log.info(
            "%s %s %d %.1f ms",
            scope["method"],
            route_of(scope["path"]),
            status["code"],
            1e3 * (time.perf_counter() - started),
        )

    @staticmethod
    def _authorized(scope, token: bytes) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, credentials = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), token)


async def _unauthorized(send) -> None:
    body = json.dumps({"error": "missing or invalid token: send Authorization: Bearer <CHURN_API_TOKEN>"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="renewal-risk"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
