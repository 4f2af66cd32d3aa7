"""The ``churn`` command: parse options, call one function, print a short summary.

No logic lives in the commands beyond presentation. A mistake in the user's data or options
ends with one readable paragraph on stderr and exit code 2, never a traceback, and nothing
written.
"""

from __future__ import annotations

import os

from churn import (  # noqa: F401  (registers them)
    data_commands,
    explain_commands,
    model_commands,
    monitor_commands,
    serve_commands,
)
from churn.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    app()
