"""`churn explain`, `churn report` and `churn score --reasons` on a real (small) demo world."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from explain.pages import default_as_of, explain_accounts, renewing_accounts
from explain.reasons import Explainer
from features.build import build_scoring_snapshots

runner = CliRunner()


@pytest.fixture(scope="module")
def world(small_demo):
    as_of = default_as_of(small_demo.tables)
    account = renewing_accounts(small_demo.tables, as_of, 180)[0]
    base = ["--data", str(small_demo.data), "--model-uri", str(small_demo.model)]
    return small_demo, as_of, account, base


def _ok(args):
    result = runner.invoke(app, args, env={"COLUMNS": "160", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result


def test_explain_text_names_drivers_plays_and_the_change(world):
    _, _, account, base = world
    out = _ok(["explain", *base, "--account", account, "--compare", "30"]).output
    for heading in ("Renewal risk", "Risk drivers", "Protective factors", "What changed", "chance of not renewing"):
        assert heading in out
    assert account in out


def test_explain_json_is_the_explanation(world, tmp_path):
    _, as_of, account, base = world
    path = tmp_path / "e.json"
    _ok(["explain", *base, "--account", account, "--format", "json", "--compare", "30", "--out", str(path)])
    data = json.loads(path.read_text())
    assert data["account_id"] == account and data["as_of"] == str(as_of.date())
    assert 0 <= data["churn_risk"] <= 1 and data["risk_band"] in ("low", "medium", "high")
    assert sum(g["points"] for g in data["groups"]) == pytest.approx(
        100 * (data["churn_risk"] - data["peer_churn_risk"]), abs=1e-6
    )
    assert data["change"]["points"] == pytest.approx(
        100 * (data["change"]["churn_risk_now"] - data["change"]["churn_risk_then"])
    )
    for reason in data["risk_drivers"]:
        assert set(reason) >= {"group", "feature", "value", "contribution", "sentence"}
    for play in data["plays"]:
        assert play["timing"].startswith("T-") and play["because"]


def test_explain_html_is_one_self_contained_page(world, tmp_path):
    _, _, account, base = world
    path = tmp_path / "a.html"
    _ok(["explain", *base, "--account", account, "--format", "html", "--out", str(path)])
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>") and account in html
    assert "<script src" not in html and "<link" not in html


def test_a_custom_playbook_changes_the_plays(world, tmp_path):
    small_demo, as_of, _, base = world
    # plays answer risk drivers: take a renewing account that has some (not every account is above its peers)
    renewing = renewing_accounts(small_demo.tables, as_of, 180)
    explained = explain_accounts(Explainer(small_demo.bundle), small_demo.tables, renewing[:40], as_of)
    account = next(e.account_id for e in explained if len(e.risk_drivers) >= 2)
    playbook = tmp_path / "plays.yaml"
    groups = ("usage", "adoption", "support", "relationship", "commercial", "billing")
    playbook.write_text(
        "replace: true\nplays:\n"
        + "".join(
            f"  - {{id: only-{g}, group: {g}, title: Ours {g}, action: Do it, owner: Us, timing: T-30}}\n"
            for g in groups
        )
    )
    out = tmp_path / "e.json"
    _ok(["explain", *base, "--account", account, "--format", "json", "--playbook", str(playbook), "--out", str(out)])
    plays = json.loads(out.read_text())["plays"]
    assert plays and all(p["id"].startswith("only-") and p["timing"] == "T-30" for p in plays)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--account", "NOPE"], "no contract in force"),
        (["--account", "X", "--as-of", "someday"], "is not a date"),
        (["--account", "X", "--playbook", "missing.yaml"], "playbook file not found"),
    ],
)
def test_explain_mistakes_are_one_clear_paragraph(world, extra, message):
    _, _, _, base = world
    result = runner.invoke(app, ["explain", *base, *extra], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_report_writes_the_portfolio_and_every_account_page(world, tmp_path):
    *_, base = world
    out = tmp_path / "book.html"
    result = _ok(["report", *base, "--top", "12", "--out", str(out)])
    said = " ".join(result.output.split())
    assert "(the 12 with the most ARR at risk listed)" in said
    assert int(said.split("Portfolio: ")[1].split(" renewals")[0].replace(",", "")) > 12  # the whole book's count
    html = out.read_text()
    links = _links(html)
    assert len(links) == 12 and all(link.startswith("book_accounts/") for link in links)
    for link in links:
        assert (tmp_path / link).read_text().startswith("<!DOCTYPE html>")


def test_report_for_one_account(world, tmp_path):
    _, _, account, base = world
    out = tmp_path / "one.html"
    _ok(["report", *base, "--account", account, "--out", str(out)])
    assert 'id="waterfall"' in out.read_text()


def test_report_needs_an_html_path(world, tmp_path):
    _, _, _, base = world
    result = runner.invoke(app, ["report", *base, "--out", str(tmp_path / "book.pdf")])
    assert result.exit_code == 2 and "expected a path ending in .html" in result.output
    assert not (tmp_path / "book.pdf").exists()


def test_score_with_reasons_adds_sentences_and_groups(world, tmp_path):
    _, as_of, _, base = world
    out = tmp_path / "scores.csv"
    _ok(["score", *base, "--as-of", str(as_of.date()), "--reasons", "2", "--out", str(out)])
    scores = pd.read_csv(out)
    assert {"reason_1", "reason_1_group", "reason_2", "reason_2_points", "top_groups"} <= set(scores.columns)
    # An account has a risk reason exactly when the explainer finds a driver above its peers; most do
    demo = world[0]
    book = build_scoring_snapshots(demo.tables, as_of).frame
    explained = Explainer(demo.bundle).explain(book, risk_reasons=2, protective_reasons=0, warn=False)
    with_driver = {str(e.account_id) for e in explained if e.risk_drivers}
    assert set(scores.loc[scores["reason_1"].notna(), "account_id"].astype(str)) == with_driver
    assert len(with_driver) > 0.5 * len(scores)
    assert scores["arr_at_risk"].is_monotonic_decreasing


def _links(html: str) -> list[str]:
    found: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "a":
                found.append(dict(attrs).get("href", ""))

    Links().feed(html)
    return found


def test_scoring_a_date_with_no_contract_in_force_is_refused_and_writes_nothing(world, tmp_path):
    *_, base = world
    out = tmp_path / "none.csv"
    for command in (["score", "--out", str(out)], ["forecast"]):
        result = runner.invoke(app, [*command, *base, "--as-of", "2000-01-01"], env={"COLUMNS": "200"})
        assert result.exit_code == 2 and "nothing to score" in result.output, result.output
    assert not out.exists()


def test_as_of_is_read_as_iso_only(world, tmp_path):
    *_, base = world
    result = runner.invoke(app, ["score", *base, "--as-of", "01/11/2026", "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2 and "Expected YYYY-MM-DD" in result.output


def test_export_model_writes_a_bundle_that_scores_the_same(world, tmp_path):
    small_demo, *_ = world
    out = tmp_path / "exported"
    _ok(["export-model", "--model-uri", str(small_demo.model), "--out", str(out)])
    from training.bundle import ModelBundle

    exported = ModelBundle.load(out)
    rows = small_demo.snapshots.frame.head(50)
    np.testing.assert_allclose(exported.churn_probability(rows), small_demo.bundle.churn_probability(rows))
