"""Build point-in-time snapshots: grid in, one row of features per (account, contract, as_of) out.

Every feature of an account depends only on that account's rows, so the work splits into
partitions of accounts that are built independently by the same pure function,
``build_partition``. Here they run in local processes; on a Dask cluster the same
partitions run as ``dask.delayed`` tasks (pass a ``distributed.Client`` address).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from features.billing import billing_features
from features.catalog import DETRACTOR_WINDOW, Catalog, build_catalog
from features.commercial import commercial_features
from features.load import Tables
from features.outcomes import DEFAULT_GRACE_DAYS, renewal_outcomes
from features.pointintime import Snapshots, codes_of, day_number
from features.relationship import event_features, nps_features
from features.snapshots import (
    DEFAULT_HORIZONS,
    DEFAULT_JITTER_DAYS,
    GRID_COLUMNS,
    LABEL_COLUMNS,
    scoring_grid,
    training_grid,
)
from features.support import support_features
from features.term import term_features
from features.usage import (
    UsageRows,
    adoption_features,
    decline_features,
    usage_features,
    usage_metric_names,
)

# Which optional table feeds which features: absent table -> those features are missing (NaN).
_OPTIONAL_FAMILIES: dict[str, Callable[[Snapshots, pd.DataFrame], dict[str, np.ndarray]]] = {
    "support_tickets": support_features,
    "nps": nps_features,
    "relationship_events": event_features,
    "invoices": billing_features,
}
_OPTIONAL_FEATURE_GROUPS = {
    "support_tickets": ("support",),
    "invoices": ("billing",),
}
_NPS_FEATURES = (
    "nps_last_score",
    "nps_change",
    "days_since_nps_response",
    f"nps_detractor_responses_{DETRACTOR_WINDOW}d",
    "nps_mean_term",
)


@dataclass(frozen=True)
class SnapshotResult:
    """Snapshots plus what a person needs to trust them."""

    frame: pd.DataFrame
    catalog: Catalog
    kind: str  # "training" or "scoring"
    data_end: pd.Timestamp
    missing_tables: tuple[str, ...]
    outcomes: pd.DataFrame | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        frame = self.frame
        summary: dict[str, object] = {
            "kind": self.kind,
            "accounts": int(frame["account_id"].nunique()),
            "snapshots": len(frame),
            "features": len(self.catalog),
            "as_of_from": str(frame["as_of"].min().date()) if len(frame) else None,
            "as_of_to": str(frame["as_of"].max().date()) if len(frame) else None,
            "data_end": str(self.data_end.date()),
            "missing_tables": list(self.missing_tables),
            "seconds": round(self.seconds, 2),
        }
        if "churned" in frame and len(frame):
            summary["churn_rate"] = round(float(frame["churned"].mean()), 4)
        if self.outcomes is not None:
            summary["contracts"] = self.outcomes["outcome"].value_counts().to_dict()
        return summary


def _missing_features(catalog: Catalog, missing_tables: Sequence[str]) -> list[str]:
    names: list[str] = []
    for table in missing_tables:
        if table == "nps":
            names += _NPS_FEATURES
        elif table == "relationship_events":
            names += [f for f in catalog.in_group("relationship") if f not in _NPS_FEATURES]
        else:
            names += [f for g in _OPTIONAL_FEATURE_GROUPS[table] for f in catalog.in_group(g)]
    return names


def build_partition(
    tables: Tables, grid: pd.DataFrame, catalog: Catalog, metrics: list[str], usage_start: pd.Timestamp
) -> pd.DataFrame:
    """Features for one partition of accounts. Pure: same tables and grid, same frame.

    ``metrics`` and ``usage_start`` describe the whole usage export (every metric name, its
    first day), not this partition's share of it, so features never depend on how accounts
    were split.
    """
    snap = Snapshots(grid, tables.accounts)
    created = day_number(tables.accounts["created_at"])[snap.account]
    observed_from = np.maximum(created, day_number([usage_start])[0])
    columns = commercial_features(snap, tables.contracts)
    rows = UsageRows.from_frame(snap, tables.usage, metrics)
    usage = usage_features(snap, rows, observed_from)
    columns |= usage
    columns |= adoption_features(snap, rows, observed_from, columns["seats"], usage)
    columns |= decline_features(snap, rows, observed_from)
    optional = {name: tables.get(name) for name in ("invoices", "support_tickets", "nps")}
    columns |= term_features(snap, tables.contracts, rows, observed_from, columns["seats"], optional)
    del rows
    for name, family in _OPTIONAL_FAMILIES.items():
        frame = tables.get(name)
        if frame is not None:
            columns |= family(snap, frame)
    for name in _missing_features(catalog, tables.missing_tables):
        columns[name] = np.full(len(snap), np.nan)
    features = pd.DataFrame({name: columns[name] for name in catalog.names})
    for name in catalog.categorical:
        features[name] = features[name].astype("str").where(pd.notna(features[name]), None).astype("str")
    return pd.concat([snap.grid, features], axis=1)


def _partition_codes(account_ids: pd.Series, partitions: int) -> np.ndarray:
    """A stable partition for each account id: the same id lands in the same partition on every run."""
    return (pd.util.hash_array(account_ids.to_numpy(dtype=object)) % np.uint64(partitions)).astype(np.int64)


def _split(frame: pd.DataFrame | None, account_part: np.ndarray, accounts: pd.Index, partitions: int) -> list:
    """Cut a table into the partitions of its accounts with one stable sort (no pass per partition)."""
    if frame is None:
        return [None] * partitions
    part = account_part[codes_of(frame["account_id"], accounts)]
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    return [frame.iloc[order[bounds[i] : bounds[i + 1]]] for i in range(partitions)]


def partition_tables(tables: Tables, grid: pd.DataFrame, partitions: int) -> list[tuple[Tables, pd.DataFrame]]:
    """Split tables and grid into ``partitions`` groups of whole accounts."""
    accounts = pd.Index(tables.accounts["account_id"])
    account_part = _partition_codes(tables.accounts["account_id"], partitions)
    names = ["accounts", "contracts", "usage", *_OPTIONAL_FAMILIES]
    pieces = {name: _split(tables.get(name), account_part, accounts, partitions) for name in names}
    grids = _split(grid, account_part, accounts, partitions)
    return [
        (replace(tables, **{name: pieces[name][i] for name in names}), grids[i])
        for i in range(partitions)
        if len(grids[i])
    ]


def build_features(
    tables: Tables,
    grid: pd.DataFrame,
    *,
    workers: int = 1,
    partitions: int | None = None,
    scheduler: str | None = None,
    on_partition: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, Catalog]:
    """Features for every grid row, in grid order, with the catalog that describes them.

    ``workers`` > 1 builds partitions on parallel local threads; ``scheduler="distributed"``
    sends them to the active ``distributed.Client`` instead. ``on_partition(done, total)`` is
    called as partitions finish, for a progress bar.
    """
    metrics = tables.usage_metrics  # the export's, even when the tables hold only some accounts
    catalog = build_catalog(usage_metric_names(metrics))
    usage_start = tables.usage_start
    grid = grid.reset_index(drop=True).assign(_row=np.arange(len(grid)))
    partitions = partitions or (1 if workers <= 1 and scheduler is None else max(2 * workers, 4))
    partitions = partitions if len(grid) else 1  # nothing to split: one pass gives the empty frame its columns
    report = on_partition or (lambda done, total: None)
    if partitions == 1:
        report(0, 1)
        frame = build_partition(tables, grid, catalog, metrics, usage_start)
        report(1, 1)
    else:
        import dask

        parts = partition_tables(tables, grid, partitions)
        tasks = [
            dask.delayed(build_partition, name=f"build_partition-{i}")(
                part_tables, part_grid, catalog, metrics, usage_start
            )
            for i, (part_tables, part_grid) in enumerate(parts)
        ]
        report(0, len(tasks))
        if scheduler == "distributed":
            results = dask.compute(*tasks)
        else:
            # Local partitions run on threads: numpy's sorts and searches release the GIL, and threads
            # share the loaded tables where processes would pickle a copy of every partition.
            with _PartitionProgress(len(tasks), report):
                results = dask.compute(*tasks, scheduler="threads", num_workers=workers)
        frame = pd.concat(results, ignore_index=True)
    frame = frame.sort_values("_row", ignore_index=True).drop(columns="_row")
    return frame, catalog


class _PartitionProgress:
    """Counts finished partition tasks on the local scheduler and reports them."""

    def __init__(self, total: int, report: Callable[[int, int], None]):
        from dask.callbacks import Callback

        self.done = 0

        def posttask(key, result, dsk, state, worker_id):
            if str(key).startswith("build_partition-"):
                self.done += 1
                report(self.done, total)

        self.callback = Callback(posttask=posttask)

    def __enter__(self):
        self.callback.__enter__()
        return self

    def __exit__(self, *exc):
        self.callback.__exit__(*exc)


def build_training_snapshots(
    tables: Tables,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    grace_days: int = DEFAULT_GRACE_DAYS,
    jitter: int = DEFAULT_JITTER_DAYS,
    **options,
) -> SnapshotResult:
    """Labelled snapshots for every contract and window whose outcome is known (``features.snapshots``)."""
    started = time.perf_counter()
    outcomes = renewal_outcomes(tables.contracts, tables.data_end, grace_days)
    grid = training_grid(tables, outcomes, horizons, jitter)
    frame, catalog = build_features(tables, grid, **options)
    frame = frame[[*GRID_COLUMNS, *LABEL_COLUMNS, *catalog.names]]
    return SnapshotResult(
        frame, catalog, "training", tables.data_end, tables.missing_tables, outcomes, time.perf_counter() - started
    )


def build_scoring_snapshots(tables: Tables, as_of: pd.Timestamp, **options) -> SnapshotResult:
    """Unlabelled snapshots of every account with a contract in force on ``as_of``."""
    started = time.perf_counter()
    grid = scoring_grid(tables.contracts, as_of)
    frame, catalog = build_features(tables, grid, **options)
    frame = frame[[*GRID_COLUMNS, *catalog.names]]
    notes = []
    if frame.empty:
        notes.append(f"no account has a contract in force on {pd.Timestamp(as_of).date()}: there is nothing to score.")
    if pd.Timestamp(as_of) > tables.data_end + pd.Timedelta(days=1):
        notes.append(
            f"as_of {pd.Timestamp(as_of).date()} is after the data ends ({tables.data_end.date()}): "
            "the most recent days count as days without activity."
        )
    return SnapshotResult(
        frame, catalog, "scoring", tables.data_end, tables.missing_tables, None, time.perf_counter() - started, notes
    )
