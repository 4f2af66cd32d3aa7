"""The HTML pages as documents: well formed, self-contained, escaped, and honest about the numbers they draw."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from itertools import pairwise

import pytest

from explain.charts import waterfall_steps
from explain.records import MetricSeries, Reason, RenewingBook, TrendPoint
from explain.report import render_account_page, render_portfolio_page
from tests.explain_fixtures import (
    AS_OF,
    make_account_page,
    make_explanation,
    make_portfolio,
    make_row,
    make_trend,
)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SVG_SELF_CLOSING = {"path", "rect", "circle", "line", "polyline", "polygon"}
EVIL = "<script>alert(1)</script>"


class Document(HTMLParser):
    """Parses a page, failing on mismatched tags, and keeps what the assertions look at."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.classes: list[set[str]] = []
        self.tags: list[str] = []
        self.links: list[tuple[str, str]] = []  # (attribute, value) for href and src
        self.text: list[str] = []
        self.feed(text)
        self.close()
        assert self.stack == [], f"unclosed tags: {self.stack}"

    def handle_starttag(self, tag, attrs):
        self._record(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        assert tag in VOID | SVG_SELF_CLOSING, f"<{tag}/> is not a void or SVG element"
        self._record(tag, attrs)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def _record(self, tag, attrs):
        values = dict(attrs)
        self.tags.append(tag)
        if "id" in values:
            self.ids.append(values["id"])
        self.classes.append(set((values.get("class") or "").split()))
        self.links += [(k, v) for k, v in attrs if k in ("href", "src") and v is not None]

    def count_class(self, name: str) -> int:
        return sum(name in c for c in self.classes)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parse(text: str) -> Document:
    assert text.startswith("<!DOCTYPE html>")
    doc = Document(text)
    assert len(doc.ids) == len(set(doc.ids)), "duplicate ids"
    return doc


# ---------------------------------------------------------------- structure


def test_account_page_has_every_section():
    doc = parse(render_account_page(make_account_page()))

    for section in ("account-header", "risk", "risk-trend", "waterfall", "reasons", "protective", "plays"):
        assert section in doc.ids
    assert {"change", "metrics", "groups"} <= set(doc.ids)
    assert doc.count_class("reason") == 8  # 5 drivers + 3 protective
    assert doc.count_class("play") == 3
    assert doc.count_class("status-due-now") == 1
    assert doc.count_class("metric") == 4
    assert doc.count_class("wf-step") == 9  # the 8 stated facts and "Everything else"
    assert "ACME-0042" in doc.all_text
    assert "14 Feb 2027" in doc.all_text
    assert "$184K" in doc.all_text


def test_change_box_only_when_the_explanation_has_a_change():
    with_change = parse(render_account_page(make_account_page(make_explanation(with_change=True))))
    without = parse(render_account_page(make_account_page(make_explanation(with_change=False))))

    assert "change" in with_change.ids
    assert "change" not in without.ids
    assert "active users per day fell from 52 to 41" in with_change.all_text


def test_portfolio_rows_link_to_account_pages_in_the_given_order():
    portfolio = make_portfolio()
    doc = parse(render_portfolio_page(portfolio))

    assert "portfolio" in doc.ids
    assert doc.count_class("account-row") == len(portfolio.rows)
    hrefs = [v for k, v in doc.links if k == "href"]
    assert hrefs == [f"accounts/{r.account_id}.html" for r in portfolio.rows]
    assert "Renewals in the next 120 days" in doc.all_text


def test_portfolio_uses_the_href_it_is_given():
    portfolio = make_portfolio()
    doc = parse(render_portfolio_page(portfolio, account_href=lambda a: f"/accounts/{a}/page"))

    assert next(v for k, v in doc.links if k == "href") == f"/accounts/{portfolio.rows[0].account_id}/page"


def test_empty_portfolio_says_so():
    doc = parse(render_portfolio_page(make_portfolio(rows=[], horizon_days=90)))

    assert "No renewals in the next 90 days" in doc.all_text
    assert "portfolio" not in doc.ids
    assert doc.count_class("account-row") == 0


# ---------------------------------------------------------------- self-contained and safe


@pytest.mark.parametrize(
    "html",
    [render_account_page(make_account_page()), render_portfolio_page(make_portfolio())],
    ids=["account", "portfolio"],
)
def test_pages_need_nothing_from_the_network(html):
    doc = parse(html)

    assert "link" not in doc.tags and "script" not in doc.tags and "img" not in doc.tags
    assert not [v for _, v in doc.links if v.startswith(("http://", "https://", "//"))]
    assert "@import" not in html and "url(" not in html


def test_customer_text_is_escaped_everywhere():
    sentence = 'Seats "dropped" & <b>rose</b>'
    reason = replace(make_explanation().risk_drivers[0], sentence=sentence, label=EVIL)
    explanation = make_explanation(EVIL, risk_drivers=[reason], segment=EVIL, summary=EVIL)
    account = render_account_page(make_account_page(explanation))
    portfolio = render_portfolio_page(make_portfolio([make_row(EVIL, 1e5, 0.4, "high", top_reason=sentence)]))

    for html in (account, portfolio):
        doc = parse(html)
        assert "script" not in doc.tags and "b" not in doc.tags
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert EVIL in doc.all_text
    # Jinja's escape writes a quote as &#34; where html.escape wrote &quot;: the same text either way
    assert "&amp; &lt;b&gt;rose&lt;/b&gt;" in account and "<b>rose" not in account
    assert sentence in parse(account).all_text


# ---------------------------------------------------------------- the waterfall adds up


@pytest.mark.parametrize("top", [0, 1, 3, 8, 50])
def test_waterfall_runs_from_comparable_accounts_to_this_one(top):
    explanation = make_explanation()
    steps = waterfall_steps(explanation, top=top)

    start = explanation.peer_churn_risk * 100
    assert steps[0].start == pytest.approx(start, abs=1e-9)
    assert start + sum(s.points for s in steps) == pytest.approx(explanation.churn_risk * 100, abs=1e-6)
    assert steps[-1].end == pytest.approx(explanation.churn_risk * 100, abs=1e-6)
    assert all(a.end == pytest.approx(b.start) for a, b in pairwise(steps))
    assert steps[-1].label == "Everything else"


def test_waterfall_bars_are_the_facts_the_cards_state_with_the_same_points():
    """The chart and the driver cards never disagree: every bar but the last is a stated reason."""
    explanation = make_explanation()
    stated = {f"{r.label}: {r.display_value}": r.points for r in (*explanation.risk_drivers, *explanation.protective)}
    steps = waterfall_steps(explanation, top=50)[:-1]

    assert {s.label: s.points for s in steps} == stated
    assert [abs(s.points) for s in steps] == sorted((abs(p) for p in stated.values()), reverse=True)
    per_feature_only = {f"{r.label}: {r.display_value}" for r in explanation.features} - set(stated)
    assert not per_feature_only & {s.label for s in steps}


def test_waterfall_takes_the_largest_facts_whatever_their_order():
    explanation = make_explanation()
    shuffled = make_explanation(risk_drivers=list(reversed(explanation.risk_drivers)))

    assert [s.label for s in waterfall_steps(shuffled, 3)] == [s.label for s in waterfall_steps(explanation, 3)]


def test_waterfall_ends_at_the_risk_even_when_the_points_do_not_add_up():
    explanation = make_explanation(churn_risk=0.5)
    nan_reason = replace(explanation.risk_drivers[0], points=math.nan, label="Broken")
    broken = make_explanation(risk_drivers=[nan_reason, *explanation.risk_drivers[1:]], churn_risk=0.5)

    for case in (explanation, broken):
        steps = waterfall_steps(case, top=8)
        assert steps[-1].label == "Everything else"
        assert steps[-1].end == pytest.approx(50.0)


def test_waterfall_of_an_account_like_its_peers_has_no_steps():
    explanation = make_explanation(risk_drivers=[], protective=[], churn_risk=0.2, peer_churn_risk=0.2)

    assert waterfall_steps(explanation) == []
    parse(render_account_page(make_account_page(explanation)))


# ---------------------------------------------------------------- edge cases render


def _series(values: list[float | None]) -> MetricSeries:
    weeks = [date(2026, 8, 3 + 7 * i) if i < 4 else date(2026, 9, 7 + 7 * (i - 4)) for i in range(len(values))]
    return MetricSeries("m", "Metric", "units", "usage", list(zip(weeks, values, strict=True)))


LONG = "X" * 400


@pytest.mark.parametrize(
    "overrides",
    [
        {"trend": []},
        {"trend": make_trend([0.3])},
        {"trend": make_trend([0.2, 0.2, 0.2])},
        {"trend": make_trend([None, None])},
        {"trend": make_trend([0.1, None, 0.3, math.nan, 0.4])},
        {"trend": make_trend([0.0, 1.0, 0.999])},
        {"trend": [TrendPoint(AS_OF, math.inf)]},
        {"series": []},
        {"series": [_series([None, None, None])]},
        {"series": [_series([5.0])]},
        {"series": [_series([-3.0, 2.0, None, -1.5, 4.5])]},
        {"series": [_series([7.0, 7.0, 7.0, 7.0])]},
        {"series": [_series([math.nan, 0.25, 1e7])]},
        {"bands": (0.0, 1.0)},
    ],
    ids=lambda o: next(iter(o)),
)
def test_account_page_survives_thin_or_odd_history(overrides):
    parse(render_account_page(make_account_page(**overrides)))


@pytest.mark.parametrize(
    "overrides",
    [
        {"churn_risk": math.nan, "renewal_probability": math.nan, "arr_at_risk": math.nan},
        {"peer_churn_risk": math.nan},
        {"arr": None, "arr_at_risk": None, "segment": None, "contract_id": None},
        {"renewal_date": None, "days_to_renewal": None, "plays": []},
        {"risk_drivers": [], "protective": [], "groups": [], "features": []},
        {"account_id": LONG, "summary": LONG},
        {"risk_band": "unknown"},
        {"days_to_renewal": -3},
    ],
    ids=["nan-risk", "nan-average", "no-money", "no-renewal", "no-reasons", "long-text", "odd-band", "past"],
)
def test_account_page_survives_missing_or_odd_values(overrides):
    html = render_account_page(make_account_page(make_explanation(**overrides)))

    doc = parse(html)
    assert "account-header" in doc.ids


def test_long_reason_sentences_and_nan_points_render():
    reason = Reason("usage", "f", LONG, None, "no value on record", math.nan, math.nan, LONG)
    explanation = make_explanation(risk_drivers=[reason], features=[reason, *make_explanation().features])

    doc = parse(render_account_page(make_account_page(explanation)))
    assert LONG in doc.all_text


@pytest.mark.parametrize("trend", [[], [0.3], [None, None], [0.2, 0.2, 0.2], [math.nan], [0.1, None, 0.4]])
def test_portfolio_sparklines_survive_thin_history(trend):
    rows = [make_row("A", 1e5, 0.3, "medium", trend=trend), make_row("B", None, math.nan, "low", trend=[])]

    doc = parse(render_portfolio_page(make_portfolio(rows)))
    assert doc.count_class("account-row") == 2


def test_portfolio_page_says_when_it_shows_only_the_top_of_the_book():
    rows = make_portfolio().rows
    book = RenewingBook(accounts=1_177, arr=9e6, arr_at_risk=1.5e6, bands={"high": 90, "medium": 400, "low": 687})
    top = render_portfolio_page(replace(make_portfolio(), book=book))
    whole = render_portfolio_page(make_portfolio())
    totals = top[top.index('id="totals"') : top.index('id="shown"')]

    assert f"The {len(rows)} renewals with the most ARR at risk, of 1,177" in parse(top).all_text
    assert "1,177" in totals and "$1.5M" in totals and "90 high" in totals
    assert f"All {len(rows)} renewals" in parse(whole).all_text
