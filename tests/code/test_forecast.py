"""ARR forecast: the renewing-ARR distribution is exact on its grid, and the tables add up."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from training.forecast import forecast_backtest, forecast_renewals, interval, renewing_arr_distribution


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
        "arr_up_for_renewal",
        "expected_renewing_arr",
        "expected_churned_arr",
        "renewal_rate_expected",
        "renewing_arr_p10",
        "renewing_arr_p90",
        "renewing_arr_p2_5",
        "renewing_arr_p97_5",
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


# --- forecast_backtest ---------------------------------------------------------------------------


def hand_history() -> pd.DataFrame:
    """2025Q1: 100 @ 0.9 renews (at 110), 50 @ 0.5 churns. 2025Q2: 200 @ 0.95 renews (at 180), 100 @ 0.95 churns."""
    return pd.DataFrame(
        {
            "quarter": pd.PeriodIndex(["2025Q1", "2025Q1", "2025Q2", "2025Q2"], freq="Q"),
            "arr": [100.0, 50.0, 200.0, 100.0],
            "renewal_probability": [0.9, 0.5, 0.95, 0.95],
            "renewed_arr": [110.0, 0.0, 180.0, 0.0],
        }
    )


def test_backtest_arithmetic_by_hand():
    report = forecast_backtest(hand_history()).set_index("quarter")
    q1, q2, overall = report.loc["2025Q1"], report.loc["2025Q2"], report.loc["all"]

    assert q1["forecast_as_of"] == pd.Timestamp("2024-10-03")
    assert (q1["contracts"], q1["arr_up_for_renewal"]) == (2, 150.0)
    assert q1["forecast_renewing_arr"] == pytest.approx(90 + 25)
    assert q1["actual_renewed_arr"] == 110.0
    assert q1["actual_renewing_arr_at_same_price"] == 100.0
    assert q1["error"] == pytest.approx(15.0)
    assert q1["error_pct"] == pytest.approx(0.15)
    # outcomes 0, 50, 100, 150 with probabilities .05, .05, .45, .45: 10th percentile 50, 90th 150
    assert (q1["p10"], q1["p90"]) == (pytest.approx(50.0, abs=0.1), pytest.approx(150.0, abs=0.1))
    assert q1["within_80"] is True

    assert q2["forecast_renewing_arr"] == pytest.approx(285.0)
    assert q2["actual_renewing_arr_at_same_price"] == 200.0
    assert q2["error_pct"] == pytest.approx(0.425)
    # both renew with probability .9025 and CDF(200) = .0975 < .1: the whole 80% interval is 300
    assert (q2["p10"], q2["p90"]) == (pytest.approx(300.0, abs=0.1), pytest.approx(300.0, abs=0.1))
    assert q2["within_80"] is False

    assert overall["contracts"] == 4
    assert overall["forecast_renewing_arr"] == pytest.approx(400.0)
    assert overall["actual_renewed_arr"] == 290.0
    assert overall["actual_renewing_arr_at_same_price"] == 300.0
    assert overall["error_pct"] == pytest.approx(100 / 300)
    assert overall["abs_error_pct"] == pytest.approx((0.15 + 0.425) / 2)
    assert overall["within_80"] == pytest.approx(0.5)
    assert list(report.index) == ["2025Q1", "2025Q2", "all"]


def test_backtest_follows_the_requested_quarters_and_keeps_empty_ones():
    history = hand_history()
    history["quarter"] = history["quarter"].astype(str)  # text quarters are accepted too
    report = forecast_backtest(history, [pd.Period("2025Q2", "Q"), pd.Period("2025Q3", "Q")])
    assert report["quarter"].tolist() == ["2025Q2", "2025Q3", "all"]
    empty = report.set_index("quarter").loc["2025Q3"]
    assert empty["contracts"] == 0
    assert empty["forecast_renewing_arr"] == 0.0
    assert np.isnan(empty["error_pct"])
    all_row = report.set_index("quarter").loc["all"]
    assert all_row["contracts"] == 2  # 2025Q1 was not asked for
    assert all_row["within_80"] == 0.0  # only quarters with renewals count
    assert all_row["abs_error_pct"] == pytest.approx(0.425)


def test_backtest_refuses_unknown_outcomes():
    history = hand_history()
    history.loc[0, "renewed_arr"] = np.nan
    with pytest.raises(ValueError, match="renewed_arr"):
        forecast_backtest(history)
