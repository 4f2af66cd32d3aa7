"""The playbook: plays follow their trigger, fit the touch model, sit on the calendar; bad files say what is wrong."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from explain.playbook import DEFAULT_PLAYBOOK, Condition, Playbook, PlaybookError
from explain.records import Reason
from features.catalog import DRIVER_GROUPS, build_catalog

AS_OF = date(2026, 11, 1)
CATALOG = build_catalog(["active_users", "logins"])


def _reason(group: str, feature: str = "x", sentence: str | None = None) -> Reason:
    return Reason(group, feature, feature, 1.0, "1", 0.5, 5.0, sentence or f"{group} sentence")


def _ids(plays) -> list[str]:
    return [p.id for p in plays]


def _one(playbook: Playbook, group: str, row: dict, renewal: date | None = date(2027, 3, 1), **kwargs):
    plays = playbook.plays_for([_reason(group)], row, AS_OF, renewal, **kwargs)
    assert len(plays) == 1, plays
    return plays[0]


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return Playbook.load()


# ---- coverage --------------------------------------------------------------------------------


def test_default_playbook_has_a_play_for_every_driver_group(playbook):
    assert playbook.groups_without_play() == []
    assert {g for r in playbook.rules for g in r.groups} == set(DRIVER_GROUPS)


@pytest.mark.parametrize("segment", ["smb", "mid_market", "enterprise", None, "strategic"])
@pytest.mark.parametrize("group", DRIVER_GROUPS)
def test_every_account_with_a_driver_gets_a_play_that_fits_its_touch_model(playbook, segment, group):
    play = _one(playbook, group, {"segment": segment} if segment else {})
    assert play.group == group
    assert play.owner.startswith("Automated") == (segment == "smb")


# ---- 1. because: the condition that chose the play -------------------------------------------


def test_because_is_the_fact_that_met_the_condition_not_the_groups_top_driver(playbook):
    driver = _reason("relationship", "nps_last_score", "Latest NPS response: 9 out of 10 (a promoter)")
    row = {"segment": "mid_market", "has_champion": 0.0, "days_since_champion_left": 49.0, "nps_last_score": 9.0}
    play = playbook.plays_for([driver], row, AS_OF, date(2027, 7, 1), catalog=CATALOG)[0]
    assert play.id == "relationship-new-champion"
    assert play.because == "No champion: the last one left 49 days ago and no successor is recorded"
    assert play.trigger == ("has_champion", "days_since_champion_left")


def test_because_quotes_the_reference_numbers_and_finds_the_wildcard_column(playbook):
    row = {"segment": "enterprise", "seat_utilization_30d": 0.22, "usage_active_users_mean_30d": 41.0, "seats": 190}
    reference = {"seat_utilization_30d": {"typical": 0.64}}
    play = _one(playbook, "adoption", row, catalog=CATALOG, reference=reference)
    assert play.id == "adoption-seat-rightsizing"
    assert play.because == "Seat utilization is 22% (41 of 190 seats); renewing accounts typically use 64%"
    declining = {"usage_active_users_trend_30d": 0.05, "usage_logins_trend_90d": -0.4, "usage_logins_mean_90d": 3.0}
    play = _one(playbook, "usage", declining)  # no catalog given: the one the row's columns imply
    assert play.id == "usage-decline-review" and play.trigger == ("usage_logins_trend_90d",)
    assert play.because == "Daily logins fell 40% over the last 90 days compared with the 90 days before, to 3 a day"


def test_an_unconditional_play_keeps_the_drivers_sentence_and_a_save_play_says_risk_and_date(playbook):
    plain = _one(playbook, "billing", {"segment": "mid_market"})
    assert plain.id == "billing-finance-follow-up"
    assert plain.because == "billing sentence" and plain.trigger == ("x",)
    near = AS_OF + timedelta(days=30)
    save = _one(playbook, "adoption", {"segment": "mid_market"}, near, churn_risk=0.62)
    assert save.id == "adoption-save-downsell"
    assert save.because == "Churn risk is 62% with the renewal 30 days away"
    assert save.trigger == ("churn_risk", "days_to_renewal")


# ---- 2. sorted by due date -------------------------------------------------------------------


def test_plays_are_placed_on_the_renewal_calendar(playbook):
    renewal = date(2027, 3, 1)
    billing, adoption = playbook.plays_for([_reason("billing"), _reason("adoption")], {}, AS_OF, renewal)[::-1]
    assert billing.timing == "T-60" and billing.due == date(2026, 12, 31) and billing.status == "upcoming"
    assert adoption.timing == "T-90" and adoption.due == date(2026, 12, 1)
    late = playbook.plays_for([_reason("billing")], {}, date(2027, 2, 15), renewal)[0]
    assert late.status == "due now"
    assert playbook.plays_for([_reason("billing")], {}, date(2027, 2, 15), None)[0].status == "no renewal date"


def test_plays_come_earliest_due_first_ties_in_driver_order_and_no_date_last(playbook):
    renewal = date(2027, 3, 1)
    row = {"usage_logins_trend_30d": -0.4}
    plays = playbook.plays_for([_reason("billing"), _reason("adoption"), _reason("usage")], row, AS_OF, renewal)
    assert _ids(plays) == ["usage-decline-review", "adoption-training", "billing-finance-follow-up"]
    assert [p.due for p in plays] == [date(2026, 11, 1), date(2026, 12, 1), date(2026, 12, 31)]
    # adoption-training and support-experience-review are both T-90: the stronger driver goes first
    tie = [_reason("support"), _reason("adoption")]
    assert _ids(playbook.plays_for(tie, {}, AS_OF, renewal)) == ["support-experience-review", "adoption-training"]
    assert _ids(playbook.plays_for(tie[::-1], {}, AS_OF, renewal)) == ["adoption-training", "support-experience-review"]
    # without a renewal date only an event can date a play; the others come last
    left = {"has_champion": 0.0, "days_since_champion_left": 10.0}
    plays = playbook.plays_for([_reason("billing"), _reason("relationship")], left, AS_OF, None)
    assert _ids(plays) == ["relationship-new-champion", "billing-finance-follow-up"]
    assert plays[0].due == AS_OF + timedelta(days=20) and plays[0].status == "upcoming"
    assert plays[1].due is None and plays[1].status == "no renewal date"


def test_each_play_is_suggested_once_and_one_play_answers_a_group(playbook):
    plays = playbook.plays_for([_reason("support"), _reason("support")], {}, date(2026, 1, 1), None)
    assert len(plays) == 1


# ---- 3. the due date respects the triggering event --------------------------------------------


def test_a_champion_gone_49_days_is_due_now_not_in_march(playbook):
    renewal = date(2027, 7, 1)  # T-120 alone would say 3 March 2027
    row = {"segment": "enterprise", "has_champion": 0.0, "days_since_champion_left": 49.0}
    play = _one(playbook, "relationship", row, renewal)
    assert play.id == "relationship-new-champion"
    assert play.event_date == date(2026, 9, 13) and play.within_days == 30
    assert play.due == date(2026, 10, 13) and play.status == "due now"
    fresh = _one(playbook, "relationship", {**row, "days_since_champion_left": 5.0}, renewal)
    assert fresh.due == date(2026, 11, 26) and fresh.status == "upcoming"
    soon = _one(playbook, "relationship", {**row, "days_since_champion_left": 5.0}, date(2027, 2, 1))
    # renewal - 120 days (4 Oct) would come before the event itself (27 Oct): a play is never due before its event
    assert soon.due == date(2026, 10, 27) and soon.status == "due now"


# ---- 4. a trigger has a recency limit --------------------------------------------------------


def test_an_old_detractor_answer_does_not_trigger_the_callback_and_a_recent_one_is_due_within_a_week(playbook):
    row = {"segment": "mid_market", "has_champion": 1.0, "nps_last_score": 4.0, "days_since_nps_response": 596.0}
    old = _one(playbook, "relationship", row)
    assert old.id == "relationship-multi-thread"
    recent = _one(playbook, "relationship", {**row, "days_since_nps_response": 20.0}, catalog=CATALOG)
    assert recent.id == "relationship-detractor-callback"
    assert recent.event_date == AS_OF - timedelta(days=20) and recent.within_days == 7
    assert recent.due == AS_OF - timedelta(days=13) and recent.due - recent.event_date == timedelta(days=7)
    assert recent.status == "due now"
    assert recent.because == "Latest NPS response: 4 out of 10 (a detractor), 20 days ago"
    assert _one(playbook, "relationship", {**row, "days_since_nps_response": None}).id == "relationship-multi-thread"


def test_a_champion_departure_older_than_the_window_does_not_trigger_onboarding(playbook):
    row = {"segment": "mid_market", "has_champion": 0.0, "days_since_champion_left": 301.0}
    assert _one(playbook, "relationship", row).id == "relationship-multi-thread"
    assert _one(playbook, "relationship", {**row, "days_since_champion_left": 300.0}).id == "relationship-new-champion"


# ---- 5. plays fit the touch model; save plays at high risk close to the date --------------------


def test_an_smb_account_gets_the_automated_play_and_an_enterprise_account_the_csm_or_exec_play(playbook):
    declining = {"usage_logins_trend_30d": -0.4}
    smb = _one(playbook, "usage", {**declining, "segment": "smb"})
    enterprise = _one(playbook, "usage", {**declining, "segment": "Enterprise"})
    quiet_enterprise = _one(playbook, "usage", {"segment": "enterprise"})
    assert (smb.id, smb.owner) == ("usage-automated-reengagement", "Automated (in-app and email)")
    assert (enterprise.id, enterprise.owner) == ("usage-decline-review", "CSM")
    assert (quiet_enterprise.id, quiet_enterprise.owner) == ("usage-enterprise-qbr", "CSM")
    smb_rel = _one(playbook, "relationship", {"segment": "smb"})
    ent_rel = _one(playbook, "relationship", {"segment": "enterprise"})
    assert smb_rel.id == "relationship-automated-check-in" and smb_rel.owner.startswith("Automated")
    assert (ent_rel.id, ent_rel.owner) == ("relationship-exec-sponsor", "Account executive")
    assert _one(playbook, "relationship", {"segment": "Mid-Market"}).id == "relationship-multi-thread"


def test_a_high_risk_account_30_days_out_gets_a_save_play_and_a_low_risk_one_does_not(playbook):
    near, far = AS_OF + timedelta(days=30), AS_OF + timedelta(days=200)
    row = {"segment": "mid_market", "seat_utilization_30d": 0.5}
    assert _one(playbook, "adoption", row, near, churn_risk=0.55).id == "adoption-save-downsell"
    assert _one(playbook, "adoption", row, near, churn_risk=0.05).id == "adoption-training"
    assert _one(playbook, "adoption", row, far, churn_risk=0.55).id == "adoption-training"
    assert _one(playbook, "adoption", row, near).id == "adoption-training"  # risk unknown: no save play
    assert _one(playbook, "support", row, near, churn_risk=0.55).id == "save-executive-call"
    assert _one(playbook, "usage", {"segment": "enterprise"}, near, churn_risk=0.4).id == "usage-save-pause"
    smb = playbook.plays_for([_reason("adoption"), _reason("usage")], {"segment": "smb"}, AS_OF, near, churn_risk=0.55)
    # the self-serve save offer answers the first driver; the next driver gets its own automated play
    assert sorted(_ids(smb)) == ["smb-save-offer", "usage-automated-reengagement"]
    assert all(p.owner.startswith("Automated") for p in smb)


# ---- overrides -------------------------------------------------------------------------------


def test_an_override_replaces_by_id_and_adds_new_plays(tmp_path, playbook):
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
    ours = Playbook.load(path)
    billing = ours.plays_for([_reason("billing")], {}, date(2026, 1, 1), date(2026, 6, 1))[0]
    assert billing.title == "Call the CFO" and billing.timing == "T-30"
    assert len(ours.rules) == len(playbook.rules) + 1
    # the new play is appended, after the default usage plays, so the general play still wins
    idle = {"usage_logins_mean_30d": 0.0}
    assert ours.plays_for([_reason("usage")], idle, date(2026, 1, 1), None)[0].id == "usage-health-check"


def test_an_override_scopes_plays_by_segment_and_arr_tier(tmp_path):
    path = tmp_path / "tiers.yaml"
    path.write_text(
        """
replace: true
plays:
  - {id: strategic, group: usage, arr: {min: 250000}, segments: [enterprise], title: T, action: A, owner: VP CS,
     timing: T-180}
  - {id: tech-touch, group: usage, arr: {max: 10000}, title: T, action: A, owner: Automated, timing: T-60}
  - {id: pooled, group: usage, segments: [Mid Market, enterprise], title: T, action: A, owner: CSM, timing: T-90}
  - {id: fallback, group: usage, title: T, action: A, owner: CSM, timing: T-90}
"""
    )
    tiers = Playbook.load(path)
    cases = [
        ({"segment": "enterprise", "arr": 400_000.0}, "strategic"),
        ({"segment": "enterprise", "arr": 250_000.0}, "strategic"),  # bounds are inclusive
        ({"segment": "enterprise", "arr": 120_000.0}, "pooled"),
        ({"segment": "mid-market", "arr": 60_000.0}, "pooled"),
        ({"segment": "mid_market", "arr": 8_000.0}, "tech-touch"),  # a small account of any segment
        ({"segment": "mid_market", "arr": 10_000.0}, "tech-touch"),
        ({"segment": "mid_market", "arr": 10_000.5}, "pooled"),
        ({"segment": "smb", "arr": 8_000.0}, "tech-touch"),
        ({"segment": "smb", "arr": 30_000.0}, "fallback"),
        ({"segment": "enterprise"}, "pooled"),  # ARR unknown: not in any ARR tier
        ({"arr": float("nan")}, "fallback"),
    ]
    assert [_one(tiers, "usage", row).id for row, _ in cases] == [expected for _, expected in cases]
    assert tiers.groups_without_play() == [g for g in DRIVER_GROUPS if g != "usage"]


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


def test_a_play_for_several_groups_lets_the_next_play_answer_the_second_driver(tmp_path):
    path = tmp_path / "multi.yaml"
    path.write_text(
        """
replace: true
plays:
  - {id: both, group: [usage, billing], title: T, action: A, owner: O, timing: T-90}
  - {id: usage-only, group: usage, title: T, action: A, owner: O, timing: T-30}
"""
    )
    plays = Playbook.load(path).plays_for([_reason("billing"), _reason("usage")], {}, AS_OF, date(2027, 3, 1))
    assert [(p.id, p.group) for p in plays] == [("both", "billing"), ("usage-only", "usage")]


# ---- validation --------------------------------------------------------------------------------

_PLAY = "{id: a, group: usage, title: T, action: A, owner: O, timing: T-90"


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


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ("group: [usage, sales]", "group", "unknown driver group 'sales'"),
        ("group: []", "group", "one driver group or a list"),
        ("event: {within: 7}", "event.clock", "Field required"),
        ("event: {clock: days_since_nps_response}", "event", "give within"),
        ("event: {clock: days_since_nps_response, within: -1}", "event.within", "greater than or equal to 0"),
        ("event: {clock: 'days_since_*', max_age: 30}", "event.clock", "without wildcards"),
        ("event: {clock: days_to_renewal, within: 7}", "event.clock", "days_to_renewal is context"),
        ("event: {clock: days_since_qbr, within: 7, after: 3}", "event.after", "Extra inputs"),
        ("segments: []", "segments", "list of segment names"),
        ("segments: ['--']", "segments", "segment names are words"),
        ("arr: {}", "arr", "give min, max or both"),
        ("arr: {min: 50000, max: 10000}", "arr", "min .50000. is above max .10000."),
        ("risk: {min: 30}", "risk", r"0 to 1 \(write 0.3 for 30%\), not 30"),
        ("risk: {min: 0.3, above: 0.5}", "risk.above", "Extra inputs"),
        ("days_to_renewal: {max: soon}", "days_to_renewal.max", "valid number"),
        ("when: [{feature: arr, above: 100000}]", "when[0].feature", "arr is context"),
        ("when: [{feature: days_to_renewal, below: 60}]", "when[0].feature", "scope the play with segments"),
    ],
)
def test_bad_new_fields_name_the_play_and_the_field(tmp_path, fields, where, message):
    path = tmp_path / "bad.yaml"
    path.write_text(f"plays: [{_PLAY}, {fields}}}]")
    with pytest.raises(PlaybookError, match=re.escape(f"plays[0] (id a).{where}: ") + ".*" + message) as caught:
        Playbook.load(path)
    assert str(path) in str(caught.value)


def test_a_missing_playbook_file_is_a_clear_error(tmp_path):
    with pytest.raises(PlaybookError, match="not found"):
        Playbook.load(tmp_path / "nope.yaml")


def test_the_default_file_documents_its_format():
    head = DEFAULT_PLAYBOOK.read_text().split("version:")[0]
    for word in ("group:", "when:", "timing:", "owner:", "replace: true", "event:", "clock:", "within:", "max_age:"):
        assert word in head
    for word in ("segments:", "arr:", "risk:", "days_to_renewal:", "because:", "due:", "mid-market"):
        assert word in head


# ---- 6. cheap: no regex compiled per row -----------------------------------------------------


def test_wildcard_conditions_never_read_context_columns():
    anything = Condition(feature="*", above=0)
    assert not anything.holds({"arr": 90_000.0, "tenure_days": 400.0, "days_to_renewal": 30.0})
    assert anything.first_match({"arr": 90_000.0, "tickets_open": 2.0}) == "tickets_open"


def test_choosing_plays_compiles_no_regex_per_row(playbook, monkeypatch):
    rows = [
        {
            "segment": segment,
            "arr": 1000.0 * i,
            "usage_logins_trend_30d": -0.01 * i,
            "usage_logins_days_since_last": float(i % 20),
            "has_champion": float(i % 2),
            "days_since_champion_left": float(i),
            "nps_last_score": float(i % 11),
            "days_since_nps_response": float(3 * i),
            "seat_utilization_30d": i / 100,
        }
        for i in range(60)
        for segment in ("smb", "mid_market", "Enterprise")
    ]
    drivers = [_reason(g) for g in ("usage", "relationship", "adoption")]

    def choose():
        return [
            playbook.plays_for(drivers, row, AS_OF, AS_OF + timedelta(days=40), churn_risk=0.5, catalog=CATALOG)
            for row in rows
        ]

    warm = choose()  # the first rows fill the caches (patterns, templates, segment names)
    compiled: list[object] = []
    real_compile, real_lookup = re.compile, re._compile

    def spy(real):
        return lambda pattern, *args, **kwargs: compiled.append(pattern) or real(pattern, *args, **kwargs)

    monkeypatch.setattr(re, "compile", spy(real_compile))
    monkeypatch.setattr(re, "_compile", spy(real_lookup))
    again = choose()
    monkeypatch.undo()
    assert compiled == []
    assert again == warm
