"""Load a directory of input tables and hold them to the data contract.

Real exports go wrong in a handful of ways (a semicolon delimiter, a Latin-1 file, a date
column with "n/a" in it, a contract that ends before it starts). Each of them is caught
here and reported as one paragraph that names the file, the column, up to five offending
rows and what was expected, so the person fixing the export does not have to read a
traceback. Nothing downstream ever sees a table that broke a rule.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.schema import TABLES, TABLES_BY_NAME, Column, Table

MAX_SHOWN_ROWS = 5
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class DataError(ValueError):
    """Input data that breaks the contract. The message is meant for the person who made the export."""


@dataclass(frozen=True)
class ExportFacts:
    """What the whole export says, kept when only some accounts' rows are held.

    Features compare an account with the export it came from: how far back the usage export
    reaches (before it, nothing was observed), the last day it describes, and every usage
    metric name (a metric some account never used is a zero for it, not a missing column).
    A table of one account's rows cannot tell these, so they travel with it.
    """

    usage_start: pd.Timestamp
    data_end: pd.Timestamp
    usage_metrics: tuple[str, ...]


@dataclass(frozen=True)
class Tables:
    """The validated input tables. Optional tables that were absent are ``None``.

    ``export`` is set when the tables hold only some accounts' rows (``load_tables(accounts=...)``,
    ``explain.history.tables_for_accounts``): the export-wide facts then come from it.
    """

    accounts: pd.DataFrame
    contracts: pd.DataFrame
    usage: pd.DataFrame
    support_tickets: pd.DataFrame | None = None
    nps: pd.DataFrame | None = None
    relationship_events: pd.DataFrame | None = None
    invoices: pd.DataFrame | None = None
    missing_tables: tuple[str, ...] = field(default=())
    sources: dict[str, Path] = field(default_factory=dict)
    export: ExportFacts | None = None

    def get(self, name: str) -> pd.DataFrame | None:
        return getattr(self, name)

    @property
    def data_end(self) -> pd.Timestamp:
        """The last day the data describes: the latest dated event in any activity table.

        Contract dates are left out on purpose: contracts are signed for the future, so
        their end dates say nothing about how far the export reaches.
        """
        if self.export is not None:
            return self.export.data_end
        return _latest_event({name: self.get(name) for name in _EVENT_TABLES})

    @property
    def next_day(self) -> pd.Timestamp:
        """Today, as far as the data knows: the day after the last day it describes (every ``--as-of`` default)."""
        return (self.data_end + pd.Timedelta(days=1)).normalize()

    @property
    def usage_start(self) -> pd.Timestamp:
        """The first day of the usage export: before it, no account was observed."""
        return self.export.usage_start if self.export is not None else pd.Timestamp(self.usage["date"].min())

    @property
    def usage_metrics(self) -> list[str]:
        """Every usage metric name in the export, sorted."""
        return list(self.export.usage_metrics) if self.export is not None else metric_vocabulary(self.usage)

    def facts(self) -> ExportFacts:
        """The export-wide facts of these tables, to keep beside a subset of their accounts."""
        return self.export or ExportFacts(self.usage_start, self.data_end, tuple(self.usage_metrics))


_EVENT_TABLES = [t.name for t in TABLES if t.events_dated_by]


def metric_vocabulary(usage: pd.DataFrame) -> list[str]:
    """Every metric name in the usage table, sorted.

    Taken once from the whole export and handed to every partition, so a partition whose
    accounts never used some metric still builds its columns the same way (zero, not missing).
    """
    return sorted(str(m) for m in pd.unique(usage["metric"].astype("str")))


def _latest_event(frames: dict[str, pd.DataFrame | None]) -> pd.Timestamp:
    """The latest value of any column that dates an event (``Table.events_dated_by``), as a day."""
    stamps = []
    for table in TABLES:
        frame = frames.get(table.name)
        if frame is not None and len(frame):
            stamps += [frame[c].max() for c in table.events_dated_by if c in frame]
    return pd.Timestamp(max(s for s in stamps if pd.notna(s))).normalize()


# --------------------------------------------------------------------------- messages


class RowReference:
    """Turns 0-based row positions into the row references a person can find in the file."""

    def __init__(self, path: Path):
        self.path = path
        self.is_csv = path.suffix.lower() == ".csv"

    def rows(self, positions: Iterable[int], values: Iterable[object] | None = None) -> str:
        positions = list(positions)
        shown = positions[:MAX_SHOWN_ROWS]
        label = "line" if self.is_csv else "row"
        offset = 2 if self.is_csv else 1
        if values is None:
            refs = [f"{label} {p + offset}" for p in shown]
        else:
            refs = [f"{label} {p + offset} ({v!s})" for p, v in zip(shown, list(values)[:MAX_SHOWN_ROWS], strict=False)]
        more = f" and {len(positions) - len(shown)} more" if len(positions) > len(shown) else ""
        return ", ".join(refs) + more

    def fail(self, column: str | tuple[str, ...] | None, problem: str, expected: str) -> DataError:
        if isinstance(column, tuple):
            named = f", columns {', '.join(repr(c) for c in column)}"
        else:
            named = f", column '{column}'" if column else ""
        return DataError(f"{self.path}{named}: {problem}. Expected {expected}.")


_SINGULAR = {"are": "is", "have": "has", "repeat": "repeats", "end": "ends", "close": "closes", "refer": "refers"}


def _fail_rows(
    where: RowReference,
    column: str | tuple[str, ...],
    mask: np.ndarray,
    values: pd.Series | None,
    problem: str,
    expected: str,
) -> None:
    """Raise one DataError naming up to five offending rows (and their values, when there are any to show).

    ``problem`` is phrased for several rows ("are not dates"); one row gets the singular verb.
    """
    positions = np.flatnonzero(mask)
    if not len(positions):
        return
    if len(positions) == 1:
        verb, _, rest = problem.partition(" ")
        problem = f"{_SINGULAR.get(verb, verb)} {rest}"
    shown = None if values is None else values.iloc[positions[:MAX_SHOWN_ROWS]].tolist()
    count = f"{len(positions)} row{'s' if len(positions) > 1 else ''}"
    raise where.fail(column, f"{count} {problem}: {where.rows(positions, shown)}", expected)


# --------------------------------------------------------------------------- reading


def find_table_file(data_dir: Path, name: str) -> Path | None:
    """The file holding table ``name``, or None. Having both a CSV and a Parquet file is ambiguous."""
    found = [p for p in (data_dir / f"{name}.csv", data_dir / f"{name}.parquet") if p.exists()]
    if len(found) > 1:
        raise DataError(
            f"{data_dir}: both {found[0].name} and {found[1].name} exist. "
            f"Expected exactly one file for table '{name}'; remove the one that is out of date."
        )
    return found[0] if found else None


def _check_csv_text(path: Path, table: Table) -> list[str]:
    """Catch the wrong encoding or delimiter before a parser turns it into a confusing message."""
    with path.open("rb") as fh:
        sample = fh.read(1 << 20)
    if not sample.removeprefix(b"\xef\xbb\xbf").strip():
        raise DataError(f"{path}: the file is empty. Expected a header row and at least one data row.")
    try:
        text = sample.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if len(sample) < 1 << 20 or err.start < len(sample) - 4:  # not a character cut by the sample boundary
            line = sample[: err.start].count(b"\n") + 1
            raise DataError(
                f"{path}: the file is not UTF-8 (byte 0x{sample[err.start]:02x} on line {line} cannot be decoded). "
                "Expected UTF-8 text; re-export the file as 'CSV UTF-8'."
            ) from None
        text = sample[: err.start].decode("utf-8-sig")
    header = text.splitlines()[0] if text.splitlines() else ""
    if "," not in header and len(table.required_columns) > 1:
        for delimiter, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delimiter in header:
                raise DataError(
                    f"{path}: the header looks separated by {name} ({header[:80]!r}). "
                    "Expected a comma-separated file; re-export with ',' as the delimiter."
                )
    return next(csv.reader([header]), [])


def _read_csv(path: Path, table: Table) -> pa.Table:
    header = _check_csv_text(path, table)
    # Known columns are read as text and parsed below, so every bad cell can be named. Only an
    # empty cell is missing: pyarrow's default null tokens would turn region "NA" into nothing.
    names = {c.name for c in table.columns}
    text = pa.dictionary(pa.int32(), pa.string())
    known = {h: text if h.strip() in _repeated(table) else pa.string() for h in header if h.strip() in names}
    convert = pacsv.ConvertOptions(column_types=known, strings_can_be_null=True, null_values=[""])
    try:
        arrow = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24), convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        message = str(err).split("\n")[0]
        if "UTF8" in message or isinstance(err, UnicodeDecodeError):
            raise DataError(
                f"{path}: the file is not valid UTF-8 ({message}). Expected UTF-8 text; re-export as 'CSV UTF-8'."
            ) from None
        ragged = _ragged_rows(path, convert)
        if ragged:
            expected = ragged[0].expected_columns
            lines = RowReference(path).rows(
                [r.number - 2 for r in ragged], [f"{r.actual_columns} fields" for r in ragged]
            )
            raise DataError(
                f"{path}: {len(ragged)} line{'s do' if len(ragged) > 1 else ' does'} not have the header's {expected} "
                f"fields: {lines}. Expected a comma-separated file with the same number of fields on every line "
                "(quote values that contain commas)."
            ) from None
        raise DataError(
            f"{path}: the file could not be parsed as CSV ({message}). "
            "Expected a comma-separated file with the same number of fields on every line."
        ) from None
    return arrow


def _ragged_rows(path: Path, convert: pacsv.ConvertOptions) -> list:
    """Lines whose field count differs from the header's; read again single-threaded so pyarrow numbers them."""
    ragged = []

    def note(row):
        ragged.append(row)
        return "skip"

    options = pacsv.ReadOptions(use_threads=False, block_size=1 << 24)
    with contextlib.suppress(pa.ArrowInvalid):  # a later conversion error: the lines noted so far still count
        parse = pacsv.ParseOptions(invalid_row_handler=note)
        pacsv.read_csv(path, read_options=options, parse_options=parse, convert_options=convert)
    return [r for r in ragged if r.number is not None]


def _read_parquet(path: Path, table: Table) -> pa.Table:
    try:
        schema = pq.read_schema(path)
        as_dictionary = [
            field.name
            for field in schema
            if field.name.strip() in _repeated(table)
            and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type))
        ]
        return pq.read_table(path, read_dictionary=as_dictionary)
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{path}: the file could not be read as Parquet ({err}). Expected a Parquet file.") from None


def _repeated(table: Table) -> set[str]:
    return {c.name for c in table.columns if c.repeated}


def read_raw(path: Path, table: Table) -> pd.DataFrame:
    """Read one table file without interpreting its values.

    Columns whose values repeat over many rows (the usage table's account and metric) are
    dictionary-encoded on the way in: they arrive as categoricals, and every later check and
    look-up works once per distinct value instead of once per row.
    """
    arrow = _read_csv(path, table) if path.suffix.lower() == ".csv" else _read_parquet(path, table)
    arrow = arrow.rename_columns([str(c).strip() for c in arrow.column_names])
    # self_destruct frees each Arrow column as pandas takes it over, instead of holding both
    # copies; release_unused hands the freed pages back, or the pool keeps them for the whole run.
    frame = arrow.to_pandas(self_destruct=True, split_blocks=True)
    del arrow
    pa.default_memory_pool().release_unused()
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- parsing


def _is_blank(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        blank_category = np.append(values.cat.categories.astype("str").str.strip() == "", True)
        return blank_category[values.cat.codes.to_numpy()]  # code -1 (missing) reads the trailing True
    if values.dtype.kind in "fc":
        return values.isna().to_numpy()
    blank = values.isna()
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)):
        blank |= values.astype("str").str.strip().eq("")
    return blank.to_numpy(dtype=bool)


# An ISO 8601 timestamp's UTC offset (Z, +02:00, -0500, +05), after a time of day. A date alone has none.
_OFFSET = re.compile(
    r"^(\d{4}-?\d{2}-?\d{2}[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?)\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
)
_DATE_ONLY_LENGTH = len("2024-06-03")


def _drop_offsets(text: pd.Series) -> pd.Series:
    """Timestamps as the wall-clock time they state: ``2025-04-01T00:00:00+02:00`` is 1 April, 00:00.

    A date column is a calendar date as the exporting system saw it, so an offset is dropped,
    never applied: converting to UTC would move that midnight to 31 March. Done in Arrow
    (RE2), and skipped when no value is longer than a date, so a daily usage column of tens
    of millions of rows pays one length check.
    """
    arrow = pa.array(text.array)
    longest = pc.max(pc.utf8_length(arrow)).as_py()
    if longest is None or longest <= _DATE_ONLY_LENGTH:
        return text
    stated = pc.replace_substring_regex(arrow, _OFFSET.pattern, r"\1")
    return pd.Series(stated, index=text.index, dtype=text.dtype)


def _parse_dates(values: pd.Series, where: RowReference, column: Column) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_localize(None)  # the wall-clock time in the column's own zone, as with text offsets
    elif pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = _drop_offsets(values.astype("str").str.strip())
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True).dt.tz_localize(None)
    bad = parsed.isna().to_numpy() & ~_is_blank(values)
    _fail_rows(where, column.name, bad, values, "are not dates", "ISO dates such as 2024-06-03 or 2024-06-03T09:12:00")
    return parsed.astype("datetime64[us]")


def _parse_numbers(values: pd.Series, where: RowReference, column: Column) -> pd.Series:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        # No thousands separators are stripped: "48000,50" may be a decimal comma, and a silent
        # misreading of ARR is worse than an error that asks for plain numbers.
        text = values.astype("str").str.strip()
        parsed = pd.to_numeric(text.where(text != ""), errors="coerce")
    else:
        parsed = values
    parsed = parsed.astype("float64")
    bad = (~np.isfinite(parsed.to_numpy()) & ~_is_blank(values)) | np.isinf(parsed.to_numpy())
    _fail_rows(
        where,
        column.name,
        bad,
        values,
        "are not numbers",
        "plain numbers such as 1200 or 0.15 (no thousands separators, a dot for decimals)",
    )
    return parsed


def _parse_bools(values: pd.Series, where: RowReference, column: Column) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = values.astype("str").str.strip().str.lower()
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[text.isin(_TRUE)] = True
    parsed[text.isin(_FALSE)] = False
    bad = parsed.isna().to_numpy() & ~_is_blank(values)
    _fail_rows(where, column.name, bad, values, "are not true/false values", "true/false, yes/no, 1/0 or t/f")
    return parsed


def _parse_text(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Strip and blank out per distinct value; categories that strip to the same text merge.
        stripped = values.cat.categories.astype("str").str.strip()
        merged, uniques = pd.factorize(stripped.where(stripped != "", None), use_na_sentinel=True)
        lookup = np.append(merged, -1).astype(np.int32)  # code -1 (missing) reads the trailing -1
        new_codes = lookup[values.cat.codes.to_numpy()]
        return pd.Series(pd.Categorical.from_codes(new_codes, categories=uniques.astype("str")), index=values.index)
    text = values.astype("str").str.strip()
    return text.where(~pd.Series(_is_blank(values), index=values.index), None).astype("str")


def _parse_column(values: pd.Series, where: RowReference, column: Column) -> pd.Series:
    if column.kind == "date":
        return _parse_dates(values, where, column)
    if column.kind == "day":
        return _parse_dates(values, where, column).dt.floor("D")
    if column.kind in ("number", "integer"):
        return _parse_numbers(values, where, column)
    if column.kind == "bool":
        return _parse_bools(values, where, column)
    parsed = _parse_text(values)
    if column.kind == "choice":
        lowered = parsed.str.lower()
        bad = ~lowered.isin(column.choices).to_numpy() & ~_is_blank(values)
        _fail_rows(where, column.name, bad, values, "have an unknown value", "one of " + ", ".join(column.choices))
        parsed = lowered
    return parsed


def _check_rules(values: pd.Series, original: pd.Series, where: RowReference, column: Column) -> None:
    """Enforce the column's rules on its parsed values; offending rows are shown as they were in the file."""
    if not column.nullable:
        _fail_rows(where, column.name, values.isna().to_numpy(), None, "are empty", "a value in every row")
    if column.kind in ("number", "integer"):
        numbers = values.to_numpy()
        if column.minimum is not None:
            _fail_rows(
                where,
                column.name,
                numbers < column.minimum,
                original,
                f"are below {column.minimum:g}",
                f"values >= {column.minimum:g}",
            )
        if column.maximum is not None:
            _fail_rows(
                where,
                column.name,
                numbers > column.maximum,
                original,
                f"are above {column.maximum:g}",
                f"values <= {column.maximum:g}",
            )
        if column.below is not None:
            _fail_rows(
                where,
                column.name,
                numbers >= column.below,
                original,
                f"are {column.below:g} or more",
                f"values below {column.below:g} (a fraction, e.g. 0.15 for 15%)",
            )
    if column.unique:
        dup = values.duplicated(keep=False).to_numpy() & values.notna().to_numpy()
        _fail_rows(where, column.name, dup, original, "repeat an id", f"each {column.name} to appear once")
    if column.must_include:
        _check_included(values, where, column)


MAX_SHOWN_VALUES = 10


def _squashed(name: str) -> str:
    """A name with case and separators gone: "ActiveUsers", "active-users" and "Active Users" all match."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _check_included(values: pd.Series, where: RowReference, column: Column) -> None:
    """Values the features need (the usage metric ``active_users``) must be in at least one row.

    Without this a renamed metric passes every row check and the features computed from it are
    silently missing for every account. The message lists what was found, near-misses first.
    """
    absent = [v for v in column.must_include if not values.eq(v).any()]
    if not absent:
        return
    present = values.dropna()
    found = sorted(
        {
            str(v)
            for v in (
                present.cat.remove_unused_categories().cat.categories
                if isinstance(present.dtype, pd.CategoricalDtype)
                else present.unique()
            )
        }
    )
    near = [f for f in found if any(_squashed(f) == _squashed(a) for a in absent)]
    listed = near + [f for f in found if f not in near]
    shown = ", ".join(repr(f) for f in listed[:MAX_SHOWN_VALUES])
    if len(listed) > MAX_SHOWN_VALUES:
        shown += f" and {len(listed) - MAX_SHOWN_VALUES} more"
    missing = " and ".join(repr(a) for a in absent)
    hint = f"; {' and '.join(repr(n) for n in near)} looks renamed" if near else ""
    raise where.fail(
        column.name,
        f"no row has {missing} (found {len(found)} distinct value{'s' if len(found) != 1 else ''}: {shown}{hint})",
        f"{' and '.join(column.must_include)} spelled exactly so, because {column.must_include_why}; "
        "rename it in the export",
    )


def parse_table(raw: pd.DataFrame, table: Table, path: Path) -> pd.DataFrame:
    """Check columns, parse every known column to its type and enforce the column rules."""
    where = RowReference(path)
    if raw.empty:
        raise where.fail(None, "the table has no data rows", f"at least one row of {table.name}")
    missing = [c for c in table.required_columns if c not in raw.columns]
    if missing:
        raise where.fail(
            missing[0],
            f"required column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing (found: {', '.join(map(str, raw.columns))})",
            f"the columns {', '.join(table.required_columns)}",
        )
    frame = raw.copy(deep=False)  # columns are replaced one by one, never copied: usage can be tens of millions of rows
    for column in table.columns:
        if column.name not in frame.columns:
            frame[column.name] = pd.Series(None, index=frame.index, dtype=_empty_dtype(column))
            continue
        original = frame[column.name]
        frame[column.name] = _parse_column(original, where, column)
        _check_rules(frame[column.name], original, where, column)
        del original
    if table.unique_together:
        key = list(table.unique_together)
        dup = _duplicated(frame, key)
        shown = frame[key].astype("str").agg(" / ".join, axis=1) if dup.any() else frame[key[0]]
        _fail_rows(
            where,
            key[-1],
            dup,
            shown,
            f"repeat the same {' / '.join(key)}",
            f"one row per {', '.join(key)} (sum duplicates before exporting)",
        )
    if table.keyless:
        _check_repeated_rows(raw, frame, table, where)
    _check_table_rules(frame, table, where)
    return frame


def _check_repeated_rows(raw: pd.DataFrame, frame: pd.DataFrame, table: Table, where: RowReference) -> None:
    """A table without an id must not hold a row twice: an export run twice would double its counts.

    Rows count as copies when every column is the same, extra columns included (a response_id
    tells two like responses apart); known columns compare as parsed, so 2024-05-20 and
    2024-05-20T00:00:00 are the same day. The rows are shown as they are in the file.
    """
    known = [c.name for c in table.columns]
    extra = [c for c in frame.columns if c not in known]
    try:
        dup = frame[known + extra].duplicated(keep=False).to_numpy()
    except TypeError:  # an extra Parquet column of lists or maps: compare the contract's columns
        dup = frame[known].duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    shown_columns = [c for c in known if c in raw.columns]
    shown = raw[shown_columns].astype("str").fillna("").agg(" / ".join, axis=1)
    _fail_rows(
        where,
        tuple(shown_columns),
        dup,
        shown,
        "are exact copies of another row",
        "each row once (a repeated row is counted twice); remove the copies, or, if they are distinct "
        "records, export a column that tells them apart, such as a response or event id",
    )


def _empty_dtype(column: Column) -> str:
    return {
        "date": "datetime64[us]",
        "day": "datetime64[us]",
        "number": "float64",
        "integer": "float64",
        "bool": "boolean",
    }.get(column.kind, "str")


def _duplicated(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    """Rows whose key repeats.

    The key's columns become one int64 (category codes and day numbers need no hashing),
    sorted in place to find repeats: far faster and lighter than comparing tuples on tens of
    millions of usage rows. Only when a repeat exists is the key rebuilt to point at rows.
    """
    combined = _combined_key(frame, key)
    if combined is None:
        return frame.duplicated(key, keep=False).to_numpy()
    combined.sort()
    if not (combined[1:] == combined[:-1]).any():
        return np.zeros(len(frame), dtype=bool)
    repeated = np.unique(combined[1:][combined[1:] == combined[:-1]])
    return np.isin(_combined_key(frame, key), repeated)


def _combined_key(frame: pd.DataFrame, key: list[str]) -> np.ndarray | None:
    """One int64 per row that is equal exactly when the key columns are; None if it would not fit."""
    combined = np.zeros(len(frame), dtype=np.int64)
    room = 1
    for column in key:
        codes, size = _small_codes(frame[column])
        room *= size
        if room >= 2**62:
            return None
        combined *= size
        combined += codes  # in place: no full-length temporary per column
    return combined


def _whole_days(ticks: np.ndarray, per_day: int, chunk: int = 1 << 22) -> bool:
    """True when every timestamp is midnight; checked in chunks to keep temporaries small."""
    return not any((ticks[i : i + chunk] % per_day).any() for i in range(0, len(ticks), chunk))


def _small_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Non-negative int codes for a column and how many distinct codes there can be."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        return np.add(codes, 1, dtype=np.int64), len(values.cat.categories) + 1
    if pd.api.types.is_datetime64_any_dtype(values) and len(values) and not values.isna().any():
        ticks = values.to_numpy().view(np.int64)
        per_day = np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(values.dtype)[0])
        low, high = ticks.min(), ticks.max()
        if (high - low) // per_day < 2**31 and _whole_days(ticks, per_day):  # day numbers are exact
            days = ticks // per_day
            days -= low // per_day
            return days, int(high // per_day - low // per_day) + 1
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64) + 1, len(uniques) + 1


def _check_table_rules(frame: pd.DataFrame, table: Table, where: RowReference) -> None:
    """Rules that relate two columns of the same row."""
    if table.name == "contracts":
        bad = (frame["end_date"] <= frame["start_date"]).to_numpy()
        shown = (
            frame["contract_id"]
            + ": "
            + frame["start_date"].dt.strftime("%Y-%m-%d")
            + " to "
            + frame["end_date"].dt.strftime("%Y-%m-%d")
        )
        _fail_rows(where, "end_date", bad, shown, "end on or before their start_date", "end_date after start_date")
    if table.name == "support_tickets":
        bad = (frame["closed_at"] < frame["opened_at"]).fillna(False).to_numpy()
        _fail_rows(
            where,
            "closed_at",
            bad,
            frame["ticket_id"],
            "close before they opened",
            "closed_at on or after opened_at, or empty while open",
        )


def _check_account_references(tables: dict[str, pd.DataFrame], paths: dict[str, Path]) -> None:
    known = pd.Index(tables["accounts"]["account_id"])
    for name, frame in tables.items():
        if name == "accounts" or "account_id" not in frame.columns:
            continue
        unknown = ~frame["account_id"].isin(known).to_numpy()
        _fail_rows(
            RowReference(paths[name]),
            "account_id",
            unknown,
            frame["account_id"],
            "refer to accounts that are not in the accounts table",
            "every account_id to exist in accounts",
        )


# --------------------------------------------------------------------------- entry point


def load_table(path: Path, table: Table) -> pd.DataFrame:
    """Read and validate one table file."""
    return parse_table(read_raw(path, table), table, path)


def _account_filter(arrow: pa.Table, accounts: list[str]) -> pa.Table:
    """Only the rows of these accounts (every table keys its rows by account_id)."""
    if "account_id" not in arrow.column_names:
        return arrow
    ids = arrow.column("account_id")
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(ids.type.value_type)
    return arrow.filter(pc.is_in(ids.cast(pa.string()), value_set=pa.array(accounts, pa.string())))


def _read_accounts(path: Path, table: Table, accounts: list[str]) -> pd.DataFrame:
    """The raw rows of ``accounts`` only: a Parquet file is filtered as it is read, a CSV file after parsing."""
    if path.suffix.lower() == ".csv":
        arrow = _read_csv(path, table)
    else:
        try:
            arrow = pq.read_table(path, read_dictionary=[], filters=[("account_id", "in", accounts)])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, KeyError):
            arrow = _read_parquet(path, table)  # no account_id column, or a type the filter cannot compare
    arrow = _account_filter(arrow.rename_columns([str(c).strip() for c in arrow.column_names]), accounts)
    return arrow.to_pandas().reset_index(drop=True)


def load_accounts_table(path: Path, table: Table, accounts: list[str]) -> pd.DataFrame:
    """Read and validate the rows of ``accounts`` in one table file (an empty, typed table when there are none).

    The subset is held to the same contract. When it breaks a rule, the whole file is loaded
    instead: the error then names the file's real line numbers, and a rule that holds of the
    export but not of a subset (the usage metric the model needs, absent for one account)
    does not stop a command about one account.
    """
    raw = _read_accounts(path, table, accounts)
    if raw.empty and set(table.required_columns) <= set(raw.columns):
        return pd.DataFrame({c.name: pd.Series(dtype=_empty_dtype(c)) for c in table.columns})
    try:
        return parse_table(raw, table, path)
    except DataError:
        whole = load_table(path, table)
        return whole[whole["account_id"].astype("str").isin(accounts).to_numpy()].reset_index(drop=True)


def _distinct_values(path: Path, table: Table, name: str) -> pa.Array:
    """The distinct raw values of one column of a whole table file, read a block at a time (bounded memory)."""
    found = []
    if path.suffix.lower() == ".csv":
        header = [h for h in _check_csv_text(path, table) if h.strip() == name]
        if not header:
            return pa.array([], pa.string())
        convert = pacsv.ConvertOptions(
            include_columns=header[:1],
            column_types={header[0]: pa.string()},
            strings_can_be_null=True,
            null_values=[""],
        )
        with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24), convert_options=convert) as rows:
            found = [pc.unique(batch.column(0)) for batch in rows]
    else:
        columns = [f.name for f in pq.read_schema(path) if f.name.strip() == name]
        parquet = pq.ParquetFile(path, read_dictionary=columns)  # text arrives as codes: unique over ints
        if not columns:
            return pa.array([], pa.string())
        for group in range(parquet.num_row_groups):
            column = parquet.read_row_group(group, columns=columns[:1]).column(0).combine_chunks()
            if pa.types.is_dictionary(column.type):
                column = column.dictionary.take(pc.unique(column.indices))
            found.append(pc.unique(column))
    if not found:
        return pa.array([], pa.string())
    return pc.unique(pa.chunked_array(found).combine_chunks())


def _distinct_parsed(path: Path, table: Table, name: str) -> pd.Series:
    """The distinct values of a column, parsed as ``load_table`` parses it.

    Only the distinct values are parsed (about a thousand days, ten metric names, out of
    millions of rows). A value that does not parse sends the whole file through
    ``load_table``, whose error names the real rows.
    """
    values = pd.Series(_distinct_values(path, table, name).to_pandas(), dtype=object)
    column = table.column(name)
    if column.kind in ("text", "choice", "id"):
        return values.dropna().astype("str")
    try:
        return _parse_column(values, RowReference(path), column).dropna()
    except DataError:
        load_table(path, table)
        raise


def export_facts(paths: dict[str, Path]) -> ExportFacts:
    """The export-wide facts, from the distinct values of the dating and metric columns only, not from every row."""
    usage = TABLES_BY_NAME["usage"]
    days = _distinct_parsed(paths["usage"], usage, "date")
    metrics = tuple(sorted(_distinct_parsed(paths["usage"], usage, "metric")))
    dated = {"usage": pd.DataFrame({"date": days})}
    for name in _EVENT_TABLES:
        if name in paths and name != "usage":
            table = TABLES_BY_NAME[name]
            dated[name] = pd.DataFrame(
                {c: _distinct_parsed(paths[name], table, c).max() for c in table.events_dated_by}, index=[0]
            )
    return ExportFacts(pd.Timestamp(days.min()), _latest_event(dated), metrics)


def load_tables(
    data_dir: Path | str,
    tables: Iterable[Table] = TABLES,
    on_table: Callable[[str, int, int], None] | None = None,
    accounts: Iterable[str] | None = None,
) -> Tables:
    """Read, validate and cross-check every table in ``data_dir``.

    Raises ``DataError`` with a message for the person who made the export. ``on_table(name,
    done, total)`` is called as each table is done (or found absent), for a progress bar.
    ``accounts`` reads only those accounts' rows (a command about one account need not hold
    11 million usage rows), with the export-wide facts kept beside them (``Tables.export``).
    """
    wanted = None if accounts is None else sorted({str(a) for a in accounts})
    tables = list(tables)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(
            f"{data_dir}: no such data directory. Expected a directory holding accounts, contracts and usage files."
        )
    frames: dict[str, pd.DataFrame] = {}
    paths: dict[str, Path] = {}
    missing: list[str] = []
    for done, table in enumerate(tables, start=1):
        path = find_table_file(data_dir, table.name)
        if path is None:
            if table.required:
                raise DataError(
                    f"{data_dir}: required table '{table.name}' is missing. "
                    f"Expected a file named {table.name}.csv or {table.name}.parquet (see docs/data-contract.md)."
                )
            missing.append(table.name)
        else:
            frames[table.name] = load_table(path, table) if wanted is None else load_accounts_table(path, table, wanted)
            paths[table.name] = path
        if on_table:
            on_table(table.name, done, len(tables))
    _check_account_references(frames, paths)
    export = None if wanted is None else export_facts(paths)
    return Tables(**frames, missing_tables=tuple(missing), sources=paths, export=export)
