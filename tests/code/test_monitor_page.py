"""The monitoring page: self-contained (no scripts, no external assets), customer text escaped, the figures shown."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from features.build import build_scoring_snapshots
from features.outcomes import renewal_outcomes
from monitor.page import render
from monitor.predictions import LOG_COLUMNS
from monitor.report import build_report
from training.score import score

EVIL = '<script>alert("x")</script><img src="https://evil.example/x.png">'


@pytest.fixture(scope="module")
def report(book_world):
    as_of = book_world.tables.data_end + pd.Timedelta(days=1)
    book = build_scoring_snapshots(book_world.tables, as_of).frame
    outcomes = renewal_outcomes(book_world.tables.contracts, book_world.tables.data_end)
    empty = pd.DataFrame(columns=LOG_COLUMNS)
    return build_report(book_world.bundle, score(book_world.bundle, book), book, empty, outcomes, as_of)


def test_the_page_shows_the_verdict_every_feature_and_the_estimates(report):
    page = render(report)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert f'<span class="verdict {report["verdict"]}">{report["verdict"]}</span>' in page
    for record in report["drift"]:
        assert f"<td>{record['feature']}</td>" in page
    assert f"<td>{report['estimated']['open_renewals']}</td>" in page
    assert "No logged prediction has closed yet" in page


def test_the_page_is_self_contained_and_escapes_what_came_from_the_data(report):
    hostile = {
        **report,
        "reasons": [EVIL],
        "drift": [{**report["drift"][0], "feature": EVIL, "alarm": True, "why": [EVIL]}, *report["drift"][1:]],
        "estimated": {**report["estimated"], "by_cadence": {EVIL: report["estimated"]["by_cadence"]["annual"]}},
    }
    page = render(hostile)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;" in page
    tags = re.findall(r"<[a-z][^>]*>", page, flags=re.IGNORECASE)  # real tags: escaped text has no "<"
    assert not [t for t in tags if re.search(r"\s(src|href)\s*=", t, flags=re.IGNORECASE)]
    assert not re.search(r"@import|url\(", page, flags=re.IGNORECASE)
