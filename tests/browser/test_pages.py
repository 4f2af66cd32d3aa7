"""The account and portfolio pages in a real browser: they load cleanly, show what a CSM needs, and link up."""

from __future__ import annotations

from pathlib import Path

import pytest

from explain.report import render_account_page, render_portfolio_page
from tests.chromium import ARTIFACTS
from tests.explain_fixtures import make_account_page, make_explanation, make_portfolio

pytestmark = pytest.mark.slow


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.as_uri()


def test_account_page_shows_risk_reasons_and_plays(open_page, tmp_path):
    opened = open_page(_write(tmp_path / "account.html", render_account_page(make_account_page())))
    page = opened.page

    for selector in ("#account-header", "#risk", "#risk-trend svg", "#waterfall svg", "#change", "#metrics svg"):
        assert page.locator(selector).first.is_visible(), selector
    assert "ACME-0042" in page.locator("#account-header h1").inner_text()
    assert page.locator("#renewal-probability").inner_text() == "59%"
    assert page.locator("#reasons li").count() == 5
    assert page.locator("#protective li").count() == 3
    assert page.locator("#plays tbody tr").count() == 3
    assert page.locator("#plays tr.status-due-now").count() >= 1
    assert page.locator("#risk-trend circle.trend-point").count() == 7
    assert page.locator("#waterfall .wf-step").count() == 9  # the 8 stated facts + "Everything else"
    assert page.locator("#metrics figure.metric").count() == 4
    assert opened.errors == []


def test_account_page_without_history_or_change(open_page, tmp_path):
    explanation = make_explanation(with_change=False, plays=[], renewal_date=None, days_to_renewal=None)
    html = render_account_page(make_account_page(explanation, trend=[], series=[]))
    opened = open_page(_write(tmp_path / "bare.html", html))

    assert opened.page.locator("#change").count() == 0
    assert opened.page.locator("#waterfall svg").is_visible()
    assert opened.errors == []


def test_portfolio_links_to_account_pages(open_page, tmp_path):
    portfolio = make_portfolio()
    first = portfolio.rows[0].account_id
    _write(tmp_path / "accounts" / f"{first}.html", render_account_page(make_account_page(make_explanation(first))))
    opened = open_page(_write(tmp_path / "portfolio.html", render_portfolio_page(portfolio)))
    page = opened.page

    assert page.locator("#portfolio").is_visible()
    assert page.locator("#portfolio tr.account-row").count() == len(portfolio.rows)
    assert page.locator("#totals").is_visible()
    assert opened.errors == []

    page.locator("#portfolio tr.account-row a").first.click()
    page.wait_for_load_state("load")
    assert page.url == (tmp_path / "accounts" / f"{first}.html").as_uri()
    assert page.locator("#account-header h1").inner_text() == first


def test_empty_portfolio(open_page, tmp_path):
    opened = open_page(_write(tmp_path / "empty.html", render_portfolio_page(make_portfolio(rows=[], horizon_days=90))))

    assert opened.page.get_by_text("No renewals in the next 90 days").is_visible()
    assert opened.errors == []


def test_real_portfolio_and_account_pages_from_the_cli(open_page, small_demo, tmp_path):
    """The pages `churn report` writes from a real model and real data, opened and clicked through."""
    from typer.testing import CliRunner

    from churn.cli import app

    out = tmp_path / "book.html"
    args = ["report", "--data", str(small_demo.data), "--model-uri", str(small_demo.model), "--top", "5"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output

    opened = open_page(out.as_uri())
    page = opened.page
    assert page.locator("#portfolio tr.account-row").count() == 5
    assert opened.errors == []
    first = page.locator("#portfolio tr.account-row a").first
    account = first.inner_text()
    first.click()
    page.wait_for_load_state("load")
    assert page.locator("#account-header h1").inner_text() == account
    for section in ("#risk", "#risk-trend svg", "#waterfall svg", "#reasons", "#plays", "#metrics"):
        assert page.locator(section).first.is_visible(), section
    page.screenshot(path=str(ARTIFACTS / "test_real_account_page.png"), full_page=True)


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "Enterprise [EMEA] [/bold]"])
def test_account_names_are_shown_as_text_on_both_pages(open_page, tmp_path, name):
    """accounts.name is customer text: shown beside the id exactly as written, never run or read as markup."""
    from dataclasses import replace

    explanation = make_explanation("ACME-0042", name=name)
    opened = open_page(_write(tmp_path / "named.html", render_account_page(make_account_page(explanation))))
    page = opened.page
    assert page.locator("#account-name").inner_text() == name
    assert page.locator("#account-header h1").inner_text() == "ACME-0042"
    assert page.locator("script").count() == 0 and opened.errors == []

    portfolio = make_portfolio()
    portfolio = replace(portfolio, rows=[replace(portfolio.rows[0], name=name), *portfolio.rows[1:]])
    opened = open_page(_write(tmp_path / "named-book.html", render_portfolio_page(portfolio)))
    first = opened.page.locator("#portfolio tr.account-row").first
    assert first.locator(".account-name").inner_text() == name
    assert first.locator("a").inner_text() == portfolio.rows[0].account_id
    assert opened.page.locator("script").count() == 0 and opened.errors == []
