"""The playbook: defaults cover every driver group, overrides work, bad files say what is wrong."""

from __future__ import annotations

from datetime import date

import pytest

from explain.playbook import DEFAULT_PLAYBOOK, Playbook, PlaybookError
from explain.records import Reason
from features.catalog import DRIVER_GROUPS


def _reason(group: str, feature: str = "x") -> Reason:
    return Reason(group, feature, feature, 1.0, "1", 0.5, 5.0, f"{group} sentence")


def test_default_playbook_has_a_play_for_every_driver_group():
    playbook = Playbook.load()
    assert playbook.groups_without_play() == []
    assert {r.group for r in playbook.rules} == set(DRIVER_GROUPS)


def test_conditions_pick_the_specific_play_and_fall_back_to_the_general_one():
    playbook = Playbook.load()
    as_of, renewal = date(2026, 11, 1), date(2027, 3, 1)
    declining = {"usage_logins_trend_30d": -0.4, "usage_logins_days_since_last": 1.0}
    assert playbook.plays_for([_reason("usage")], declining, as_of, renewal)[0].id == "usage-decline-review"
    steady = {"usage_logins_trend_30d": 0.02, "usage_logins_days_since_last": 1.0}
    assert playbook.plays_for([_reason("usage")], steady, as_of, renewal)[0].id == "usage-health-check"
    no_champion = {"has_champion": 0.0}
    assert (
        playbook.plays_for([_reason("relationship")], no_champion, as_of, renewal)[0].id == "relationship-new-champion"
    )


def test_plays_are_placed_on_the_renewal_calendar():
    playbook = Playbook.load()
    renewal = date(2027, 3, 1)
    plays = playbook.plays_for([_reason("billing"), _reason("adoption")], {}, date(2026, 11, 1), renewal)
    billing, adoption = plays
    assert billing.timing == "T-60" and billing.due == date(2026, 12, 31) and billing.status == "upcoming"
    assert adoption.timing == "T-90" and adoption.due == date(2026, 12, 1)
    late = playbook.plays_for([_reason("billing")], {}, date(2027, 2, 15), renewal)[0]
    assert late.status == "due now"
    assert playbook.plays_for([_reason("billing")], {}, date(2027, 2, 15), None)[0].status == "no renewal date"


def test_each_play_is_suggested_once():
    plays = Playbook.load().plays_for([_reason("support"), _reason("support")], {}, date(2026, 1, 1), None)
    assert len(plays) == 1


def test_an_override_replaces_by_id_and_adds_new_plays(tmp_path):
    path = tmp_path / "ours.yaml"
    path.write_text(
        """
plays:
  - id: billing-finance-follow-up
    group: billing
    title: Call the CFO
    action: Call the CFO about the invoices.
    owner: VP Customer Success
    timing: T-30
  - id: usage-exec-brief
    group: usage
    when: [{feature: "usage_*_mean_30d", below: 1}]
    title: Executive brief on inactivity
    action: Brief the executive sponsor.
    owner: Account executive
    timing: T-120
"""
    )
    playbook = Playbook.load(path)
    billing = playbook.plays_for([_reason("billing")], {}, date(2026, 1, 1), date(2026, 6, 1))[0]
    assert billing.title == "Call the CFO" and billing.timing == "T-30"
    assert len(playbook.rules) == len(Playbook.load().rules) + 1
    # the new play is appended, after the default usage plays, so the general play still wins
    idle = {"usage_logins_mean_30d": 0.0}
    assert playbook.plays_for([_reason("usage")], idle, date(2026, 1, 1), None)[0].id == "usage-health-check"


def test_replace_true_drops_the_defaults(tmp_path, monkeypatch):
    path = tmp_path / "only.yaml"
    path.write_text(
        "replace: true\nplays:\n  - {id: one, group: support, title: T, action: A, owner: O, timing: T-90}\n"
    )
    monkeypatch.setenv("CHURN_PLAYBOOK", str(path))
    playbook = Playbook.load()
    assert [r.id for r in playbook.rules] == ["one"]
    assert set(playbook.groups_without_play()) == set(DRIVER_GROUPS) - {"support"}
    assert playbook.plays_for([_reason("usage")], {}, date(2026, 1, 1), None) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plays: [{id: a, group: sales, title: T, action: A, owner: O, timing: T-90}]", r"plays\[0\] \(id a\)\.group"),
        ("plays: [{id: a, group: usage, title: T, action: A, owner: O, timing: 90}]", r"timing"),
        ("plays: [{id: a, group: usage, title: T, action: A, owner: O, timing: T-90, colour: red}]", r"colour"),
        (
            "plays: [{id: a, group: usage, title: T, action: A, owner: O, timing: T-90, when: [{feature: x}]}]",
            r"exactly one of below, above, equals or missing",
        ),
        (
            "plays:\n - {id: a, group: usage, title: T, action: A, owner: O, timing: T-90}\n"
            " - {id: a, group: usage, title: T, action: A, owner: O, timing: T-90}",
            "repeated: a",
        ),
        ("plays: [", "not valid YAML"),
        ("- just a list", "expected a mapping"),
    ],
)
def test_a_bad_playbook_names_the_file_and_the_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PlaybookError, match=message) as caught:
        Playbook.load(path)
    assert str(path) in str(caught.value)


def test_a_missing_playbook_file_is_a_clear_error(tmp_path):
    with pytest.raises(PlaybookError, match="not found"):
        Playbook.load(tmp_path / "nope.yaml")


def test_the_default_file_documents_its_format():
    head = DEFAULT_PLAYBOOK.read_text().split("version:")[0]
    for word in ("group:", "when:", "timing:", "owner:", "replace: true"):
        assert word in head
