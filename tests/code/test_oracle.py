"""The demo-truth oracle: one contract's truth for a long contract, a window's chain for a monthly plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.oracle import expected_renewals, known_causes_risk, oracle_risk, window_renewals

D = pd.Timestamp


def _truth(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["contract_id", "account_id", "renewal_date", "true_renewal_probability", "renewed", "primary_driver"],
    ).assign(renewal_date=lambda f: pd.to_datetime(f["renewal_date"]))


@pytest.fixture()
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    """An annual contract, a monthly chain that renews and one that churns at its second renewal."""
    contracts = pd.DataFrame(
        [
            ("A1", "A", "2024-01-01", "2025-01-01"),
            ("M1", "M", "2024-01-01", "2024-01-31"),
            ("M2", "M", "2024-01-31", "2024-03-01"),
            ("M3", "M", "2024-03-01", "2024-03-31"),
            ("M4", "M", "2024-03-31", "2024-04-30"),
            ("C1", "C", "2024-01-01", "2024-02-01"),
            ("C2", "C", "2024-02-01", "2024-03-02"),
            ("C3", "C", "2024-02-20", "2024-03-20"),  # after the churn (a win-back): not the row's outcome
        ],
        columns=["contract_id", "account_id", "start_date", "end_date"],
    )
    contracts[["start_date", "end_date"]] = contracts[["start_date", "end_date"]].apply(pd.to_datetime)
    truth = _truth(
        ("A1", "A", "2025-01-01", 0.8, True, "adoption"),
        ("M1", "M", "2024-01-31", 0.99, True, "none"),
        ("M2", "M", "2024-03-01", 0.98, True, "usage"),
        ("M3", "M", "2024-03-31", 0.97, True, "support"),
        ("M4", "M", "2024-04-30", 0.50, False, "billing"),  # outside the window of the row below
        ("C1", "C", "2024-02-01", 0.95, True, "none"),
        ("C2", "C", "2024-03-02", 0.60, False, "adoption"),
        ("C3", "C", "2024-03-20", 0.10, True, "commercial"),
    )
    return contracts, truth


def test_expected_renewals_in_a_window_are_window_over_term_rounded():
    assert expected_renewals(np.array([28, 30, 31, 45, 365])).tolist() == [3, 3, 3, 2, 1]
    assert expected_renewals(np.array([7]), window=30).tolist() == [4]


def test_oracle_of_a_long_contract_is_one_minus_its_true_renewal_probability(world):
    contracts, truth = world
    rows = pd.DataFrame(
        {"account_id": ["A", "A"], "contract_id": ["A1", "A1"], "as_of": [D("2024-03-01"), D("2024-12-01")]}
    )
    out = oracle_risk(rows, truth, contracts)
    assert out["oracle_risk"].tolist() == pytest.approx([0.2, 0.2])  # the same truth at any horizon
    assert out["true_cause"].tolist() == ["adoption", "adoption"]
    assert out["truth_churned"].tolist() == [0.0, 0.0]


def test_oracle_of_a_monthly_window_multiplies_the_renewals_in_it(world):
    contracts, truth = world
    rows = pd.DataFrame({"account_id": ["M"], "contract_id": ["M1"], "as_of": [D("2024-01-15")]}, index=[42])
    out = oracle_risk(rows, truth, contracts)
    assert list(out.index) == [42]
    row = out.loc[42]
    # (2024-01-15, 2024-04-14]: M1, M2, M3; M4 ends after the window
    assert row["oracle_risk"] == pytest.approx(1 - 0.99 * 0.98 * 0.97)
    assert (row["renewals"], row["expected"], row["extrapolated"]) == (3, 3, 0)
    assert row["truth_churned"] == 0.0
    assert (row["true_cause"], row["cause_contract_id"]) == ("support", "M3")  # the riskiest renewal's


def test_a_chain_that_churned_early_is_extrapolated_with_its_last_probability(world):
    contracts, truth = world
    rows = pd.DataFrame({"account_id": ["C"], "contract_id": ["C1"], "as_of": [D("2024-01-10")]})
    row = oracle_risk(rows, truth, contracts).iloc[0]
    # C1 renews, C2 churns; C3 (after the churn) is ignored; a third renewal is assumed at C2's 0.6
    assert row["oracle_risk"] == pytest.approx(1 - 0.95 * 0.6 * 0.6)
    assert (row["renewals"], row["expected"], row["extrapolated"]) == (2, 3, 1)
    assert row["truth_churned"] == 1.0
    assert (row["true_cause"], row["cause_contract_id"]) == ("adoption", "C2")


def test_long_and_monthly_rows_mix_and_missing_truth_stays_missing(world):
    contracts, truth = world
    rows = pd.DataFrame(
        {
            "account_id": ["C", "A", "M"],
            "contract_id": ["C1", "A1", "M4"],
            "as_of": [D("2024-01-10"), D("2024-10-01"), D("2024-05-05")],  # M4 is over by then: nothing in the window
        },
        index=[5, 6, 7],
    )
    out = oracle_risk(rows, truth, contracts)
    assert out.loc[5, "oracle_risk"] == pytest.approx(1 - 0.95 * 0.36)
    assert out.loc[6, "oracle_risk"] == pytest.approx(0.2)
    assert np.isnan(out.loc[7, "oracle_risk"]) and out.loc[7, "renewals"] == 0


def test_window_renewals_stop_at_the_first_churn(world):
    _, truth = world
    rows = pd.DataFrame({"account_id": ["C"], "as_of": [D("2024-01-10")]})
    pairs = window_renewals(rows, truth, pd.Series([D("2024-04-09")]))
    assert pairs["truth_contract_id"].tolist() == ["C1", "C2"]
    assert pairs["churn"].tolist() == [False, True]


def _cause_world(seed: int = 3, n: int = 4000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Annual rows whose churn depends on one observable cause and, independently, on an unobservable one."""
    rng = np.random.default_rng(seed)
    support = rng.random(n) < 0.3
    unobservable = rng.random(n) < 0.1
    churned = (support & (rng.random(n) < 0.6)) | unobservable
    causes = np.where(support, "support_pain", "")
    causes = np.where(unobservable, np.char.add(causes, ";unobservable"), causes)
    ids = [f"C{i}" for i in range(n)]
    frame = pd.DataFrame(
        {
            "contract_id": ids,
            "contract_term_days": 365.0,
            "days_to_renewal": rng.integers(1, 366, n).astype(float),
            "segment": rng.choice(["smb", "enterprise"], n),
            "churned": churned.astype(float),
        }
    )
    return frame, pd.DataFrame({"contract_id": ids, "causes": causes})


def test_known_causes_ceiling_learns_the_causes_in_play():
    frame, truth = _cause_world()
    fit, score = np.arange(3000), np.arange(3000, 4000)
    risk = known_causes_risk(frame, truth, fit, score)
    in_play = truth["causes"].str.contains("support_pain").to_numpy()[score]
    assert risk[in_play].mean() > risk[~in_play].mean() + 0.4


def test_known_causes_ceiling_never_sees_a_cause_listed_only_when_it_fired():
    """The truth lists "unobservable" only for renewals it churned: as an input it would be the label."""
    frame, truth = _cause_world()
    fit, score = np.arange(3000), np.arange(3000, 4000)
    risk = known_causes_risk(frame, truth, fit, score)
    fired = truth["causes"].str.contains("unobservable").to_numpy()[score]
    assert abs(risk[fired].mean() - risk[~fired].mean()) < 0.05
