"""Writing outputs so that a failed run leaves nothing behind.

Every output is written to a temporary file next to its destination and renamed into place
only when complete, so a reader never sees half a file and a failed run never replaces a
good one. Snapshots carry their feature catalog inside the Parquet metadata, so whoever
reads them later (training, a notebook) knows what each column means without this run.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.catalog import Catalog

CATALOG_METADATA_KEY = b"renewal_risk.catalog"


@contextmanager
def atomic_path(destination: Path | str) -> Iterator[Path]:
    """Yield a temporary path in the destination's folder; rename it over the destination on success."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp_path, destination)
    finally:
        tmp_path.unlink(missing_ok=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_table(frame: pd.DataFrame, destination: Path | str, catalog: Catalog | None = None) -> Path:
    """Write a frame as Parquet or CSV (by extension), atomically, with the catalog alongside."""
    destination = Path(destination)
    suffix = destination.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{destination}: unsupported output type {suffix or '(none)'}. Expected .parquet or .csv.")
    with atomic_path(destination) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if catalog is not None:
                metadata = dict(table.schema.metadata or {})
                metadata[CATALOG_METADATA_KEY] = json.dumps(catalog.to_records()).encode()
                table = table.replace_schema_metadata(metadata)
            pq.write_table(table, tmp)
    if catalog is not None and suffix == ".csv":
        with atomic_path(destination.with_suffix(".catalog.json")) as tmp:
            tmp.write_text(json.dumps(catalog.to_records(), indent=2))
    return destination


def read_catalog(path: Path | str) -> Catalog | None:
    """The catalog saved with a snapshots file, or None for a table made elsewhere."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        metadata = pq.read_schema(path).metadata or {}
        blob = metadata.get(CATALOG_METADATA_KEY)
        return Catalog.from_records(json.loads(blob)) if blob else None
    sidecar = path.with_suffix(".catalog.json")
    return Catalog.from_records(json.loads(sidecar.read_text())) if sidecar.exists() else None
