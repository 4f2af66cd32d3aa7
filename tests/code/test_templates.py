"""The page templates and charts: escaped by default, strict about missing values, self-contained, shipped."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from fnmatch import fnmatch
from pathlib import Path

import jinja2
import pytest
from markupsafe import Markup

from explain import charts
from explain.report import TEMPLATES, environment, render_account_page, render_page, render_portfolio_page
from tests.explain_fixtures import make_account_page, make_explanation, make_portfolio

BOLD = "<b>bold</b>"
EVIL = "<script>alert(1)</script>"
PAGES = {
    "account": lambda: render_account_page(make_account_page()),
    "portfolio": lambda: render_portfolio_page(make_portfolio()),
    "empty-portfolio": lambda: render_portfolio_page(make_portfolio(rows=[])),
}


def test_templates_autoescape_what_they_are_given():
    html = render_page("base.html.j2", BOLD)

    assert "<title>&lt;b&gt;bold&lt;/b&gt;</title>" in html
    assert BOLD not in html


def test_shared_macros_autoescape_too():
    macros = environment().get_template("macros.html.j2").module

    chip = str(macros.group_chip(BOLD))
    assert "&lt;b&gt;bold&lt;/b&gt;" in chip and BOLD not in chip


def test_a_missing_variable_is_an_error_not_an_empty_cell():
    with pytest.raises(jinja2.UndefinedError):
        render_page("account.html.j2", "no page given")
    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("{{ misspelt }}").render()


@pytest.mark.parametrize("render", PAGES.values(), ids=PAGES.keys())
def test_pages_have_no_scripts_and_no_external_assets(render):
    html = render()

    assert "<script" not in html.lower()
    assert not re.search(r"\ssrc\s*=", html, re.IGNORECASE)
    assert not re.search(r"""href\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)


@pytest.mark.parametrize("render", PAGES.values(), ids=PAGES.keys())
def test_the_stylesheet_is_inlined_into_every_page(render):
    css = (TEMPLATES / "page.css").read_text(encoding="utf-8").strip()

    assert css in render()


def test_another_page_can_reuse_the_layout_and_css():
    """A future page (monitoring) extends base.html.j2 and gets the same document and styles."""
    extra = '{% extends "base.html.j2" %}{% block content %}<p>{{ v }}</p>{% endblock %}'
    loader = jinja2.ChoiceLoader([jinja2.DictLoader({"extra.html.j2": extra}), environment().loader])
    env = environment().overlay(loader=loader)
    html = env.get_template("extra.html.j2").render(title="Monitoring", css=Markup("p{}"), v=BOLD)

    assert html.startswith("<!DOCTYPE html>")
    assert '<main class="page">' in html and "<p>&lt;b&gt;bold&lt;/b&gt;</p>" in html


def test_charts_are_markup_with_their_text_escaped():
    reason = replace(make_explanation().risk_drivers[0], label=EVIL)
    evil = make_explanation(EVIL, risk_drivers=[reason])

    chart = charts.waterfall_chart(evil)
    assert isinstance(chart, Markup)
    assert "<script" not in chart and "&lt;script&gt;" in chart
    assert isinstance(charts.empty_chart(EVIL), Markup) and "<script" not in charts.empty_chart(EVIL)


def test_templates_and_css_ship_with_the_package():
    """Every file under explain/templates matches a package-data pattern, so an installed wheel has them."""
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["*"]
    files = [p for p in TEMPLATES.iterdir() if p.is_file()]

    assert {p.suffix for p in files} >= {".j2", ".css"}
    assert all(any(fnmatch(p.name, pattern) for pattern in patterns) for p in files)
