"""The ``churn`` application and what its commands share: error reporting, option parsing, summaries.

No logic lives here beyond presentation. A mistake in the user's data or options ends with
one readable paragraph on stderr and exit code 2, never a traceback, and nothing written.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
import typer.rich_utils
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from features.snapshots import DEFAULT_HORIZONS

app = typer.Typer(
    name="churn",
    help="Renewal risk for subscription businesses: predict which accounts will not renew, and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(stderr=True)
EXIT_BAD_INPUT = 2
HELP_WIDTH = 120  # help that is piped, captured or read in CI renders at this width instead of rich's 80


def _help_width() -> int | None:
    """A terminal's own width; otherwise (``churn score --help | less``, a test) ``HELP_WIDTH`` or $TERMINAL_WIDTH.

    Rich falls back to 80 columns when it writes to no terminal, and then cuts option names
    and defaults with an ellipsis (``models:/renewal-risk@c…``).
    """
    if os.environ.get("TERMINAL_WIDTH"):
        return int(os.environ["TERMINAL_WIDTH"])
    return None if Console().is_terminal else HELP_WIDTH


typer.rich_utils.MAX_WIDTH = _help_width()
DEFAULT_WORKERS = min(os.cpu_count() or 1, 8)


class UsageError(ValueError):
    """An option that cannot work (a bad date, an unknown extension)."""


def reports_user_errors(command: Callable) -> Callable:
    """Turn the user's mistakes into one paragraph and exit code 2; let real bugs raise."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from features.load import DataError
        from settings import SettingsError

        try:
            return command(*args, **kwargs)
        except (DataError, UsageError, SettingsError) as err:
            console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def parse_date(value: str | None, option: str):
    import pandas as pd

    if value is None:
        return None
    try:  # ISO only: "01/11/2026" is 1 November to some readers and 11 January to others
        return pd.Timestamp(pd.to_datetime(value, format="%Y-%m-%d")).normalize()
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date. Expected YYYY-MM-DD, e.g. 2026-11-01.") from None


DEFAULT_HORIZON_DAYS = ",".join(str(h) for h in DEFAULT_HORIZONS)


def parse_horizons(value: str) -> list[int]:
    try:
        horizons = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        horizons = []
    if not horizons or any(h <= 0 for h in horizons):
        raise UsageError(
            f"--horizon-days {value!r} is not a list of positive whole days. Expected e.g. 90 or 30,60,90,120."
        )
    return horizons


def check_output(path: Path, allowed: tuple[str, ...] = (".parquet", ".csv")) -> None:
    if path.suffix.lower() not in allowed:
        raise UsageError(f"--out {path}: unsupported file type. Expected a path ending in {' or '.join(allowed)}.")


DataOption = Annotated[
    Path, typer.Option(help="Directory of input tables, one file per table (see docs/data-contract.md).")
]
DataOrSnapshotsOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Directory of input tables, one file per table (see docs/data-contract.md); or --snapshots."
    ),
]
DataOrStoreOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Directory of input tables, one file per table (see docs/data-contract.md); or --store."
    ),
]
SnapshotsOption = Annotated[
    Path | None, typer.Option(help="A snapshot table (.parquet/.csv) instead of --data: ours, or your own.")
]


def checked_as_of(value: str | None) -> str | None:
    """Refuse a malformed ``--as-of`` before any table or model is loaded (the value itself stays text)."""
    try:
        parse_date(value, "--as-of")
    except UsageError:
        raise typer.BadParameter(f"{value!r} is not a date. Expected YYYY-MM-DD, e.g. 2026-11-01.") from None
    return value


AsOfOption = Annotated[
    str | None,
    typer.Option(
        help="The date to work as of (YYYY-MM-DD; default: the day after the data ends).", callback=checked_as_of
    ),
]
ModelUriOption = Annotated[
    str, typer.Option(help="Model to use: a registry URI (models:/renewal-risk@champion), a run's model or a folder.")
]
TrackingOption = Annotated[
    str | None, typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or ./mlflow.db).")
]
AllowMissingOption = Annotated[
    bool,
    typer.Option(
        "--allow-missing-features",
        help="Score even when the model uses features this export cannot give (they are treated as missing).",
    ),
]


def load_export(data: Path, steps, accounts: list[str] | None = None):
    """The export's tables, validated, with progress (``workflow.training.load_export``, shared with training)."""
    from workflow.training import load_export as load

    return load(data, steps, accounts)


def as_of_date(value: str | None, tables):
    """``--as-of`` as a date, or the day after the data ends (``Tables.next_day``) when it is not given."""
    return parse_date(value, "--as-of") if value is not None else tables.next_day


def load_model(model_uri: str, tracking_uri: str | None, steps):
    """The model bundle at ``model_uri``, or a usage error that says how to get one."""
    from training.loading import load_bundle

    with steps.step(f"Loading model {model_uri}"):
        try:
            return load_bundle(model_uri, tracking_uri)
        except Exception as err:
            if not isinstance(err, FileNotFoundError | OSError | ValueError) and not _from_mlflow(err):
                raise
            message = getattr(err, "message", str(err))
            raise UsageError(
                f"cannot load the model {model_uri}: {message}. Train one first with `churn train`."
            ) from None


def _from_mlflow(error: Exception) -> bool:
    """An MLflow error (no such model, alias or store): MLflow is imported by then, since it raised."""
    import mlflow

    return isinstance(error, mlflow.exceptions.MlflowException)


StoreOption = Annotated[
    Path | None,
    typer.Option(help="Also write the snapshots, with earlier monthly ones, to this SQLite store for `churn serve`."),
]
StoreMonthsOption = Annotated[
    int, typer.Option(min=1, max=24, help="Monthly snapshots to keep in the store per account (the risk trend).")
]


def write_store(store: Path, tables, current, as_of, months: int, steps, bundle=None) -> None:
    """The snapshot store the service reads: ``current`` plus earlier monthly snapshots and weekly charts.

    With ``bundle`` (the model `churn score` used), each account's score, reasons, page and
    change are precomputed for that model and kept beside its snapshots, so a service with the
    same model reads them instead of running the model per request (the playbook is
    $CHURN_PLAYBOOK's, as the service's). A path that is not a snapshot store (another
    application's SQLite file, a damaged store, a directory) is refused with exit code 2 and
    left untouched; writing an older date than the store holds adds that date's snapshots and
    keeps the newer charts."""
    from serving.store import StoreError, check_writable, store_from_tables

    explainer = None
    if bundle is not None:
        from explain.playbook import Playbook, PlaybookError
        from explain.reasons import Explainer

        try:
            explainer = Explainer(bundle, Playbook.load())
        except PlaybookError as error:
            raise UsageError(str(error)) from None
    what = " with precomputed scores and pages" if explainer else ""
    try:
        check_writable(store)
        with steps.step(f"Writing {months} monthly snapshots per account{what} to the store {store}"):
            store_from_tables(store, tables, current, as_of, months, explainer=explainer)
    except StoreError as error:
        raise UsageError(str(error)) from None


def check_store_option(store: Path | None) -> None:
    """Refuse a --store that is not a snapshot store before any work is done (and before --out is written)."""
    if store is None:
        return
    from serving.store import StoreError, check_writable

    try:
        check_writable(store)
    except StoreError as error:
        raise UsageError(str(error)) from None


def summary_table(title: str, rows: dict[str, object]) -> RichTable:
    table = RichTable(title=escape(title), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items():
        table.add_row(escape(key if key.startswith("ground truth") else key.replace("_", " ")), escape(str(value)))
    return table


def require_features(bundle, frame, allow_missing: bool, steps) -> None:
    """Refuse to score with a model whose inputs this export cannot compute (a renamed or removed usage metric).

    Scoring would treat those inputs as missing for every account and move every risk; that is
    a choice the user makes with --allow-missing-features, never one made silently.
    """
    absent = [name for name in bundle.schema.names if name not in frame.columns]
    if not absent:
        return
    shown = ", ".join(absent[:8]) + (f" and {len(absent) - 8} more" if len(absent) > 8 else "")
    message = (
        f"the model uses {len(absent)} feature(s) this export cannot give: {shown}. "
        "They come from usage metrics (or columns) the model was trained with; check the export's metric "
        "names against `churn catalog` of the training data, retrain on this export, or pass "
        "--allow-missing-features to score them as missing."
    )
    if not allow_missing:
        raise UsageError(message)
    steps.note("--allow-missing-features: " + message)


def scoring_snapshots(data, snapshots, as_of: str | None, steps):
    """The book to score: snapshots built from --data as of --as-of (default: the day after the data ends), or
    a --snapshots table as it is; with the tables (None for a table) and the date scored on (None for a table)."""
    from features.build import build_scoring_snapshots

    if (data is None) == (snapshots is None):
        raise UsageError("give exactly one of --data DIR or --snapshots FILE.")
    if data is not None:
        tables = load_export(data, steps)
        when = as_of_date(as_of, tables)
        with steps.step(f"Building scoring snapshots as of {when.date()}"):
            result = build_scoring_snapshots(tables, when)
        if result.frame.empty:
            raise UsageError(
                f"no account has a contract in force on {when.date()} in {data} (the data ends on "
                f"{tables.data_end.date()}): there is nothing to score. Pick an --as-of the contracts cover."
            )
        for note in result.notes:
            steps.note(note)
        return result.frame, tables, when
    if as_of is not None:
        raise UsageError("--as-of is for --data: a --snapshots table carries its own dates.")
    import pandas as pd

    with steps.step(f"Reading {snapshots}"):
        frame = pd.read_parquet(snapshots) if snapshots.suffix == ".parquet" else pd.read_csv(snapshots)
    return frame, None, None
