"""Training tables: snapshots built by ``features/`` or a snapshot table the user brings.

A data scientist's own table is welcome as long as it has one row per account (or account
and date) and a churn flag. Exports are messy, so this module is forgiving about form and
strict about meaning: "yes"/"TRUE"/"1" all mean churned, numbers stored as text with blanks
become numbers with missing values, other text becomes a categorical feature, and a label
it cannot read stops the run with the rows that are wrong.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.catalog import Catalog, catalog_for_columns
from features.io import read_catalog
from features.load import DataError, RowReference
from features.snapshots import GRID_COLUMNS, LABEL_COLUMNS

TRUTHY = {"1", "1.0", "true", "t", "yes", "y"}
FALSY = {"0", "0.0", "false", "f", "no", "n"}
# Columns that describe a snapshot rather than the account: never features.
META_COLUMNS = {*GRID_COLUMNS, *LABEL_COLUMNS, "churned", "renewed_arr", "contract_id", "name"}


@dataclass(frozen=True)
class TrainingTable:
    """Rows to learn from: features, label, and the columns that place each row in time and money."""

    frame: pd.DataFrame
    catalog: Catalog
    label: str = "churned"
    id_col: str = "account_id"
    time_col: str | None = "renewal_date"

    @property
    def features(self) -> list[str]:
        return self.catalog.names

    @property
    def y(self) -> np.ndarray:
        return self.frame[self.label].to_numpy(dtype=np.int8)

    @property
    def arr(self) -> np.ndarray | None:
        return self.frame["arr"].to_numpy(dtype=float) if "arr" in self.frame else None

    @property
    def segment(self) -> np.ndarray | None:
        return self.frame["segment"].astype("str").to_numpy() if "segment" in self.frame else None


def parse_label(values: pd.Series, where: RowReference, column: str) -> np.ndarray:
    """1 for churned (did not renew), 0 for renewed, from 1/0, true/false or yes/no in any case."""
    if pd.api.types.is_bool_dtype(values):
        parsed = values.astype("float")
    else:
        text = values.astype("str").str.strip().str.lower()
        parsed = pd.Series(np.nan, index=values.index)
        parsed[text.isin(TRUTHY)] = 1.0
        parsed[text.isin(FALSY)] = 0.0
    bad = parsed.isna().to_numpy()
    if bad.any():
        positions = np.flatnonzero(bad)
        shown = values.iloc[positions[:5]].tolist()
        raise where.fail(
            column,
            f"{len(positions)} row{'s' if len(positions) > 1 else ''} have a churn flag that is not yes or no: "
            f"{where.rows(positions, shown)}",
            "1/0, true/false or yes/no (truthy = did not renew)",
        )
    return parsed.to_numpy(dtype=np.int8)


def _as_feature(values: pd.Series) -> pd.Series:
    """Numbers stay numbers; text that is numbers with blanks becomes numbers; other text is categorical."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("str").str.strip()
    blank = text.eq("") | values.isna()
    numbers = pd.to_numeric(text.where(~blank), errors="coerce")
    if (numbers.notna() | blank).all() and (~blank).any():
        return numbers.astype("float64")
    return text.where(~blank).astype("category")


def from_snapshots_file(
    path: Path, label: str = "churned", id_col: str = "account_id", time_col: str | None = None
) -> TrainingTable:
    """Read a snapshot table: ours (catalog in its metadata) or anyone's (catalog inferred)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file. Expected a snapshot table (.parquet or .csv).")
    if path.suffix.lower() == ".csv":
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif path.suffix.lower() == ".parquet":
        raw = pd.read_parquet(path)
    else:
        raise DataError(f"{path}: unsupported file type. Expected a .parquet or .csv snapshot table.")
    where = RowReference(path)
    for column, role in ((label, "--label"), (id_col, "--id-col"), (time_col, "--time-col")):
        if column is not None and column not in raw.columns:
            raise where.fail(
                column,
                f"the {role} column is missing (found: {', '.join(map(str, raw.columns))})",
                f"a column named '{column}' or a different {role}",
            )
    frame = raw.copy()
    frame[label] = parse_label(raw[label], where, label)
    if time_col is not None:
        frame[time_col] = pd.to_datetime(raw[time_col], errors="coerce", format="ISO8601")
        bad = frame[time_col].isna().to_numpy()
        if bad.any():
            positions = np.flatnonzero(bad)
            raise where.fail(
                time_col,
                f"{len(positions)} rows are not dates: {where.rows(positions, raw[time_col].iloc[positions[:5]])}",
                "ISO dates such as 2024-06-03",
            )
    for column in ("as_of",):
        if column in frame and column != time_col:
            frame[column] = pd.to_datetime(frame[column], errors="coerce", format="ISO8601")
    catalog = read_catalog(path)
    if catalog is None:
        excluded = META_COLUMNS | {label, id_col} | ({time_col} if time_col else set())
        candidates = [c for c in frame.columns if c not in excluded]
        dates = [c for c in candidates if pd.api.types.is_datetime64_any_dtype(frame[c])]
        if dates:
            warnings.warn(f"date columns are not used as features: {', '.join(dates)}", stacklevel=2)
        for column in candidates:
            if column not in dates:
                frame[column] = _as_feature(frame[column])
        features = [c for c in candidates if c not in dates]
        kinds = {c: "categorical" if isinstance(frame[c].dtype, pd.CategoricalDtype) else "numeric" for c in features}
        catalog = catalog_for_columns(kinds)
    else:
        for feature in catalog:
            if feature.kind == "numeric":
                frame[feature.name] = _as_feature(frame[feature.name])
    if frame[label].nunique() < 2:
        raise where.fail(label, "every row has the same churn flag", "both churned and renewed rows to learn from")
    return TrainingTable(frame, catalog, label, id_col, time_col)


def from_snapshots(frame: pd.DataFrame, catalog: Catalog) -> TrainingTable:
    """Snapshots built in this run by ``features.build``: already typed and described."""
    return TrainingTable(frame.reset_index(drop=True), catalog, "churned", "account_id", "outcome_date")


def fingerprint(table: TrainingTable, sources: dict[str, Path] | None = None) -> dict[str, object]:
    """What a run was trained on: file hashes, date range, row and label counts.

    Two runs with the same fingerprint saw the same data; a changed hash says which file moved.
    """
    import hashlib

    def digest(path: Path) -> str:
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
        return sha.hexdigest()[:16]

    frame = table.frame
    result: dict[str, object] = {
        "rows": len(frame),
        "churned": int(table.y.sum()),
        "accounts": int(frame[table.id_col].nunique()) if table.id_col in frame else None,
        "features": len(table.catalog),
        "catalog_version": table.catalog.version,
    }
    if table.time_col:
        result["time_from"] = str(pd.to_datetime(frame[table.time_col]).min().date())
        result["time_to"] = str(pd.to_datetime(frame[table.time_col]).max().date())
    for name, path in (sources or {}).items():
        result[f"sha256_{name}"] = digest(Path(path))
    return result
