"""ARR forecast: the distribution is exact on its grid, monthly plans renew every month, the tables add up."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from training.forecast import (
    backtest_coverage,
    chain_arr_distribution,
    forecast_renewals,
    interval,
    judge_forecast,
    renewal_events,
    renewing_arr_distribution,
)


def brute_force(arr: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All 2^n renew/churn outcomes: sorted distinct sums and their probabilities."""
    outcomes = np.array(list(itertools.product([0, 1], repeat=len(arr))), dtype=float).reshape(-1, len(arr))
    sums = outcomes @ arr
    probs = np.prod(np.where(outcomes == 1, p, 1 - p), axis=1)
    values, inverse = np.unique(sums, return_inverse=True)
    return values, np.bincount(inverse, weights=probs)


def cdf_at(values: np.ndarray, probs: np.ndarray, x: np.ndarray) -> np.ndarray:
    cumulative = np.concatenate([[0.0], np.cumsum(probs)])
    return cumulative[np.searchsorted(values, x, side="right")]


def book(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A skewed book: lognormal ARR, renewal probabilities mostly high."""
    rng = np.random.default_rng(seed)
    return rng.lognormal(10, 1.2, n), rng.beta(8, 2, n)


@pytest.mark.parametrize("seed", range(6))
def test_exact_against_enumeration_when_sizes_sit_on_the_grid(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 13))
    arr = rng.integers(1, 400, n).astype(float)
    p = rng.random(n)
    values, probs = renewing_arr_distribution(arr, p, resolution=int(arr.sum()))  # one unit = 1.0: no rounding
    exact_values, exact_probs = brute_force(arr, p)
    dense = np.zeros(values.size)
    np.add.at(dense, np.rint(exact_values).astype(int), exact_probs)
    np.testing.assert_allclose(values, np.arange(values.size), atol=1e-9)
    np.testing.assert_allclose(probs, dense, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("resolution", [300, 2000])
def test_cdf_matches_enumeration_within_the_rounding(seed, resolution):
    """Each outcome moves by at most ~one starting unit per contract, so the true CDF is sandwiched."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 13))
    arr = rng.lognormal(10, 1.5, n)
    p = rng.random(n)
    p[rng.random(n) < 0.2] = 1.0
    values, probs = renewing_arr_distribution(arr, p, resolution)
    exact_values, exact_probs = brute_force(arr, p)
    shift = n * arr.sum() / resolution
    true_cdf = np.cumsum(exact_probs)
    assert np.all(cdf_at(values, probs, exact_values + shift) >= true_cdf - 1e-9)
    assert np.all(cdf_at(values, probs, exact_values - shift) <= true_cdf + 1e-9)
    for level in (0.5, 0.8, 0.95):
        low, high = interval(values, probs, level)
        exact_low, exact_high = interval(exact_values, exact_probs, level)
        assert low == pytest.approx(exact_low, abs=shift)
        assert high == pytest.approx(exact_high, abs=shift)


@pytest.mark.parametrize(("n", "resolution"), [(7, 2000), (60, 2000), (2500, 1000)])
def test_equal_contracts_give_the_poisson_binomial(n, resolution):
    """Also when contracts outnumber grid cells: the grid refines instead of rounding them all to zero."""
    rng = np.random.default_rng(n)
    p = rng.uniform(0.3, 0.99, n)
    values, probs = renewing_arr_distribution(np.full(n, 12_000.0), p, resolution)
    count = np.rint(values / 12_000.0).astype(int)
    np.testing.assert_allclose(values[probs > 0], count[probs > 0] * 12_000.0, rtol=1e-9)  # mass only on multiples
    on_count = np.bincount(count, weights=probs, minlength=n + 1)
    np.testing.assert_allclose(on_count, stats.poisson_binom.pmf(np.arange(n + 1), p), atol=1e-10)


def test_equal_contracts_and_probabilities_give_the_binomial():
    values, probs = renewing_arr_distribution(np.full(40, 500.0), np.full(40, 0.85))
    keep = probs > 0
    np.testing.assert_allclose(values[keep], 500.0 * np.arange(41)[np.rint(values[keep] / 500).astype(int)])
    np.testing.assert_allclose(probs[keep], stats.binom.pmf(np.rint(values[keep] / 500).astype(int), 40, 0.85))


@pytest.mark.parametrize("n", [1, 12, 400, 5000])
def test_mean_is_exactly_the_expected_arr_and_variance_is_close(n):
    arr, p = book(n, seed=n)
    values, probs = renewing_arr_distribution(arr, p)
    mean = values @ probs
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert mean == pytest.approx(arr @ p, rel=1e-9, abs=arr.sum() / 2000)
    variance = (values - mean) ** 2 @ probs
    assert variance == pytest.approx(np.sum(arr**2 * p * (1 - p)), rel=0.015)


def test_a_book_too_big_for_the_grid_still_gets_its_spread():
    """80,000 equal contracts exceed the work budget; the unresolved variance is added as a normal spread."""
    values, probs = renewing_arr_distribution(np.full(80_000, 1_000.0), np.full(80_000, 0.8))
    sd = np.sqrt(80_000 * 1_000.0**2 * 0.16)
    low, high = interval(values, probs, 0.80)
    assert values @ probs == pytest.approx(64_000_000.0, rel=1e-9)
    assert (high - low) / (2 * stats.norm.ppf(0.9) * sd) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize(("p_value", "expected"), [(0.0, 0.0), (1.0, 1_750.0)])
def test_certain_outcomes_are_a_point_mass(p_value, expected):
    arr = np.array([1_000.0, 500.0, 250.0])
    values, probs = renewing_arr_distribution(arr, np.full(3, p_value))
    assert values[probs > 1e-12] == pytest.approx([expected])
    assert interval(values, probs, 0.95) == pytest.approx((expected, expected))


def test_a_mix_of_certain_outcomes_is_a_point_mass_at_the_certain_renewals():
    values, probs = renewing_arr_distribution(np.array([1_000.0, 500.0, 250.0]), np.array([1.0, 0.0, 1.0]))
    assert values[probs > 1e-12] == pytest.approx([1_250.0])


@pytest.mark.parametrize(
    ("arr", "p"), [(np.array([]), np.array([])), (np.zeros(3), np.array([0.2, 0.5, 0.9]))], ids=["empty", "no-arr"]
)
def test_an_empty_book_renews_nothing_for_sure(arr, p):
    values, probs = renewing_arr_distribution(arr, p)
    assert values.tolist() == [0.0]
    assert probs.tolist() == [1.0]
    assert interval(values, probs, 0.8) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("arr", "p"),
    [([1.0, 2.0], [0.5]), ([-1.0], [0.5]), ([1.0], [1.2]), ([np.nan], [0.5]), ([1.0], [np.nan])],
    ids=["lengths", "negative-arr", "p-above-1", "nan-arr", "nan-p"],
)
def test_bad_inputs_are_refused(arr, p):
    with pytest.raises(ValueError):
        renewing_arr_distribution(np.array(arr), np.array(p))


def test_interval_reads_percentiles_off_the_cdf_and_skips_impossible_values():
    values, probs = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3, 0.4])
    assert interval(values, probs, 0.8) == (0.0, 3.0)  # CDF reaches 0.1 at 0 and 0.9 only at 3
    assert interval(values, probs, 0.5) == (1.0, 3.0)  # 25th and 75th percentiles
    assert interval(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]), 1.0) == (1.0, 1.0)


@pytest.mark.parametrize("seed", range(4))
def test_intervals_nest_and_contain_the_mean_for_a_realistic_book(seed):
    arr, p = book(300, seed)
    values, probs = renewing_arr_distribution(arr, p)
    mean = values @ probs
    low80, high80 = interval(values, probs, 0.80)
    low95, high95 = interval(values, probs, 0.95)
    assert low95 <= low80 <= mean <= high80 <= high95
    assert low95 < low80 and high80 < high95


def test_a_lumpy_book_interval_need_not_contain_the_mean():
    """One contract at p=0.05: mean is 5% of its ARR, but 80% of outcomes are exactly 0."""
    values, probs = renewing_arr_distribution(np.array([100_000.0]), np.array([0.05]))
    assert values @ probs == pytest.approx(5_000.0)
    assert interval(values, probs, 0.80) == (0.0, 0.0)


@settings(max_examples=100, deadline=None, database=None)
@given(
    contracts=st.lists(
        st.tuples(st.floats(0, 1e6, allow_nan=False), st.floats(0, 1, allow_nan=False)), min_size=0, max_size=8
    ),
    resolution=st.integers(1, 3000),
)
def test_distribution_sums_to_one_and_keeps_the_expected_arr(contracts, resolution):
    arr = np.array([a for a, _ in contracts], dtype=float)
    p = np.array([q for _, q in contracts], dtype=float)
    values, probs = renewing_arr_distribution(arr, p, resolution)
    total = float(arr.sum())
    assert probs.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(probs >= 0)
    assert np.all(np.diff(values) >= 0)
    assert np.all((values >= 0) & (values <= total))
    assert values @ probs == pytest.approx(arr @ p, abs=1e-9 * total + total / resolution)


# --- forecast_renewals ---------------------------------------------------------------------------

AS_OF = pd.Timestamp("2026-11-01")


def scored_book(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = AS_OF - pd.Timedelta(days=30) + pd.to_timedelta(rng.integers(0, 450, n), unit="D")
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "renewal_date": dates,
            "arr": rng.lognormal(10, 1.0, n),
            "renewal_probability": rng.beta(8, 2, n),
        }
    )
    in_march = frame["renewal_date"].dt.to_period("M") == pd.Period("2027-03", "M")
    return frame[~in_march].reset_index(drop=True)  # an empty month in the middle of the horizon


def test_every_month_and_quarter_in_the_horizon_gets_a_row():
    forecast = forecast_renewals(scored_book(), AS_OF)
    months = forecast[forecast["period_type"] == "month"]
    assert months["period"].tolist() == [str(m) for m in pd.period_range("2026-11", "2027-10", freq="M")]
    quarters = forecast[forecast["period_type"] == "quarter"]
    assert quarters["period"].tolist() == ["2026Q4", "2027Q1", "2027Q2", "2027Q3", "2027Q4"]
    assert forecast["period_type"].tolist()[-1] == "total"
    march = months.set_index("period").loc["2027-03"]
    assert march["contracts"] == 0
    assert march[["arr_up_for_renewal", "expected_renewing_arr", "renewing_arr_p10", "renewing_arr_p97_5"]].eq(0).all()
    assert np.isnan(march["renewal_rate_expected"])
    assert list(forecast.columns) == [
        "period",
        "period_type",
        "contracts",
        "renewals",
        "arr_up_for_renewal",
        "expected_renewing_arr",
        "expected_churned_arr",
        "renewal_rate_expected",
        "renewing_arr_p10",
        "renewing_arr_p90",
        "renewing_arr_p2_5",
        "renewing_arr_p97_5",
        "beyond_range_renewals",
        "beyond_range_arr",
        "partial",
    ]


def test_quarters_and_total_add_up_the_months():
    forecast = forecast_renewals(scored_book(), AS_OF)
    months = forecast[forecast["period_type"] == "month"].copy()
    months["quarter"] = [str(pd.Period(m, "M").asfreq("Q")) for m in months["period"]]
    by_quarter = months.groupby("quarter")[["contracts", "arr_up_for_renewal", "expected_renewing_arr"]].sum()
    quarters = forecast[forecast["period_type"] == "quarter"].set_index("period")
    for column in by_quarter.columns:
        np.testing.assert_allclose(quarters.loc[by_quarter.index, column], by_quarter[column], rtol=1e-12)
    total = forecast[forecast["period_type"] == "total"].iloc[0]
    assert total["expected_renewing_arr"] == pytest.approx(months["expected_renewing_arr"].sum(), rel=1e-12)
    assert total["contracts"] == months["contracts"].sum()


def test_columns_are_consistent_within_each_row():
    forecast = forecast_renewals(scored_book(), AS_OF)
    filled = forecast[forecast["contracts"] > 0]
    np.testing.assert_allclose(
        filled["expected_renewing_arr"] + filled["expected_churned_arr"], filled["arr_up_for_renewal"], rtol=1e-12
    )
    np.testing.assert_allclose(
        filled["renewal_rate_expected"], filled["expected_renewing_arr"] / filled["arr_up_for_renewal"], rtol=1e-12
    )
    ordered = filled[["renewing_arr_p2_5", "renewing_arr_p10", "renewing_arr_p90", "renewing_arr_p97_5"]]
    assert (ordered.diff(axis=1).iloc[:, 1:] >= 0).all().all()
    assert (filled["renewing_arr_p97_5"] <= filled["arr_up_for_renewal"] * (1 + 1e-12)).all()


def test_contracts_outside_the_horizon_are_left_out():
    scored = pd.DataFrame(
        {
            "account_id": ["before", "first-day", "last-day", "end", "later", "undated"],
            "renewal_date": pd.to_datetime(
                ["2026-10-31", "2026-11-01", "2027-01-31", "2027-02-01", "2028-01-01", None]
            ),
            "arr": [1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0],
            "renewal_probability": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    forecast = forecast_renewals(scored, AS_OF, months=3)
    assert forecast[forecast["period_type"] == "month"]["period"].tolist() == ["2026-11", "2026-12", "2027-01"]
    total = forecast.set_index("period").loc["total"]
    assert total["contracts"] == 2
    assert total["arr_up_for_renewal"] == 110.0
    assert total["renewing_arr_p2_5"] == pytest.approx(110.0)


def test_a_mid_month_start_flags_the_cut_periods():
    forecast = forecast_renewals(scored_book(), pd.Timestamp("2026-11-15"), months=2).set_index("period")
    assert forecast.index.tolist() == ["2026-11", "2026-12", "2027-01", "2026Q4", "2027Q1", "total"]
    assert forecast["partial"].to_dict() == {
        "2026-11": True,
        "2026-12": False,
        "2027-01": True,
        "2026Q4": True,
        "2027Q1": True,
        "total": False,
    }


def test_no_contracts_in_the_horizon_gives_a_table_of_zeros():
    forecast = forecast_renewals(scored_book().iloc[:0], AS_OF, months=4)
    assert len(forecast) == 4 + 2 + 1
    assert (forecast["contracts"] == 0).all()
    assert (forecast[["expected_renewing_arr", "renewing_arr_p10", "renewing_arr_p97_5"]] == 0).all().all()


# --- monthly plans renew every month, contracts once ----------------------------------------------

MONTH = 365.25 / 12


def monthly_plan(survival_per_month: float = 0.9, arr: float = 1_200.0, renewal: str = "2026-11-10") -> dict:
    """A monthly plan whose 90-day renewal probability means ``survival_per_month`` at each renewal."""
    return {
        "account_id": "monthly",
        "renewal_date": pd.Timestamp(renewal),
        "arr": arr,
        "contract_term_days": 30.0,
        "renewal_probability": survival_per_month ** (90 / MONTH),
    }


def contract(name: str, renewal: str, arr: float, p: float, term: float = 365.0) -> dict:
    return {
        "account_id": name,
        "renewal_date": pd.Timestamp(renewal),
        "arr": arr,
        "contract_term_days": term,
        "renewal_probability": p,
    }


def test_a_monthly_plan_renews_every_month_with_its_survival():
    forecast = forecast_renewals(pd.DataFrame([monthly_plan()]), AS_OF, months=12).set_index("period")
    months = forecast[forecast["period_type"] == "month"]
    assert (months["contracts"] == 1).all() and (months["renewals"] == 1).all()
    assert (months["arr_up_for_renewal"] == 1_200.0).all()  # its ARR is up for renewal every month
    np.testing.assert_allclose(months["expected_renewing_arr"], 1_200.0 * 0.9 ** np.arange(1, 13), rtol=1e-12)
    total = forecast.loc["total"]
    assert (total["contracts"], total["renewals"], total["arr_up_for_renewal"]) == (1, 12, 14_400.0)
    assert total["expected_renewing_arr"] == pytest.approx(1_200.0 * sum(0.9**k for k in range(1, 13)))


def test_the_90_day_risk_is_a_constant_hazard_per_renewal():
    """A 45-day plan renewing with probability 0.81 over 90 days renews with 0.9 at each renewal."""
    plan = {"renewal_date": pd.Timestamp("2026-11-05"), "arr": 100.0, "contract_term_days": 45.0}
    events = renewal_events(pd.DataFrame([plan | {"renewal_probability": 0.81}]), AS_OF, pd.Timestamp("2027-03-01"))
    assert events["renewal_date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-11-05", "2026-12-20", "2027-02-03"]
    np.testing.assert_allclose(events["survival"], [0.9, 0.81, 0.729], rtol=1e-12)
    assert events["renewal_number"].tolist() == [1, 2, 3]
    assert set(events["cadence"]) == {"monthly"}


def test_calendar_monthly_plans_step_by_calendar_months_and_february_is_not_riskier():
    scored = pd.DataFrame(
        [
            monthly_plan(renewal="2027-01-31") | {"account_id": "31-day"},
            monthly_plan(renewal="2027-01-31") | {"account_id": "28-day", "contract_term_days": 28.0},
        ]
    )
    events = renewal_events(scored, pd.Timestamp("2027-01-01"), pd.Timestamp("2027-05-01"))
    for _, plan in events.groupby("account_id"):
        assert plan["renewal_date"].dt.strftime("%m-%d").tolist() == ["01-31", "02-28", "03-31", "04-30"]
        np.testing.assert_allclose(plan["survival"], 0.9 ** np.arange(1, 5), rtol=1e-12)


def test_a_monthly_plans_renewals_in_one_period_are_a_chain_not_independent():
    """Nov and Dec renewals: J = 0 (cancels in Nov, p .1), 1 (cancels in Dec, .09) or 2 (.81).

    Independent renewals would put 0.1 × 0.19 = 0.019 on "nothing renews" and a 10th percentile
    at one renewal; the chain puts 0.1 there, so the 10th percentile is nothing.
    """
    values, probs = chain_arr_distribution(np.array([1_200.0]), np.array([[0.9, 0.81]]), resolution=2_400)
    assert values[probs > 1e-15].tolist() == [0.0, 1_200.0, 2_400.0]
    np.testing.assert_allclose(probs[probs > 1e-15], [0.1, 0.09, 0.81], atol=1e-12)
    quarter = forecast_renewals(pd.DataFrame([monthly_plan()]), AS_OF, months=12).set_index("period").loc["2026Q4"]
    assert (quarter["contracts"], quarter["renewals"]) == (1, 2)
    assert quarter["expected_renewing_arr"] == pytest.approx(1_200.0 * (0.9 + 0.81))
    assert (quarter["renewing_arr_p10"], quarter["renewing_arr_p90"]) == (0.0, pytest.approx(2_400.0))


def brute_force_chains(arr: np.ndarray, survival: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Every combination of how many renewals each piece makes: distinct sums and their probabilities."""
    choices = []
    for s in survival:
        upper, lower = [1.0, *s], [*s, 0.0]
        choices.append([(j, u - v) for j, (u, v) in enumerate(zip(upper, lower, strict=True))])
    sums, probs = [], []
    for combo in itertools.product(*choices):
        sums.append(sum(a * j for a, (j, _) in zip(arr, combo, strict=True)))
        probs.append(np.prod([q for _, q in combo]))
    values, inverse = np.unique(np.array(sums), return_inverse=True)
    return values, np.bincount(inverse, weights=np.array(probs))


@pytest.mark.parametrize("seed", range(6))
def test_chains_are_exact_against_enumeration_when_sizes_sit_on_the_grid(seed):
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(1, 6))
    arr = rng.integers(1, 60, n).astype(float)
    survival = [np.cumprod(rng.uniform(0.5, 1.0, int(rng.integers(1, 4)))).tolist() for _ in range(n)]
    width = max(len(s) for s in survival)
    padded = np.array([s + [np.nan] * (width - len(s)) for s in survival])
    total = float(sum(a * len(s) for a, s in zip(arr, survival, strict=True)))
    values, probs = chain_arr_distribution(arr, padded, resolution=int(total))  # one unit = 1.0
    exact_values, exact_probs = brute_force_chains(arr, survival)
    dense = np.zeros(values.size)
    np.add.at(dense, np.rint(exact_values).astype(int), exact_probs)
    np.testing.assert_allclose(values, np.arange(values.size), atol=1e-9)
    np.testing.assert_allclose(probs, dense, atol=1e-12)


@pytest.mark.parametrize(
    "survival",
    [[[0.5, 0.6]], [[np.nan, 0.5]], [[1.2, 0.5]]],
    ids=["increasing", "gap-first", "above-1"],
)
def test_bad_chains_are_refused(survival):
    with pytest.raises(ValueError):
        chain_arr_distribution(np.array([1.0]), np.array(survival))


def test_a_contract_counts_once_in_its_renewal_month():
    scored = pd.DataFrame(
        [contract("annual", "2027-03-15", 5_000.0, 0.8), contract("3-year", "2027-06-01", 10_000.0, 0.6, 1_095.0)]
    )
    forecast = forecast_renewals(scored, AS_OF, months=12).set_index("period")
    months = forecast[forecast["period_type"] == "month"]
    assert months.loc[months["renewals"] > 0].index.tolist() == ["2027-03", "2027-06"]
    assert months.loc["2027-03", ["renewals", "arr_up_for_renewal", "expected_renewing_arr"]].tolist() == [
        1,
        5_000.0,
        pytest.approx(4_000.0),
    ]
    assert months.loc["2027-06", "expected_renewing_arr"] == pytest.approx(6_000.0)
    assert forecast.loc["total", "renewals"] == 2


def test_renewals_beyond_the_trained_range_are_left_out_and_counted():
    """18 months ahead: past day 365 nothing is forecast; what was left out is counted where it falls."""
    scored = pd.DataFrame(
        [
            monthly_plan(),  # renews on the 10th: day 343 (2027-10-10) is the last inside the range
            contract("annual", "2027-12-15", 5_000.0, 0.8),  # day 409
            contract("day 365", "2027-11-01", 7.0, 1.0),  # the edge of the range: inside
            contract("day 366", "2027-11-02", 11.0, 1.0),
        ]
    )
    forecast = forecast_renewals(scored, AS_OF, months=18).set_index("period")
    total = forecast.loc["total"]
    assert total["renewals"] == 12 + 1
    assert total["expected_renewing_arr"] == pytest.approx(1_200.0 * sum(0.9**k for k in range(1, 13)) + 7.0)
    assert (total["beyond_range_renewals"], total["beyond_range_arr"]) == (1 + 1 + 6, 5_000.0 + 11.0 + 6 * 1_200.0)
    december = forecast.loc["2027-12"]
    assert (december["renewals"], december["expected_renewing_arr"], december["renewing_arr_p97_5"]) == (0, 0.0, 0.0)
    assert (december["beyond_range_renewals"], december["beyond_range_arr"]) == (2, 6_200.0)
    assert np.isnan(december["renewal_rate_expected"])
    november = forecast.loc["2027-11"]
    assert (november["renewals"], november["arr_up_for_renewal"], november["beyond_range_renewals"]) == (1, 7.0, 2)
    assert forecast.loc["2027-10", "beyond_range_renewals"] == 0


# --- judging forecasts ------------------------------------------------------------------------------


def test_judging_one_forecast_by_hand():
    # 100 @ 0.9 and 50 @ 0.5: 0, 50, 100, 150 with probabilities .05, .05, .45, .45
    values, probs = np.array([0.0, 50.0, 100.0, 150.0]), np.array([0.05, 0.05, 0.45, 0.45])
    judged = judge_forecast(values, probs, expected=115.0, actual=100.0)
    assert judged["error"] == pytest.approx(15.0) and judged["error_pct"] == pytest.approx(0.15)
    assert (judged["low_80"], judged["high_80"], judged["inside_80"]) == (50.0, 150.0, True)
    assert (judged["low_95"], judged["high_95"], judged["inside_95"]) == (0.0, 150.0, True)
    assert judged["actual_percentile"] == pytest.approx(0.55)  # P(S <= 100 + half a grid step)


def test_coverage_counts_the_cutoffs_whose_actual_fell_inside():
    first = judge_forecast(np.array([0.0, 50.0, 100.0, 150.0]), np.array([0.05, 0.05, 0.45, 0.45]), 115.0, 100.0)
    # 200 @ 0.95 and 100 @ 0.95: CDF(200) = .0975 < .1, so the whole 80% interval is 300
    second = judge_forecast(
        np.array([0.0, 100.0, 200.0, 300.0]), np.array([0.0025, 0.0475, 0.0475, 0.9025]), 285.0, 200.0
    )
    assert (second["low_80"], second["high_80"], second["inside_80"]) == (300.0, 300.0, False)
    assert (second["low_95"], second["inside_95"]) == (100.0, True)
    rows = pd.DataFrame([first | {"horizon": "next quarter"}, second | {"horizon": "next quarter"}])
    coverage = backtest_coverage(rows).iloc[0]
    assert (coverage["cutoffs"], coverage["inside_80"], coverage["inside_95"]) == (2, 1, 2)
    assert (coverage["coverage_80"], coverage["coverage_95"]) == (0.5, 1.0)
    assert coverage["bias_pct"] == pytest.approx(100 / 300)
    assert coverage["mean_abs_error_pct"] == pytest.approx((0.15 + 0.425) / 2)
    assert not coverage["target_met"]
