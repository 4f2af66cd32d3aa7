"""``churn serve``: start the risk-score API (BentoML) on this machine."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

import settings
from churn.app import ModelUriOption, UsageError, app, console, reports_user_errors
from training.names import DEFAULT_MODEL_URI

SERVICE = "serving.service:RenewalRisk"


@app.command("serve")
@reports_user_errors
def serve_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 to accept remote CRM jobs).")] = "127.0.0.1",
    model_uri: ModelUriOption = DEFAULT_MODEL_URI,
    store: Annotated[
        Path, typer.Option(help="Snapshot store written by `churn score --store` (accounts served by id).")
    ] = Path("out/snapshots.db"),
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes, each with the model loaded.")] = 1,
    monitor_report: Annotated[
        Path, typer.Option(help="The `churn monitor --out` report served on GET /monitoring and as gauges.")
    ] = Path("out/monitor.json"),
) -> None:
    """Serve scores, explanations and pages over HTTP. Set CHURN_API_TOKEN to require a bearer token."""
    settings.current()  # a bad CHURN_* value stops here, in words, not in the server's traceback
    bentoml = shutil.which("bentoml", path=str(Path(sys.executable).parent)) or shutil.which("bentoml")
    if bentoml is None:
        raise UsageError("the `bentoml` command is not installed in this environment; run `make install`.")
    if not store.exists():
        console.print(
            f"[yellow]![/] no snapshot store at {escape(str(store))}: /score works, "
            "but /score_accounts and the pages need "
            f"one (`churn score --data DIR --as-of DATE --store {escape(str(store))}`)."
        )
    if not settings.current().api_token:
        console.print("[yellow]![/] CHURN_API_TOKEN is not set: the API is open to anyone who can reach it.")
    env = {
        **os.environ,
        settings.variable("model_uri"): model_uri,
        settings.variable("snapshot_store"): str(store),
        settings.variable("service_workers"): str(workers),
        settings.variable("monitor_report"): str(monitor_report),
    }
    console.print(escape(f"Serving {model_uri} on http://{host}:{port} (docs: http://{host}:{port}/)"))
    os.execve(bentoml, [bentoml, "serve", SERVICE, "--host", host, "--port", str(port)], env)


@app.command("settings")
@reports_user_errors
def settings_command(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's configuration table instead.")
    ] = False,
) -> None:
    """Show the settings in force, read from CHURN_* and MLFLOW_TRACKING_URI (the API token is never shown)."""
    if markdown:
        print(settings.markdown_table())
        return
    current = settings.current()
    table = RichTable(title="Settings in force", title_justify="left")
    for column in ("variable", "value", "set"):
        table.add_column(column)
    for name in settings.Settings.model_fields:
        value = getattr(current, name)
        variable = settings.variable(name)
        shown = (
            ("(set, hidden)" if value else "unset")
            if name == "api_token"
            else ("unset" if value is None else str(value))
        )
        table.add_row(variable, escape(shown), "yes" if variable in os.environ else "default")
    console.print(table)
