"""Commands about data: demo data, validation, the contract, the catalog and snapshots."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from churn.app import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_WORKERS,
    DataOption,
    StoreMonthsOption,
    StoreOption,
    UsageError,
    app,
    check_output,
    check_store_option,
    checked_as_of,
    console,
    load_export,
    parse_date,
    parse_horizons,
    reports_user_errors,
    summary_table,
    write_store,
)
from churn.progress import Steps
from features.snapshots import DEFAULT_JITTER_DAYS


@app.command("demo-data")
@reports_user_errors
def demo_data(
    out: Annotated[Path, typer.Option(help="Directory to write the seven tables and _truth/ into.")] = Path(
        "data/demo"
    ),
    accounts: Annotated[int, typer.Option(min=10, help="Number of accounts.")] = 3000,
    years: Annotated[int, typer.Option(min=1, max=10, help="Years of history.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 7,
    end_date: Annotated[str, typer.Option(help="Last day of the data (YYYY-MM-DD).")] = "2026-10-31",
    fmt: Annotated[str, typer.Option("--format", help="File format: parquet or csv.")] = "parquet",
    plant: Annotated[
        str | None,
        typer.Option(
            help="Plant a change for monitoring to find: usage-halved (a tracking change halves the logins "
            "metric), cause-shift (a product change makes support pain, narrow adoption and low utilization "
            "matter more at renewal) or new-segment (accounts signed from --plant-after on are public_sector)."
        ),
    ] = None,
    plant_after: Annotated[
        str | None, typer.Option(help="With --plant: the day the change starts (default: a year before --end-date).")
    ] = None,
) -> None:
    """Write realistic demo data with planted churn causes and the ground truth."""
    from demo import simulator as demo

    if fmt not in ("parquet", "csv"):
        raise UsageError(f"--format {fmt!r} is not supported. Expected parquet or csv.")
    parse_date(end_date, "--end-date")
    if plant is not None and plant not in demo.PLANTS:
        raise UsageError(f"--plant {plant!r} is not a change the demo can plant. Expected {', '.join(demo.PLANTS)}.")
    if plant_after is not None and plant is None:
        raise UsageError("--plant-after needs --plant KIND.")
    parse_date(plant_after, "--plant-after")
    with Steps(console) as steps:
        planted = f", {plant} from {plant_after or 'a year before the end'}" if plant else ""
        with steps.step(f"Simulating {accounts:,} accounts over {years} years{planted}"):
            data = demo.generate(accounts, years, seed, end_date, plant=plant, plant_after=plant_after)
        with steps.step(f"Writing {fmt} files to {out}"):
            demo.write(data, out, fmt=fmt)
    rows = {name: f"{len(frame):,} rows" for name, frame in data.tables.items()}
    rows["ground truth (_truth/renewals)"] = f"{len(data.truth):,} rows"
    console.print(summary_table(f"Demo data in {out}", rows))


@app.command("build-features")
@reports_user_errors
def build_features(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Output file, .parquet or .csv.")] = Path("out/snapshots.parquet"),
    horizon_days: Annotated[
        str,
        typer.Option(
            help="Days before renewal to observe each contract of 90 days or more, one row each, each moved by up "
            f"to {DEFAULT_JITTER_DAYS} days per contract (shorter plans: one row per 90-day window)."
        ),
    ] = DEFAULT_HORIZON_DAYS,
    horizon_jitter: Annotated[
        int,
        typer.Option(
            min=0, max=90, help="Move each contract's horizons by up to this many days (deterministic per contract)."
        ),
    ] = DEFAULT_JITTER_DAYS,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Build scoring snapshots on this date (YYYY-MM-DD) instead of training snapshots.",
            callback=checked_as_of,
        ),
    ] = None,
    grace_days: Annotated[
        int, typer.Option(min=0, help="Days after a contract ends within which a new one counts as a renewal.")
    ] = 30,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Threads building partitions of accounts in parallel (1 = one pass, least memory)."),
    ] = DEFAULT_WORKERS,
    dask_scheduler: Annotated[
        str | None, typer.Option(help="Address of a Dask distributed scheduler to build partitions on a cluster.")
    ] = None,
    store: StoreOption = None,
    store_months: StoreMonthsOption = 6,
) -> None:
    """Build point-in-time account snapshots: training rows (labelled) or scoring rows (--as-of)."""
    from features.build import build_scoring_snapshots, build_training_snapshots
    from features.io import write_table

    check_output(out)
    horizons = parse_horizons(horizon_days)
    scoring_date = parse_date(as_of, "--as-of")
    if store is not None and scoring_date is None:
        raise UsageError("--store needs --as-of: the store holds scoring snapshots of the accounts in force.")
    check_store_option(store)
    options: dict[str, object] = {"workers": workers}
    cluster = contextlib.nullcontext()
    if dask_scheduler:
        cluster = _connect_to_cluster(dask_scheduler)
        options["scheduler"] = "distributed"
    with cluster, Steps(console) as steps:
        tables = load_export(data, steps)
        kind = "training snapshots" if scoring_date is None else f"scoring snapshots as of {scoring_date.date()}"
        with steps.bar(f"Building {kind} (partitions of accounts)", total=1) as update:
            if scoring_date is None:
                result = build_training_snapshots(
                    tables,
                    horizons=horizons,
                    grace_days=grace_days,
                    jitter=horizon_jitter,
                    on_partition=update,
                    **options,
                )
            else:
                result = build_scoring_snapshots(tables, scoring_date, on_partition=update, **options)
        for note in result.notes:
            steps.note(note)
        with steps.step(f"Writing {out}"):
            write_table(result.frame, out, result.catalog)
        if store is not None:
            write_store(store, tables, result.frame, scoring_date, store_months, steps)
    summary = result.summary()
    console.print(summary_table(f"{summary.pop('kind').capitalize()} snapshots → {out}", summary))


def _connect_to_cluster(address: str):
    """A Dask client for the build, closed when it ends; an unreachable scheduler is a user error."""
    from distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise UsageError(
            f"--dask-scheduler {address}: cannot reach the scheduler ({err}). Expected tcp://host:port."
        ) from None


@app.command("validate")
@reports_user_errors
def validate(
    data: DataOption,
) -> None:
    """Check a data directory against the data contract and summarise each table."""

    with Steps(console) as steps:
        tables = load_export(data, steps)
    table = RichTable(title=escape(f"{data} meets the data contract"), title_justify="left")
    for column in ("table", "file", "rows", "accounts"):
        table.add_column(column)
    for name, path in tables.sources.items():
        frame = tables.get(name)
        table.add_row(name, escape(path.name), f"{len(frame):,}", f"{frame['account_id'].nunique():,}")
    for name in tables.missing_tables:
        table.add_row(name, "(absent: optional)", "-", "-")
    console.print(table)
    console.print(f"Data ends on {tables.data_end.date()}.")


@app.command("data-contract")
def data_contract(
    out: Annotated[
        Path | None, typer.Option(help="Write the contract to this Markdown file instead of stdout.")
    ] = None,
) -> None:
    """Print the input data contract (tables, columns, rules) as Markdown."""
    from features.io import atomic_path
    from features.schema import contract_markdown

    text = contract_markdown()
    if out is None:
        sys.stdout.write(text)
        return
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    console.print(f"Wrote {escape(str(out))}")


@app.command("catalog")
@reports_user_errors
def catalog(
    data: DataOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every feature with its description, unit and driver group."""
    from features.catalog import build_catalog
    from features.load import find_table_file, load_table, metric_vocabulary
    from features.schema import TABLES_BY_NAME
    from features.usage import usage_metric_names

    path = find_table_file(data, "usage")
    metrics = metric_vocabulary(load_table(path, TABLES_BY_NAME["usage"])) if path else ["active_users"]
    features = build_catalog(usage_metric_names(metrics))
    if as_json:
        sys.stdout.write(json.dumps(features.to_records(), indent=2) + "\n")
        return
    table = RichTable(title=f"{len(features)} features (catalog {features.version})", title_justify="left")
    for column in ("feature", "group", "unit", "description"):
        table.add_column(column)
    for feature in features:
        table.add_row(*(escape(str(v)) for v in (feature.name, feature.group, feature.unit, feature.description)))
    Console().print(table)
