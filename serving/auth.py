"""Bearer-token authentication: which token is in force, and whether a request carries it.

When ``CHURN_API_TOKEN`` is set, every request except the probes (/healthz, /livez, /readyz)
needs ``Authorization: Bearer <token>``; the comparison is constant-time (``hmac.compare_digest``)
so response timing says nothing about the token. Unset, the API is open (for local use); the
README tells operators to set it. ``serving/edge.py`` applies it (401 as a problem document),
together with the body limits, the error shape and the request log.
"""

from __future__ import annotations

import hmac

import settings

TOKEN_ENV = settings.variable("api_token")


def required_token(fixed: str | None = None) -> bytes | None:
    """The token in force: ``fixed`` when given, else read from the environment (so it can rotate)."""
    token = fixed if fixed is not None else settings.current().api_token
    return token.encode() if token else None


def authorized(headers: dict[bytes, bytes], token: bytes) -> bool:
    """Whether the ASGI headers carry ``Authorization: Bearer <token>``."""
    scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), token)
