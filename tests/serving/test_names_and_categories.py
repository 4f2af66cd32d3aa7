"""Account names reach the pages and the API as text; categories the model never saw are reported, not hidden."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

from serving.answers import unknown_categories
from serving.schemas import ScoreAccountsResponse, ScoreResponse
from tests.serving.conftest import EVIL_NAMES, ODD_SEGMENT


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _parsed(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


# names --------------------------------------------------------------------------------------


def test_the_account_json_and_score_accounts_carry_the_name_as_it_is(client, served):
    for account, name in served.named.items():
        assert client.get(f"/accounts/{account}").json()["name"] == name
    response = client.post("/score_accounts", json={"account_ids": [*served.named, "NOPE-1"], "reasons": 1})
    body = ScoreAccountsResponse.model_validate(response.json())
    assert [r.name for r in body.results] == [*EVIL_NAMES, None]


def test_the_account_page_shows_the_name_escaped(client, served):
    for account, name in served.named.items():
        html = client.get(f"/accounts/{account}/page").text
        parsed = _parsed(html)
        assert "script" not in parsed.tags
        assert name in "".join(parsed.text), "the name is shown, as text"
        assert "<script>alert" not in html


def test_the_portfolio_page_shows_names_escaped(client, served):
    html = client.get("/portfolio/page").text
    parsed = _parsed(html)
    assert "script" not in parsed.tags and "<script>alert" not in html
    shown = "".join(parsed.text)
    renewing = [name for account, name in served.named.items() if account in html]
    assert all(name in shown for name in renewing)


def test_names_are_stored_per_snapshot_and_unknown_names_stay_unknown(served):
    from serving.store import SnapshotStore

    store = SnapshotStore(served.store)
    latest = store.latest([*served.named, served.odd])
    names = dict(zip(latest["account_id"], latest["name"], strict=True))
    assert [names[a] for a in served.named] == list(EVIL_NAMES)
    assert names[served.odd] and not pd.isna(names[served.odd])


# unknown categories -------------------------------------------------------------------------


def _categorical(served) -> tuple[str, list[str]]:
    name, known = next(iter(served.bundle.schema.categories.items()))
    return name, known


def test_an_unseen_category_is_scored_and_reported_with_the_known_values(client, served):
    name, known = _categorical(served)
    accounts = [
        {"account_id": "ODD-1", name: "smb "},
        {"account_id": "ODD-2", name: known[0]},
        {"account_id": "ODD-3"},
    ]
    response = client.post("/score", json={"accounts": accounts, "reasons": 1})
    assert response.status_code == 200, response.text
    odd, fine, unsent = ScoreResponse.model_validate(response.json()).results
    assert [(w.field, w.value, w.known_values) for w in odd.warnings] == [(name, "smb ", known)]
    assert '"smb "' in odd.warnings[0].message and known[0] in odd.warnings[0].message
    assert fine.warnings == [] and unsent.warnings == []
    assert odd.churn_risk == pytest.approx(unsent.churn_risk), "scored as unknown, as if not sent"


def test_a_stored_unseen_category_is_reported_by_score_accounts(client, served):
    assert "segment" in served.bundle.schema.categories
    body = client.post("/score_accounts", json={"account_ids": [served.odd], "reasons": 1}).json()
    warnings = body["results"][0]["score"]["warnings"]
    assert [(w["field"], w["value"]) for w in warnings] == [("segment", ODD_SEGMENT)]


def test_the_schema_lists_the_known_values_and_says_what_happens_to_others(client, served):
    name, known = _categorical(served)
    spec = client.get("/docs.json").json()
    field = spec["components"]["schemas"]["AccountFeatures"]["properties"][name]
    assert all(f'"{k}"' in field["description"] for k in known)
    assert "reported in the result's `warnings`" in field["description"]
    warning = spec["components"]["schemas"]["UnknownCategory"]
    assert {"field", "value", "known_values", "message"} <= set(warning["properties"])


def test_unknown_categories_are_found_per_row_without_touching_known_or_missing_values(served):
    name, known = _categorical(served)
    frame = pd.DataFrame({name: [known[0], None, "Enterprise", known[-1] + " ", float("nan")]})
    found = unknown_categories(served.bundle, frame)
    assert [[w.value for w in row] for row in found] == [[], [], ["Enterprise"], [known[-1] + " "], []]
