"""The input loader: every way a real export goes wrong is one readable ``DataError``.

A valid export is written as plain CSV text into a temporary directory; each failure test
breaks one cell, line, column or file and checks that the message names the file, the
column, the offending lines (CSV lines count the header as line 1) and what was expected.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.load import DataError, load_tables
from features.schema import TABLES

OPTIONAL = tuple(t.name for t in TABLES if not t.required)

# A small valid export. Line numbers used below count the header as line 1.
VALID: dict[str, list[str]] = {
    "accounts": [
        "account_id,name,segment,industry,region,created_at",
        "00042,Northwind Labs,mid_market,software,emea,2022-03-14",  # line 2
        "A2,Contoso,smb,retail,NA,2022-05-01",  # line 3
        "A3,Fabrikam,enterprise,software,apac,2021-11-20",  # line 4
    ],
    "contracts": [
        "contract_id,account_id,start_date,end_date,arr,seats,plan,discount_pct,auto_renew",
        "C1,00042,2023-04-01,2024-04-01,48000,60,pro,0.15,false",  # line 2
        "C2,00042,2024-04-01,2025-04-01,52000,60,pro,0.1,true",  # line 3
        "C3,A2,2023-06-01,2024-06-01,12000,10,basic,,",  # line 4
        "C4,A3,2023-01-01,2024-01-01,90000,200,enterprise,0,yes",  # line 5
    ],
    "usage": [
        "account_id,date,metric,value",
        "00042,2024-06-03,active_users,37",  # line 2
        "00042,2024-06-03,feature.reports,5",  # line 3
        "00042,2024-06-04,active_users,35",  # line 4
        "A2,2024-06-03,active_users,8",  # line 5
        "A3,2024-06-03,logins,120",  # line 6
    ],
    "support_tickets": [
        "ticket_id,account_id,opened_at,closed_at,priority,csat,escalated",
        "T1,00042,2024-06-03T09:12:00,2024-06-05T16:40:00,high,4,false",  # line 2
        "T2,A2,2024-06-10T10:00:00,,normal,,",  # line 3
    ],
    "nps": [
        "account_id,responded_at,score",
        "00042,2024-05-20,8",  # line 2
        "A3,2024-05-21,3",  # line 3
    ],
    "relationship_events": [
        "account_id,date,event",
        "A2,2024-08-12,champion_left",  # line 2
    ],
    "invoices": [
        "account_id,invoice_id,due_date,paid_at,amount,status",
        "00042,INV-1,2024-07-01,2024-07-09,4000,paid",  # line 2
        "A2,INV-2,2024-07-01,,1000,overdue",  # line 3
    ],
}


def write_table(directory: Path, name: str, lines: list[str], encoding: str = "utf-8") -> Path:
    """Write ``lines`` as ``<name>.csv`` (newline-terminated) and return its path."""
    path = directory / f"{name}.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def set_cell(directory: Path, name: str, line: int, column: str, value: str) -> Path:
    """Overwrite one cell of ``<name>.csv``; ``line`` counts the header as line 1."""
    path = directory / f"{name}.csv"
    rows = read_rows(path)
    rows[line - 1][rows[0].index(column)] = value
    return write_rows(path, rows)


def drop_column(directory: Path, name: str, column: str) -> Path:
    path = directory / f"{name}.csv"
    rows = read_rows(path)
    at = rows[0].index(column)
    return write_rows(path, [row[:at] + row[at + 1 :] for row in rows])


def load_error(directory: Path) -> str:
    """The message of the DataError that loading ``directory`` raises."""
    with pytest.raises(DataError) as caught:
        load_tables(directory)
    return str(caught.value)


def assert_reports(
    message: str, path: Path, expected: str, column: str | None = None, refs: tuple[str, ...] = ()
) -> None:
    """One paragraph naming the file, the column, each row reference and what was expected."""
    assert "\n" not in message, message
    assert str(path) in message, message
    if column is not None:
        assert f"column '{column}'" in message, message
    for ref in refs:
        assert re.search(rf"\b{re.escape(ref)}\b", message), f"{ref!r} not in {message!r}"
    assert "Expected" in message and expected in message, message


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """A valid export with every table as CSV."""
    directory = tmp_path / "export"
    directory.mkdir()
    for name, lines in VALID.items():
        write_table(directory, name, lines)
    return directory


# --------------------------------------------------------------------------- valid input


def test_valid_export_loads_with_parsed_types(export_dir):
    """The fixture itself is valid: every table loads, typed, with nothing missing."""
    tables = load_tables(export_dir)
    assert tables.missing_tables == ()
    assert len(tables.accounts) == 3 and len(tables.contracts) == 4 and len(tables.usage) == 5
    assert tables.contracts["start_date"].dtype == "datetime64[us]"
    assert tables.contracts["arr"].dtype == "float64"
    assert tables.contracts["auto_renew"].tolist()[:2] == [False, True]
    assert pd.isna(tables.contracts["auto_renew"].iloc[2])
    assert pd.isna(tables.support_tickets["closed_at"].iloc[1])


@pytest.mark.parametrize("identifier", ["00042", "007", "1e5", "-0", "0x1F", "true"])
def test_numeric_looking_ids_stay_strings(export_dir, identifier):
    """Ids are text: leading zeros, exponents and booleans survive, and references still match."""
    set_cell(export_dir, "accounts", 2, "account_id", identifier)
    for line in (2, 3):
        set_cell(export_dir, "contracts", line, "account_id", identifier)
    for line in (2, 3, 4):
        set_cell(export_dir, "usage", line, "account_id", identifier)
    for name in ("support_tickets", "nps", "invoices"):
        set_cell(export_dir, name, 2, "account_id", identifier)
    tables = load_tables(export_dir)
    assert tables.accounts["account_id"].iloc[0] == identifier
    assert tables.contracts["account_id"].iloc[0] == identifier


def test_null_like_text_is_kept(export_dir):
    """Only an empty cell is missing: region "NA" (North America) stays "NA"."""
    tables = load_tables(export_dir)
    assert tables.accounts.loc[tables.accounts["account_id"] == "A2", "region"].item() == "NA"


def test_padded_header_names_are_accepted(export_dir):
    """Spaces around header names are ignored, and the all-digit ids under them are still read as text."""
    write_table(export_dir, "nps", [" account_id , responded_at , score ", "00042,2024-05-20,8", "00042,2024-05-21,9"])
    nps = load_tables(export_dir).nps
    assert nps["account_id"].tolist() == ["00042", "00042"]
    assert nps["responded_at"].tolist() == [pd.Timestamp("2024-05-20"), pd.Timestamp("2024-05-21")]


def test_extra_unknown_columns_are_not_an_error(export_dir):
    """Columns outside the contract are kept or ignored; the known columns load unchanged."""
    expected = load_tables(export_dir)
    for name in ("accounts", "usage"):
        rows = read_rows(export_dir / f"{name}.csv")
        extra = [["owner_email"]] + [["n/a"] for _ in rows[1:]]
        write_rows(export_dir / f"{name}.csv", [row + more for row, more in zip(rows, extra, strict=True)])
    tables = load_tables(export_dir)
    for name in ("accounts", "usage"):
        known = list(expected.get(name).columns)
        pd.testing.assert_frame_equal(tables.get(name)[known], expected.get(name))


def test_optional_columns_may_be_absent(export_dir):
    """A contracts file with only the required columns loads; the others come back empty."""
    for column in ("seats", "plan", "discount_pct", "auto_renew"):
        drop_column(export_dir, "contracts", column)
    contracts = load_tables(export_dir).contracts
    assert contracts["seats"].isna().all() and contracts["seats"].dtype == "float64"
    assert contracts["auto_renew"].isna().all() and contracts["auto_renew"].dtype == "boolean"
    assert contracts["plan"].isna().all()


def test_all_optional_tables_absent_are_listed(export_dir):
    """Without the optional tables the load succeeds and names each one in missing_tables."""
    for name in OPTIONAL:
        (export_dir / f"{name}.csv").unlink()
    tables = load_tables(export_dir)
    assert tables.missing_tables == OPTIONAL
    assert all(tables.get(name) is None for name in OPTIONAL)


@pytest.mark.parametrize("name", OPTIONAL)
def test_one_optional_table_absent_is_listed(export_dir, name):
    """Only the absent table is listed; the others still load."""
    (export_dir / f"{name}.csv").unlink()
    tables = load_tables(export_dir)
    assert tables.missing_tables == (name,)
    assert all(tables.get(other) is not None for other in OPTIONAL if other != name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", True),
        ("no", False),
        ("1", True),
        ("F", False),
        ("TRUE", True),
        (" t ", True),
        ("n", False),
        ("0", False),
    ],
)
def test_boolean_spellings_parse(export_dir, text, expected):
    """true/false, yes/no, 1/0 and t/f in any case (and padded) are booleans."""
    set_cell(export_dir, "contracts", 2, "auto_renew", text)
    assert load_tables(export_dir).contracts["auto_renew"].iloc[0] == expected


DATE_COLUMNS = [(t.name, c.name, c.kind) for t in TABLES for c in t.columns if c.kind in ("date", "day")]


@pytest.mark.parametrize(("time", "offset"), [("00:00:00", "+02:00"), ("23:30:00", "-05:00"), ("00:15", "+0530")])
@pytest.mark.parametrize(("name", "column", "kind"), DATE_COLUMNS, ids=[f"{t}.{c}" for t, c, _ in DATE_COLUMNS])
def test_timezone_offsets_keep_the_stated_date(export_dir, name, column, kind, time, offset):
    """Every date column of every table reads a timestamp with an offset as the date and time it states.

    2025-04-01T00:00:00+02:00 is 1 April (converting to UTC would make it 31 March), and
    23:30-05:00 stays on its day (UTC would move it to the next); plain dates mix in fine.
    """
    day = read_rows(export_dir / f"{name}.csv")[1][VALID[name][0].split(",").index(column)][:10]
    set_cell(export_dir, name, 2, column, f"{day}T{time}{offset}")
    parsed = load_tables(export_dir).get(name)[column]
    stated = pd.Timestamp(f"{day}T{time}")
    assert parsed.dt.tz is None
    assert parsed.iloc[0] == (stated.normalize() if kind == "day" else stated)
    assert parsed.iloc[0].date() == pd.Timestamp(day).date()


def test_timezone_offsets_mixed_in_one_column(export_dir):
    """Offsets, Z and naive timestamps in one column each keep their own stated time."""
    set_cell(export_dir, "support_tickets", 2, "opened_at", "2024-06-03T09:12:00+02:00")
    set_cell(export_dir, "support_tickets", 3, "opened_at", "2024-06-10T10:00:00Z")
    set_cell(export_dir, "usage", 2, "date", "2024-06-03T01:30:00+02:00")
    tables = load_tables(export_dir)
    opened = tables.support_tickets["opened_at"]
    assert opened.tolist() == [pd.Timestamp("2024-06-03 09:12:00"), pd.Timestamp("2024-06-10 10:00:00")]
    assert tables.usage["date"].iloc[0] == pd.Timestamp("2024-06-03")  # usage is daily: the stated day is kept


def test_utf8_bom_is_accepted(export_dir):
    """Excel's "CSV UTF-8" starts with a byte-order mark; the first column name must not carry it."""
    write_table(export_dir, "accounts", VALID["accounts"], encoding="utf-8-sig")
    accounts = load_tables(export_dir).accounts
    assert accounts["account_id"].tolist() == ["00042", "A2", "A3"]


def test_non_ascii_utf8_text_loads(export_dir):
    """UTF-8 names with accents are fine; only other encodings are rejected."""
    set_cell(export_dir, "accounts", 3, "name", "Café Ünited")
    assert "Café Ünited" in load_tables(export_dir).accounts["name"].tolist()


def test_parquet_with_native_types_loads_like_csv(export_dir, tmp_path):
    """The same export as Parquet with real datetime, float and bool columns gives identical tables."""
    from_csv = load_tables(export_dir)
    parquet_dir = tmp_path / "parquet"
    parquet_dir.mkdir()
    for table in TABLES:
        from_csv.get(table.name).to_parquet(parquet_dir / f"{table.name}.parquet", index=False)
    schema = pq.read_schema(parquet_dir / "contracts.parquet")
    assert str(schema.field("start_date").type).startswith("timestamp")
    assert str(schema.field("arr").type) == "double" and str(schema.field("auto_renew").type) == "bool"
    from_parquet = load_tables(parquet_dir)
    for table in TABLES:
        pd.testing.assert_frame_equal(from_parquet.get(table.name), from_csv.get(table.name), obj=table.name)


def test_parquet_timezone_aware_timestamps_keep_their_wall_clock_time(export_dir):
    """A tz-aware Parquet timestamp column keeps the date and time of its own zone, made naive, like a CSV offset."""
    (export_dir / "support_tickets.csv").unlink()
    tickets = pd.DataFrame(
        {
            "ticket_id": ["T1"],
            "account_id": ["00042"],
            "opened_at": pd.to_datetime(["2024-06-03 09:12:00"]).tz_localize("Europe/Berlin"),
            "closed_at": pd.to_datetime([None]).tz_localize("UTC"),
            "priority": ["high"],
        }
    )
    tickets.to_parquet(export_dir / "support_tickets.parquet", index=False)
    opened = load_tables(export_dir).support_tickets["opened_at"]
    assert opened.dt.tz is None and opened.iloc[0] == pd.Timestamp("2024-06-03 09:12:00")


def test_parquet_midnight_in_a_zone_east_of_utc_stays_on_its_day(export_dir):
    """Midnight on 1 April in Berlin is 1 April, not 31 March, in a tz-aware Parquet column too."""
    (export_dir / "contracts.csv").unlink()
    start = pd.to_datetime(["2025-04-01"]).tz_localize("Europe/Berlin")
    contracts = pd.DataFrame(
        {
            "contract_id": ["C1"],
            "account_id": ["00042"],
            "start_date": start,
            "end_date": start + pd.DateOffset(years=1),
            "arr": [100.0],
        }
    )
    contracts.to_parquet(export_dir / "contracts.parquet", index=False)
    loaded = load_tables(export_dir).contracts
    assert loaded["start_date"].iloc[0] == pd.Timestamp("2025-04-01")
    assert loaded["end_date"].iloc[0] == pd.Timestamp("2026-04-01")


# --------------------------------------------------------------------------- missing tables, columns, files


@pytest.mark.parametrize("name", ["accounts", "contracts", "usage"])
def test_missing_required_table(export_dir, name):
    """A required table with neither a CSV nor a Parquet file stops the load, naming the file expected."""
    (export_dir / f"{name}.csv").unlink()
    message = load_error(export_dir)
    assert_reports(message, export_dir, f"{name}.csv or {name}.parquet")
    assert f"'{name}'" in message


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("accounts", "account_id"),
        ("accounts", "created_at"),
        ("contracts", "end_date"),
        ("contracts", "arr"),
        ("usage", "metric"),
        ("support_tickets", "priority"),
        ("nps", "score"),
        ("relationship_events", "event"),
        ("invoices", "status"),
    ],
)
def test_missing_required_column(export_dir, name, column):
    """A required column absent from the header is named, with the columns that were found."""
    path = drop_column(export_dir, name, column)
    message = load_error(export_dir)
    assert_reports(message, path, "the columns", column=column)
    assert "missing" in message and "found:" in message


@pytest.mark.parametrize("name", ["accounts", "usage"])
def test_header_only_table(export_dir, name):
    """A table with a header but no data rows is rejected."""
    path = write_table(export_dir, name, VALID[name][:1])
    assert_reports(load_error(export_dir), path, f"at least one row of {name}")


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf"], ids=["zero-bytes", "blank-lines", "bom-only"])
def test_empty_file(export_dir, content):
    """A file with nothing in it (not even a header) is reported as empty."""
    path = export_dir / "contracts.csv"
    path.write_bytes(content)
    message = load_error(export_dir)
    assert_reports(message, path, "a header row")
    assert "empty" in message


def test_csv_and_parquet_for_one_table(export_dir):
    """Both accounts.csv and accounts.parquet present is ambiguous; both files are named."""
    pd.DataFrame({"account_id": ["00042"]}).to_parquet(export_dir / "accounts.parquet")
    message = load_error(export_dir)
    assert_reports(message, export_dir, "exactly one file for table 'accounts'")
    assert "accounts.csv" in message and "accounts.parquet" in message


# --------------------------------------------------------------------------- file format


@pytest.mark.parametrize("at_end", [False, True], ids=["mid-file", "last-byte"])
def test_latin1_file(export_dir, at_end):
    """A Latin-1 file is rejected with the line of the first undecodable byte, wherever it is."""
    lines = list(VALID["accounts"])
    if at_end:  # the bad byte is the file's very last one (no newline after it)
        lines = ["account_id,segment,created_at,name", "00042,smb,2022-03-14,x", "A2,smb,2022-05-01,Café"]
        path = export_dir / "accounts.csv"
        path.write_bytes("\n".join(lines).encode("latin-1"))
    else:
        lines[2] = lines[2].replace("Contoso", "Café Ünited")
        path = write_table(export_dir, "accounts", lines, encoding="latin-1")
    message = load_error(export_dir)
    assert_reports(message, path, "UTF-8", refs=("line 3",))
    assert "not UTF-8" in message


@pytest.mark.parametrize(
    ("delimiter", "word"), [(";", "semicolons"), ("\t", "tabs"), ("|", "pipes")], ids=["semicolon", "tab", "pipe"]
)
def test_wrong_delimiter(export_dir, delimiter, word):
    """A file separated by something other than commas is named with the delimiter it uses."""
    path = write_table(export_dir, "usage", [line.replace(",", delimiter) for line in VALID["usage"]])
    message = load_error(export_dir)
    assert_reports(message, path, "comma-separated")
    assert word in message and "','" in message


@pytest.mark.parametrize(
    ("line", "text", "fields"),
    [(4, "00042,2024-06-04,active_users,35,extra", 5), (3, "00042,2024-06-03", 2)],
    ids=["too-many-fields", "too-few-fields"],
)
def test_ragged_line(export_dir, line, text, fields):
    """A line whose field count differs from the header's is named with its line number and field count."""
    lines = list(VALID["usage"])
    lines[line - 1] = text
    path = write_table(export_dir, "usage", lines)
    message = load_error(export_dir)
    assert_reports(message, path, "same number of fields", refs=(f"line {line}",))
    assert f"{fields} fields" in message and "header's 4 fields" in message


# --------------------------------------------------------------------------- bad cells


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "expected"),
    [
        pytest.param("accounts", 3, "created_at", "31/02/2024", "ISO dates", id="date-day-first"),
        pytest.param("accounts", 4, "created_at", "2024-02-31", "ISO dates", id="date-impossible-day"),
        pytest.param("usage", 4, "date", "n/a", "ISO dates", id="date-n/a"),
        pytest.param("support_tickets", 3, "closed_at", "n/a", "ISO dates", id="optional-date-n/a"),
        pytest.param("contracts", 3, "arr", "12k", "plain numbers", id="number-12k"),
        pytest.param("contracts", 3, "arr", "48000,50", "no thousands separators", id="number-decimal-comma"),
        pytest.param("usage", 5, "value", "NaN", "plain numbers", id="number-nan"),
        pytest.param("invoices", 2, "amount", "inf", "plain numbers", id="number-inf"),
        pytest.param("contracts", 2, "auto_renew", "maybe", "true/false", id="bool-contracts"),
        pytest.param("support_tickets", 2, "escalated", "maybe", "true/false", id="bool-tickets"),
        pytest.param("contracts", 5, "arr", "-100", ">= 0", id="negative-arr"),
        pytest.param("usage", 6, "value", "-3", ">= 0", id="negative-usage"),
        pytest.param("contracts", 2, "discount_pct", "1.0", "below 1", id="discount-1.0"),
        pytest.param("contracts", 3, "discount_pct", "15", "below 1", id="discount-percent"),
        pytest.param("support_tickets", 2, "csat", "0", ">= 1", id="csat-0"),
        pytest.param("support_tickets", 2, "csat", "6", "<= 5", id="csat-6"),
        pytest.param("nps", 3, "score", "11", "<= 10", id="nps-11"),
        pytest.param("nps", 2, "score", "-1", ">= 0", id="nps-negative"),
    ],
)
def test_bad_value_is_named_with_its_line_and_expectation(export_dir, name, line, column, value, expected):
    """A cell that does not parse, or a number outside its column's range, is named with its line and value."""
    path = set_cell(export_dir, name, line, column, value)
    message = load_error(export_dir)
    assert_reports(message, path, expected, column=column, refs=(f"line {line}",))
    assert f"({value})" in message


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "expected"),
    [
        pytest.param("support_tickets", 3, "priority", "critical", "one of low, normal, high, urgent", id="priority"),
        pytest.param("relationship_events", 2, "event", "champion_promoted", "one of champion_left", id="event"),
        pytest.param("invoices", 3, "status", "refunded", "one of paid, failed, overdue", id="invoice-status"),
    ],
)
def test_unknown_choice(export_dir, name, line, column, value, expected):
    """A value outside a column's list of choices is named, with the choices listed."""
    path = set_cell(export_dir, name, line, column, value)
    message = load_error(export_dir)
    assert_reports(message, path, expected, column=column, refs=(f"line {line}",))
    assert f"({value})" in message


@pytest.mark.parametrize(
    ("name", "line", "column"),
    [("accounts", 2, "segment"), ("contracts", 4, "start_date"), ("usage", 5, "metric"), ("invoices", 3, "status")],
)
def test_empty_required_value(export_dir, name, line, column):
    """An empty cell in a column that may not be empty is named."""
    path = set_cell(export_dir, name, line, column, "")
    assert_reports(load_error(export_dir), path, "a value in every row", column=column, refs=(f"line {line}",))


@pytest.mark.parametrize(
    ("name", "line", "column", "value"),
    [
        ("accounts", 3, "account_id", "00042"),
        ("contracts", 3, "contract_id", "C1"),
        ("support_tickets", 3, "ticket_id", "T1"),
        ("invoices", 3, "invoice_id", "INV-1"),
    ],
)
def test_duplicate_id(export_dir, name, line, column, value):
    """An id that must be unique and repeats is named with every line it is on."""
    path = set_cell(export_dir, name, line, column, value)
    message = load_error(export_dir)
    assert_reports(message, path, f"each {column} to appear once", column=column, refs=("line 2", f"line {line}"))


def test_duplicate_usage_rows(export_dir):
    """Two usage rows for the same account, day and metric are named with both lines and the key."""
    path = set_cell(export_dir, "usage", 3, "metric", "active_users")
    message = load_error(export_dir)
    assert_reports(message, path, "one row per account_id, date, metric", column="metric", refs=("line 2", "line 3"))
    assert "00042 / 2024-06-03 / active_users" in message


# --------------------------------------------------------------------------- repeated rows

DUPLICATE_MESSAGES = {
    "accounts": ("account_id", "each account_id to appear once"),
    "contracts": ("contract_id", "each contract_id to appear once"),
    "usage": ("metric", "one row per account_id, date, metric"),
    "support_tickets": ("ticket_id", "each ticket_id to appear once"),
    "nps": (None, "each row once"),
    "relationship_events": (None, "each row once"),
    "invoices": ("invoice_id", "each invoice_id to appear once"),
}


@pytest.mark.parametrize("name", [t.name for t in TABLES])
def test_an_exactly_repeated_row_stops_the_load_in_every_table(export_dir, name):
    """A row exported twice is an error naming both lines in every table, never counted twice or dropped."""
    path = write_table(export_dir, name, [*VALID[name], VALID[name][1]])
    copy = len(VALID[name]) + 1
    column, expected = DUPLICATE_MESSAGES[name]
    message = load_error(export_dir)
    assert_reports(message, path, expected, column=column, refs=("line 2", f"line {copy}"))


@pytest.mark.parametrize("name", ["nps", "relationship_events"])
def test_tables_without_an_id_name_every_column_of_a_copied_row(export_dir, name):
    """In a table with no id, the copies are named with all their columns, as they are in the file."""
    write_table(export_dir, name, [*VALID[name], VALID[name][1]])
    message = load_error(export_dir)
    columns = ", ".join(repr(c) for c in VALID[name][0].split(","))
    assert f"columns {columns}" in message, message
    assert "2 rows are exact copies of another row" in message
    assert f"({VALID[name][1].replace(',', ' / ')})" in message
    assert "response or event id" in message


def test_nps_exported_twice_is_not_twice_the_detractors(export_dir):
    """The whole NPS table exported twice names the first five repeated lines and counts the rest."""
    path = write_table(export_dir, "nps", [*VALID["nps"], *VALID["nps"][1:], *VALID["nps"][1:]])
    message = load_error(export_dir)
    assert_reports(message, path, "each row once", refs=("line 2", "line 3", "line 4", "line 5", "line 6"))
    assert "6 rows" in message and "and 1 more" in message


def test_the_same_day_spelled_twice_is_still_a_copy(export_dir):
    """Rows compare as parsed: 2024-05-20 and 2024-05-20T00:00:00 are the same response."""
    path = write_table(export_dir, "nps", [*VALID["nps"], "00042,2024-05-20T00:00:00,8.0"])
    assert_reports(load_error(export_dir), path, "each row once", refs=("line 2", "line 4"))


def test_like_rows_told_apart_by_an_extra_column_load(export_dir):
    """Two people at one account giving the same score on the same day load once a response_id tells them apart."""
    write_table(
        export_dir,
        "nps",
        ["account_id,responded_at,score,response_id", "00042,2024-05-20,3,R1", "00042,2024-05-20,3,R2"],
    )
    nps = load_tables(export_dir).nps
    assert len(nps) == 2 and nps["score"].tolist() == [3.0, 3.0]


def test_same_account_and_day_with_another_value_is_not_a_copy(export_dir):
    """Only rows alike in every column are copies: another score or event on the same day loads."""
    write_table(export_dir, "nps", [*VALID["nps"], "00042,2024-05-20,9"])
    write_table(export_dir, "relationship_events", [*VALID["relationship_events"], "A2,2024-08-12,champion_added"])
    tables = load_tables(export_dir)
    assert len(tables.nps) == 3 and len(tables.relationship_events) == 2


def test_parquet_repeated_rows_are_counted_from_one(export_dir):
    """Copies in a Parquet file are named as rows counted from 1."""
    (export_dir / "relationship_events.csv").unlink()
    events = pd.DataFrame(
        {
            "account_id": ["A2", "A3", "A2"],
            "date": pd.to_datetime(["2024-08-12", "2024-08-12", "2024-08-12"]),
            "event": ["champion_left", "champion_left", "champion_left"],
        }
    )
    path = export_dir / "relationship_events.parquet"
    events.to_parquet(path, index=False)
    message = load_error(export_dir)
    assert_reports(message, path, "each row once", refs=("row 1", "row 3"))
    assert "row 2" not in message and "line" not in message


# --------------------------------------------------------------------------- usage metrics the features need


@pytest.mark.parametrize("renamed", ["ActiveUsers", "Active Users", "active-users", "ACTIVE_USERS"])
def test_a_renamed_active_users_metric_is_named(export_dir, renamed):
    """active_users renamed stops the load naming the expected and the found metrics, the look-alike first."""
    for line in (2, 4, 5):
        path = set_cell(export_dir, "usage", line, "metric", renamed)
    message = load_error(export_dir)
    assert_reports(message, path, "active_users spelled exactly so", column="metric")
    assert "no row has 'active_users'" in message
    assert f"found 3 distinct values: {renamed!r}, 'feature.reports', 'logins'" in message
    assert f"{renamed!r} looks renamed" in message
    assert "seat_utilization_30d" in message


def test_a_removed_active_users_metric_is_named(export_dir):
    """Without any active_users row the message lists what the export has instead."""
    path = write_table(export_dir, "usage", [line for line in VALID["usage"] if "active_users" not in line])
    message = load_error(export_dir)
    assert_reports(message, path, "active_users spelled exactly so", column="metric")
    assert "found 2 distinct values: 'feature.reports', 'logins')" in message
    assert "looks renamed" not in message


def test_many_metrics_are_listed_up_to_ten(export_dir):
    """A usage table with many metrics lists ten of them and counts the rest."""
    rows = [f"00042,2024-06-{day:02d},metric_{day:02d},1" for day in range(1, 13)]
    write_table(export_dir, "usage", [VALID["usage"][0], *rows])
    message = load_error(export_dir)
    assert "found 12 distinct values" in message and "'metric_10' and 2 more" in message
    assert "'metric_11'" not in message


def test_parquet_renamed_active_users_is_named(export_dir):
    """The same check on a Parquet usage table (read as a categorical)."""
    (export_dir / "usage.csv").unlink()
    usage = pd.DataFrame(
        {
            "account_id": ["00042", "A2"],
            "date": pd.to_datetime(["2024-06-03", "2024-06-03"]),
            "metric": ["ActiveUsers", "ActiveUsers"],
            "value": [3.0, 4.0],
        }
    )
    path = export_dir / "usage.parquet"
    usage.to_parquet(path, index=False)
    message = load_error(export_dir)
    assert_reports(message, path, "active_users spelled exactly so", column="metric")
    assert "'ActiveUsers' looks renamed" in message


def test_the_contract_states_the_required_metric():
    """docs/data-contract.md (generated from the schema) says active_users must be there, and why."""
    from features.schema import contract_markdown

    text = contract_markdown()
    assert "must include `active_users`" in text and "at least one row has `metric` `active_users`" in text
    assert "1 April at 00:00, not 31 March" in text and "No table may hold the same row twice" in text


# --------------------------------------------------------------------------- customer text is never markup


@pytest.mark.parametrize("text", ["Enterprise [EMEA] [/bold]", "[red]ACC-1", "[link=http://x]y", "ends\\"])
def test_markup_in_a_bad_cell_is_reported_literally(export_dir, text):
    """A value shown in an error keeps its brackets: the CLI prints the message as text, never as markup."""
    path = set_cell(export_dir, "accounts", 3, "created_at", text)
    message = load_error(export_dir)
    assert_reports(message, path, "ISO dates", column="created_at", refs=("line 3",))
    assert f"({text})" in message


def test_markup_in_customer_text_loads_unchanged(export_dir):
    """Segments and names with brackets are data: they load as written."""
    set_cell(export_dir, "accounts", 2, "segment", "Enterprise [EMEA] [/bold]")
    set_cell(export_dir, "accounts", 3, "name", "[red]Contoso[/red]")
    accounts = load_tables(export_dir).accounts
    assert accounts["segment"].iloc[0] == "Enterprise [EMEA] [/bold]"
    assert accounts["name"].iloc[1] == "[red]Contoso[/red]"


@pytest.mark.parametrize("end", ["2023-06-01", "2023-01-01"], ids=["same-day", "before-start"])
def test_contract_ends_on_or_before_start(export_dir, end):
    """A contract whose end_date is not after its start_date is named with both dates."""
    path = set_cell(export_dir, "contracts", 4, "end_date", end)
    message = load_error(export_dir)
    assert_reports(message, path, "end_date after start_date", column="end_date", refs=("line 4",))
    assert f"C3: 2023-06-01 to {end}" in message


def test_ticket_closed_before_opened(export_dir):
    """A ticket closed before it was opened is named by line and ticket id."""
    path = set_cell(export_dir, "support_tickets", 2, "closed_at", "2024-06-01T00:00:00")
    message = load_error(export_dir)
    assert_reports(message, path, "closed_at on or after opened_at", column="closed_at", refs=("line 2",))
    assert "(T1)" in message


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("contracts", 4),
        ("usage", 5),
        ("support_tickets", 3),
        ("nps", 2),
        ("relationship_events", 2),
        ("invoices", 2),
    ],
)
def test_account_not_in_accounts(export_dir, name, line):
    """An account_id that the accounts table does not have is named with its line and value."""
    path = set_cell(export_dir, name, line, "account_id", "A9")
    message = load_error(export_dir)
    assert_reports(message, path, "every account_id to exist in accounts", column="account_id", refs=(f"line {line}",))
    assert "(A9)" in message


def test_only_five_offending_rows_are_shown(export_dir):
    """With eight bad rows the message lists the first five and counts the rest."""
    rows = [f"00042,2024-07-{day:02d},active_users,-{day}" for day in range(1, 9)]
    path = write_table(export_dir, "usage", VALID["usage"] + rows)  # the bad rows are lines 7 to 14
    message = load_error(export_dir)
    assert_reports(message, path, ">= 0", column="value", refs=tuple(f"line {n}" for n in range(7, 12)))
    assert "8 rows" in message and "and 3 more" in message
    assert not re.search(r"\bline 1[2-4]\b", message)


def test_many_ragged_lines_show_five(export_dir):
    """Ragged lines are capped at five references too."""
    path = write_table(export_dir, "usage", VALID["usage"] + ["00042,2024-07-01"] * 7)  # lines 7 to 13
    message = load_error(export_dir)
    assert_reports(message, path, "same number of fields", refs=tuple(f"line {n}" for n in range(7, 12)))
    assert "7 lines" in message and "and 2 more" in message


def test_parquet_rows_are_counted_from_one(export_dir):
    """In a Parquet file the offending rows are "row N", counting the first data row as 1."""
    (export_dir / "contracts.csv").unlink()
    contracts = pd.DataFrame(
        {
            "contract_id": ["C1", "C2", "C3"],
            "account_id": ["00042", "A2", "A3"],
            "start_date": pd.to_datetime(["2023-01-01"] * 3),
            "end_date": pd.to_datetime(["2024-01-01"] * 3),
            "arr": [100.0, 200.0, -5.0],
        }
    )
    path = export_dir / "contracts.parquet"
    contracts.to_parquet(path, index=False)
    message = load_error(export_dir)
    assert_reports(message, path, ">= 0", column="arr", refs=("row 3",))
    assert "line" not in message


# --------------------------------------------------------------------------- known gaps


@pytest.mark.xfail(strict=True, reason="line numbers count records, not physical lines (blank / multi-line cells)")
@pytest.mark.parametrize(
    ("extra", "bad_line"),
    [(["", ""], 9), (['A2,2024-06-05,"multi', 'line",1'], 9)],
    ids=["blank-lines", "quoted-newline"],
)
def test_line_numbers_are_physical_lines(export_dir, extra, bad_line):
    """A bad value after blank lines or a quoted newline is reported at the line an editor shows."""
    path = write_table(export_dir, "usage", [*VALID["usage"], *extra, "A3,2024-06-04,logins,-1"])
    assert_reports(load_error(export_dir), path, ">= 0", column="value", refs=(f"line {bad_line}",))


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_the_contract_says_which_columns_date_each_table(table):
    """One place says which column dates a table's rows; coverage, first activity and data_end all read it."""
    dates = {c.name for c in table.columns if c.kind in ("date", "day")}
    assert table.dated_by in dates
    assert set(table.events_dated_by) <= dates
    assert "end_date" not in table.events_dated_by and "due_date" not in table.events_dated_by  # plans, not events
