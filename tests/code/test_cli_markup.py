"""Customer text is never read as rich markup: ids, segments and bad cells print literally in every command.

A segment like ``Enterprise [EMEA] [/bold]`` would raise rich's MarkupError (a traceback instead
of the output) and ``[red]ACC-1`` would lose its brackets, if either were printed as markup.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from explain.pages import default_as_of, renewing_accounts

runner = CliRunner()
ENV = {"COLUMNS": "400", "NO_COLOR": "1"}
SEGMENT = "Enterprise [EMEA] [/bold]"
ACCOUNT = "[red]ACC-1[/red] [bold]"


@pytest.fixture(autouse=True)
def wide_console():
    """The shared console is wide, so a table never folds an id across lines (COLUMNS is read once, at import)."""
    from churn.app import console

    before = console._width
    console.width = 400
    yield
    console._width = before


def _run(args: list[str]):
    return runner.invoke(app, args, env=ENV)


def _rewrite(directory: Path, name: str, change) -> None:
    """Apply ``change`` to table ``name`` in whichever format the directory holds it."""
    for path in directory.glob(f"{name}.*"):
        if path.suffix == ".csv":
            change(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
        elif path.suffix == ".parquet":
            change(pd.read_parquet(path)).to_parquet(path, index=False)


@pytest.mark.parametrize("value", ["[/bold]", "Enterprise [EMEA] [/bold]", "[red]soon[/red]"])
def test_a_bad_cell_with_markup_is_printed_literally_with_exit_code_2(data_dir, tmp_path, value):
    """The error paragraph shows the cell as it is in the file; no MarkupError, no traceback, nothing written."""
    _rewrite(data_dir, "accounts", lambda f: f.assign(created_at=[value, *f["created_at"].iloc[1:]]))
    out = tmp_path / "s.parquet"
    for args in (["validate", "--data", str(data_dir)], ["build-features", "--data", str(data_dir), "--out", str(out)]):
        result = _run(args)
        assert result.exit_code == 2, result.output
        assert f"({value})" in result.output and "line 2" in result.output
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists()


def test_a_renamed_metric_stops_validate_naming_it(data_dir):
    """`churn validate` on an export whose active_users became ActiveUsers: exit 2, both names shown."""
    _rewrite(data_dir, "usage", lambda f: f.assign(metric=f["metric"].replace("active_users", "ActiveUsers")))
    result = _run(["validate", "--data", str(data_dir)])
    assert result.exit_code == 2, result.output
    assert "'active_users'" in result.output and "'ActiveUsers' looks renamed" in result.output


@pytest.fixture(scope="module")
def marked_up(small_demo, tmp_path_factory):
    """The small demo with one renewing account renamed ``ACCOUNT`` in every table and its segment ``SEGMENT``."""
    as_of = default_as_of(small_demo.tables)
    account = renewing_accounts(small_demo.tables, as_of, 180)[0]
    data = tmp_path_factory.mktemp("markup") / "data"
    shutil.copytree(small_demo.data, data)

    def rename(frame: pd.DataFrame) -> pd.DataFrame:
        if "account_id" in frame.columns:
            frame["account_id"] = frame["account_id"].astype(str).replace(account, ACCOUNT)
        if "segment" in frame.columns:
            frame.loc[frame["account_id"] == ACCOUNT, "segment"] = SEGMENT
        return frame

    for path in data.glob("*.*"):
        _rewrite(data, path.stem, rename)
    base = ["--data", str(data), "--model-uri", str(small_demo.model), "--as-of", str(as_of.date())]
    return data, base


def test_explain_prints_an_id_and_segment_with_markup_literally(marked_up):
    _, base = marked_up
    result = _run(["explain", *base, "--account", ACCOUNT, "--compare", "30"])
    assert result.exit_code == 0, result.output
    assert ACCOUNT in result.output and SEGMENT in result.output
    assert "Risk drivers" in result.output


def test_score_prints_an_id_with_markup_literally(marked_up, tmp_path):
    _, base = marked_up
    result = _run(["score", *base, "--top", "1000", "--out", str(tmp_path / "scores.csv")])
    assert result.exit_code == 0, result.output
    assert ACCOUNT in result.output


def test_an_unknown_account_with_markup_is_named_literally(marked_up):
    _, base = marked_up
    result = _run(["explain", *base, "--account", "[bold]NOPE[/]"])
    assert result.exit_code == 2, result.output
    assert "[bold]NOPE[/]" in result.output and "Traceback" not in result.output
