"""The explanation hit rate against the known cause, beside a constant and a global-importance guess."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from explain.evaluate import (
    constant_guess,
    driver_groups,
    explanation_hit_rate,
    hit_rates,
    hits,
    importance_guess,
    reason_groups,
    training_causes,
    true_causes,
)

D = pd.Timestamp


def explanation(reasons: list[str], groups: dict[str, float] | None = None) -> SimpleNamespace:
    """What the hit rate reads of an Explanation: its risk drivers' groups and the points per group."""
    drivers = [SimpleNamespace(group=g, points=10.0 - i) for i, g in enumerate(reasons)]
    shares = groups if groups is not None else {g: 10.0 - i for i, g in enumerate(dict.fromkeys(reasons))}
    return SimpleNamespace(
        risk_drivers=drivers,
        groups=sorted((SimpleNamespace(group=g, points=p) for g, p in shares.items()), key=lambda s: -s.points),
    )


def test_reason_groups_are_the_groups_of_the_first_three_risk_drivers_each_once():
    explanations = [explanation(["usage", "usage", "billing", "adoption"]), explanation([])]
    assert reason_groups(explanations) == [["usage", "billing"], []]
    assert reason_groups(explanations, top=1) == [["usage"], []]


def test_driver_groups_rank_by_summed_points_and_keep_only_groups_that_add_risk():
    e = explanation(["usage"], {"usage": 1.0, "support": 4.0, "billing": -2.0, "adoption": 0.5, "commercial": 0.2})
    assert driver_groups([e]) == [["support", "usage", "adoption"]]
    assert driver_groups([explanation([], {"usage": -1.0})]) == [[]]


def test_constant_guess_counts_observable_causes_only():
    causes = ["unobservable"] * 9 + ["none"] * 5 + ["adoption"] * 4 + ["relationship"] * 2 + ["billing"] * 2 + ["usage"]
    # ties (relationship, billing) in DRIVER_GROUPS order
    assert constant_guess(causes) == ["adoption", "relationship", "billing"]
    assert constant_guess(["unobservable"]) == []


def test_importance_guess_is_the_groups_with_the_largest_mean_positive_points():
    explanations = [
        explanation([], {"usage": 9.0, "support": -20.0, "billing": 1.0}),
        explanation([], {"support": 3.0, "billing": 1.0, "adoption": 0.5}),
    ]
    # mean positive points: usage 4.5, support 1.5 (the -20 counts as 0), billing 1.0, adoption 0.25
    assert importance_guess(explanations) == ["usage", "support", "billing"]
    assert importance_guess(explanations, top=5) == ["usage", "support", "billing", "adoption"]
    assert importance_guess([]) == []


def test_hits_take_one_guess_for_everyone_or_one_per_row():
    assert hits(["usage", "billing"], ["usage", "support"]).tolist() == [True, False]
    assert hits(["usage", "billing"], [["support"], ["billing"]]).tolist() == [False, True]
    with pytest.raises(ValueError):
        hits(["usage", "billing"], [["usage"]])


def test_constant_guess_hits_where_the_model_misses():
    causes = ["adoption", "adoption", "relationship", "commercial"]
    model = [explanation(["usage", "support"]), explanation(["billing"]), explanation(["usage"]), explanation([])]
    constant = constant_guess(["adoption"] * 5 + ["relationship"] * 3 + ["commercial"] * 2 + ["billing"])
    rates = hit_rates(causes, {"reasons": reason_groups(model), "constant_guess": constant})
    assert rates["rows"] == 4
    assert rates["reasons"] == 0.0 and rates["constant_guess"] == 1.0
    assert rates["constant_guess__adoption"] == 1.0 and rates["reasons__adoption"] == 0.0


def test_the_model_hits_where_the_constant_guess_misses():
    causes = ["billing", "support", "usage", "adoption"]
    model = [
        explanation(["billing", "adoption"]),
        explanation(["support"]),
        explanation(["commercial", "relationship", "usage"]),  # third reason: still a hit
        explanation(["commercial", "relationship", "billing", "adoption"]),  # fourth reason: a miss
    ]
    rates = hit_rates(causes, {"reasons": reason_groups(model), "constant_guess": ["adoption", "relationship"]})
    assert rates["reasons"] == 0.75
    assert rates["constant_guess"] == 0.25
    assert (rates["reasons__billing"], rates["reasons__adoption"]) == (1.0, 0.0)
    assert (rates["constant_guess__billing"], rates["constant_guess__adoption"]) == (0.0, 1.0)
    assert hit_rates([], {"reasons": []}) == {"rows": 0.0}


def _truth(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["contract_id", "account_id", "renewal_date", "true_renewal_probability", "renewed", "primary_driver"],
    ).assign(renewal_date=lambda f: pd.to_datetime(f["renewal_date"]))


def test_a_monthly_row_takes_the_cause_of_the_renewal_in_its_window_that_churned():
    truth = _truth(
        ("M1", "M", "2024-02-01", 0.95, True, "none"),
        ("M2", "M", "2024-03-02", 0.60, False, "support"),
        ("A1", "A", "2024-06-01", 0.70, False, "usage"),
        ("B1", "B", "2024-06-01", 0.70, False, "billing"),
    )
    snapshots = pd.DataFrame(
        {
            "account_id": ["M", "A", "B"],
            "contract_id": ["M1", "A1", "B1"],
            "as_of": [D("2024-01-10"), D("2024-03-01"), D("2024-03-01")],
            "outcome_date": [D("2024-04-09"), D("2024-06-01"), D("2024-06-01")],
        },
        index=[10, 11, 12],
    )
    causes = true_causes(snapshots, truth)
    assert causes.loc[10].tolist() == ["support", "M2"]  # not M1's 'none': M1 renewed
    assert causes.loc[11].tolist() == ["usage", "A1"]
    # a truth table with only contract_id and primary_driver (exit interviews): the row's own contract
    plain = true_causes(snapshots, truth[["contract_id", "primary_driver"]])
    assert plain["true_cause"].tolist() == ["none", "usage", "billing"]


def test_training_causes_are_the_churned_renewals_known_before_the_cutoff():
    truth = _truth(
        ("X1", "X", "2024-01-01", 0.5, False, "adoption"),
        ("X2", "X", "2024-02-01", 0.5, True, "usage"),
        ("Y1", "Y", "2024-05-01", 0.5, False, "billing"),
    )
    assert training_causes(truth, D("2024-03-01")) == ["adoption"]
    assert training_causes(truth[["contract_id", "primary_driver"]], D("2024-03-01")) == []


def test_explanation_hit_rate_reports_the_reasons_beside_both_guesses(small_demo):
    test = small_demo.snapshots.frame.iloc[small_demo.result.split["test"]]
    truth = pd.read_parquet(small_demo.data / "_truth" / "renewals.parquet")
    rates = explanation_hit_rate(small_demo.bundle, test, truth)
    for key in (
        "explanation_hit_rate",
        "explanation_hit_rate_reasons",
        "explanation_hit_rate_features",
        "explanation_hit_rate_constant_guess",
        "explanation_hit_rate_importance_guess",
        "explanation_hit_rate_rows",
    ):
        assert 0 <= rates[key] <= max(1.0, rates["explanation_hit_rate_rows"]), key
    assert rates["explanation_hit_rate_features"] == rates["explanation_hit_rate_reasons"]
    everything = ["usage", "adoption", "support", "relationship", "commercial", "billing"]
    assert explanation_hit_rate(small_demo.bundle, test, truth, constant=everything)[
        "explanation_hit_rate_constant_guess"
    ] == pytest.approx(1.0)
    assert explanation_hit_rate(small_demo.bundle, test, truth.assign(primary_driver="unobservable")) == {}
