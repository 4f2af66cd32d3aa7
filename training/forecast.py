"""ARR forecasts from calibrated renewal probabilities: expected value and honest intervals.

Finance adds up ``arr * renewal_probability`` to get expected renewing ARR. That sum is only
useful with a range around it, and a normal approximation gets that range wrong: a book is
often dominated by a few large contracts, so the sum of renewing ARR is lumpy and skewed.
Each contract is treated as an independent Bernoulli trial that brings back its current ARR
if it renews (renewed ARR = current ARR: price changes, expansion and contraction are not
modelled, which is also what the backtest compares against). The distribution of the sum is
then a weighted Poisson-binomial, computed exactly on a discretized ARR grid.

Independence is an assumption: a recession or a pricing change moves many accounts at once,
so the intervals are narrower than reality when such shocks happen. The backtest below is
there to show how often the 80% interval actually held.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

_CDF_TOLERANCE = 1e-10  # cumulative sums of ~resolution terms drift by ~1e-13; don't let that move a quantile
_VARIANCE_TOLERANCE = 0.01  # refine the grid until the rounded sum's variance is within 1% of the truth
_MAX_WORK = 1e9  # bound on cell updates (live contracts × grid cells) one distribution may cost (~0.5 s)
_NEGLIGIBLE = 1e-280  # probabilities below this are flushed to zero before they turn subnormal and slow
_MAX_CELLS = 1 << 21  # a grid never exceeds ~2 M cells (16 MB), whatever the work estimate says
_PRECISION = 1e-6  # spreads under a millionth of the book's ARR are not worth a finer grid


def _check_inputs(arr: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(arr, dtype=float).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if arr.shape != p.shape:
        raise ValueError(f"arr and p differ in length ({arr.size} vs {p.size})")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("arr must be finite and >= 0")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("renewal probabilities must lie in [0, 1]")
    return arr, p


def _discretize(arr: np.ndarray, resolution: int) -> tuple[np.ndarray, float]:
    """Integer units per contract and the currency value of one unit.

    The starting unit is total / resolution, so the grid has about ``resolution`` cells
    whatever the currency or book size. Rounding to the nearest unit errs by at most half a
    unit per contract; the unit is then refitted by least squares to the rounded counts
    (``unit = Σ arr·k / Σ k²``), which removes the error entirely when the contracts share a
    common size (equal prices, round numbers) and otherwise makes it smallest overall.
    Contracts smaller than half a unit round to zero units; their expected ARR is not lost,
    it is carried by the offset in ``renewing_arr_distribution``.
    """
    total = float(arr.sum())
    start_unit = total / resolution
    units = np.rint(arr / start_unit).astype(np.int64)
    denominator = float(units @ units)
    unit = float(arr @ units) / denominator if denominator > 0 else start_unit
    return units, unit


def _grid_pmf(units: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Exact pmf of Σ units_i·B_i on 0..Σ units_i, B_i ~ Bernoulli(p_i) independent.

    Multiplying the polynomials (1 - p_i) + p_i·x^units_i one contract at a time: each step
    mixes the current pmf with itself shifted by units_i, which is two numpy slice operations
    over the part of the grid reached so far. Cost O(contracts × grid), no approximation
    beyond float rounding (every step keeps the mass at exactly one up to ~1e-16).

    Far tails shrink geometrically (0.2^40000 for 40,000 likely renewals) into subnormal
    floats, which x86 multiplies ~5x slower; every 64 contracts anything below 1e-280 is set
    to zero, removing at most grid × 1e-280 of probability.
    """
    live = (units > 0) & (p > 0)
    units, p = units[live], p[live]
    pmf = np.zeros(int(units.sum()) + 1)
    pmf[0] = 1.0
    top = 0  # pmf is zero beyond index `top`
    for step, (k, q) in enumerate(zip(units.tolist(), p.tolist(), strict=True), start=1):
        moved = pmf[: top + 1] * q
        pmf[: top + 1] *= 1.0 - q
        pmf[k : k + top + 1] += moved
        top += k
        if step % 64 == 0:
            reached = pmf[: top + 1]
            reached[reached < _NEGLIGIBLE] = 0.0
    return pmf


def _variance_gap(arr: np.ndarray, p: np.ndarray, units: np.ndarray, unit: float) -> tuple[float, float]:
    """True variance Σ arr²·p·(1-p) and the grid's variance minus it, both in currency²."""
    weight = p * (1.0 - p)
    true = float((arr * arr) @ weight)
    grid = unit * unit * float((units * units) @ weight)
    return true, grid - true


def _work(units: np.ndarray, p: np.ndarray) -> float:
    """Upper bound on the cell updates ``_grid_pmf`` will do: live contracts × grid size."""
    live = (units > 0) & (p > 0)
    return float(live.sum()) * float(units[live].sum())


def _spread_normally(pmf: np.ndarray, variance: float) -> tuple[np.ndarray, int]:
    """Convolve with a zero-mean discretized normal of ``variance`` (grid units²), ±6 sd wide.

    Returns the widened pmf and how many cells it grew on the left.
    """
    pad = int(np.ceil(6.0 * np.sqrt(variance)))
    offsets = np.arange(-pad, pad + 1, dtype=float)
    kernel = np.exp(-0.5 * offsets * offsets / variance)
    return np.convolve(pmf, kernel / kernel.sum()), pad


def renewing_arr_distribution(arr: np.ndarray, p: np.ndarray, resolution: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of renewing ARR S = Σ arr_i·B_i with independent B_i ~ Bernoulli(p_i).

    Returns ``(values, probs)``: ascending currency amounts on an evenly spaced grid (clipped
    into 0..total ARR) and their probabilities, summing to 1; grid points may carry zero
    probability. An empty book, or one with no ARR, is S = 0 with certainty.

    Why a grid: the exact support has up to 2^n points; on a grid of G cells the convolution
    is exact for the rounded contract sizes (see ``_grid_pmf``) and costs O(n·G). Rounding is
    the only approximation, and it is kept small and unbiased:

    * each contract is rounded to a whole number of units of about total / resolution,
      refitted by least squares (``_discretize``): with equal contracts, or contracts on a
      common price step, nothing is rounded and the result is the exact weighted
      Poisson-binomial distribution;
    * the grid is shifted by ``offset = Σ p_i·(arr_i - unit·k_i)``, so the mean equals
      Σ arr_i·p_i exactly — the discretization never moves finance's expected value. This
      is also where contracts smaller than half a unit land: their expected ARR is kept;
    * ``resolution`` is a floor, not a ceiling. Contracts well below a unit lose their spread
      (5,000 equal contracts on 2,000 cells all round to zero units: a point mass), so the
      grid is doubled until the variance of the rounded sum is within 1% of the true
      Σ arr²·p·(1-p), as long as the work stays under ``_MAX_WORK`` cell updates (about half
      a second). Books too big for that (tens of thousands of contracts in one period) get the
      missing variance added as a normal spread — the central limit theorem is excellent
      for exactly the many small contracts the grid could not resolve. A capped grid whose
      variance is instead more than 1% too *high* (rounding up dominated) cannot be narrowed
      and raises a ``RuntimeWarning``;
    * values are clipped into [0, total ARR], which only touches extreme, unlikely points.

    With the mean exact and the variance within 1%, percentiles of realistic books of 5,000
    contracts are within ~0.01 standard deviations of a grid 200 times finer.
    """
    arr, p = _check_inputs(arr, p)
    if resolution < 1:
        raise ValueError("resolution must be >= 1")
    total = float(arr.sum())
    if total <= 0:
        return np.zeros(1), np.ones(1)
    resolution = int(resolution)
    units, unit = _discretize(arr, resolution)
    true_var, gap = _variance_gap(arr, p, units, unit)
    # Good enough: within 1% of the true variance, or off by a spread too small to matter
    # (a book of one certain 470k contract and a few 0.001 ones must not refine forever).
    tolerance = max(_VARIANCE_TOLERANCE * true_var, (_PRECISION * total) ** 2)
    while abs(gap) > tolerance:
        finer_units, finer_unit = _discretize(arr, 2 * resolution)
        if finer_units.sum() > _MAX_CELLS or _work(finer_units, p) > _MAX_WORK:
            break
        resolution, units, unit = 2 * resolution, finer_units, finer_unit
        true_var, gap = _variance_gap(arr, p, units, unit)

    pmf = _grid_pmf(units, p)
    first_cell = 0
    if gap < -tolerance:
        pmf, first_cell = _spread_normally(pmf, -gap / (unit * unit))
    elif gap > tolerance:
        warnings.warn(
            f"renewing ARR grid capped at {resolution} cells with a variance {gap / true_var:.1%} too high; "
            "intervals are slightly too wide",
            RuntimeWarning,
            stacklevel=2,
        )
    offset = float(p @ (arr - unit * units))
    values = np.clip(offset + unit * (np.arange(pmf.size) - first_cell), 0.0, total)
    pmf = np.clip(pmf, 0.0, None)
    return values, pmf / pmf.sum()


def interval(values: np.ndarray, probs: np.ndarray, level: float) -> tuple[float, float]:
    """Central interval of a discrete distribution: 0.80 → (10th, 90th percentile).

    Percentiles are the inverse CDF (the smallest value whose cumulative probability reaches
    the target), read over points with positive probability only, so an interval never ends
    on a value that cannot happen. Intervals for higher levels always contain those for
    lower levels. They need not contain the mean: a single contract renewing with p = 0.05
    has mean 0.05·arr but an 80% interval of [0, 0] — that is the lumpiness finance should see.
    """
    if not 0 <= level <= 1:
        raise ValueError("level must lie in [0, 1]")
    values = np.asarray(values, dtype=float)
    probs = np.asarray(probs, dtype=float)
    if values.shape != probs.shape or values.size == 0:
        raise ValueError("values and probs must be non-empty and of equal length")
    support = probs > 0
    values, probs = values[support], probs[support]
    cdf = np.cumsum(probs) / probs.sum()
    tail = (1.0 - level) / 2.0
    targets = np.array([tail, 1.0 - tail]) - _CDF_TOLERANCE
    lower, upper = np.searchsorted(cdf, targets, side="left").clip(0, values.size - 1)
    return float(values[lower]), float(values[upper])


def _level_names(level: float) -> tuple[str, str]:
    """Column suffixes for a level: 0.80 → ("p10", "p90"), 0.95 → ("p2_5", "p97_5")."""
    tail = round((1.0 - level) / 2.0 * 100.0, 6)
    low, high = (f"p{q:g}".replace(".", "_") for q in (tail, round(100.0 - tail, 6)))
    return low, high


def _summary(arr: np.ndarray, p: np.ndarray, levels: Sequence[float], resolution: int) -> dict[str, float | int]:
    up = float(arr.sum())
    expected = float(arr @ p)
    row: dict[str, float | int] = {
        "contracts": int(arr.size),
        "arr_up_for_renewal": up,
        "expected_renewing_arr": expected,
        "expected_churned_arr": up - expected,
        # A rate over no ARR is undefined, not 0%: NaN keeps averages over months honest.
        "renewal_rate_expected": expected / up if up > 0 else np.nan,
    }
    values, probs = renewing_arr_distribution(arr, p, resolution)
    for level in levels:
        low_name, high_name = _level_names(level)
        row[f"renewing_arr_{low_name}"], row[f"renewing_arr_{high_name}"] = interval(values, probs, level)
    return row


def forecast_renewals(
    scored: pd.DataFrame,
    as_of: pd.Timestamp,
    months: int = 12,
    levels: Sequence[float] = (0.80, 0.95),
    resolution: int = 2000,
) -> pd.DataFrame:
    """Expected renewing ARR and its intervals per calendar month, per quarter and in total.

    Takes contracts with ``as_of <= renewal_date < as_of + months`` calendar months (rows
    without a renewal date cannot fall in the horizon and are left out). Every calendar month
    and quarter that the horizon touches gets a row — empty ones with zero ARR, zero
    contracts, zero intervals and a NaN renewal rate — because finance lays the forecast
    against a monthly plan. When ``as_of`` is not the first of a month the first and last
    months (and the quarters around them) only cover part of the period; ``partial`` flags
    them so that a short month is not read as a bad month.

    Each period's interval is computed from that period's own contracts (intervals do not
    add up: a quarter's 10th percentile is typically well above the sum of its months').
    Rows come in order: months, quarters, then one ``total`` row for the whole horizon.
    Interval columns are named after their percentiles (``renewing_arr_p10`` …).
    """
    missing = {"renewal_date", "arr", "renewal_probability"} - set(scored.columns)
    if missing:
        raise ValueError(f"scored table lacks columns {sorted(missing)}")
    if months < 1:
        raise ValueError("months must be >= 1")
    as_of = pd.Timestamp(as_of)
    end = as_of + pd.DateOffset(months=months)
    dates = pd.to_datetime(scored["renewal_date"])
    inside = ((dates >= as_of) & (dates < end)).to_numpy()
    dates = dates[inside]
    arr, p = _check_inputs(
        scored["arr"].to_numpy(dtype=float, na_value=np.nan)[inside],
        scored["renewal_probability"].to_numpy(dtype=float, na_value=np.nan)[inside],
    )
    last_day = end - pd.Timedelta(days=1)

    rows = []
    for freq, period_type in (("M", "month"), ("Q", "quarter")):
        labels = dates.dt.to_period(freq).astype(str).to_numpy()
        for period in pd.period_range(as_of.to_period(freq), last_day.to_period(freq), freq=freq):
            mask = labels == str(period)
            partial = bool(period.start_time < as_of or period.end_time >= end)
            rows.append(
                {"period": str(period), "period_type": period_type, "partial": partial}
                | _summary(arr[mask], p[mask], levels, resolution)
            )
    rows.append({"period": "total", "period_type": "total", "partial": False} | _summary(arr, p, levels, resolution))

    frame = pd.DataFrame(rows)
    interval_columns = [f"renewing_arr_{name}" for level in levels for name in _level_names(level)]
    columns = [
        "period",
        "period_type",
        "contracts",
        "arr_up_for_renewal",
        "expected_renewing_arr",
        "expected_churned_arr",
        "renewal_rate_expected",
        *interval_columns,
        "partial",
    ]
    return frame[columns]


def _as_quarters(values: pd.Series | Sequence) -> pd.PeriodIndex:
    """Quarters from Periods of any frequency or from text such as "2025Q3"."""
    if isinstance(getattr(values, "dtype", None), pd.PeriodDtype):
        return pd.PeriodIndex(values).asfreq("Q")
    return pd.PeriodIndex([pd.Period(v).asfreq("Q") if isinstance(v, pd.Period) else v for v in values], freq="Q")


def forecast_backtest(
    history: pd.DataFrame,
    quarters: list[pd.Period] | None = None,
    lead_days: int = 90,
    resolution: int = 2000,
) -> pd.DataFrame:
    """How forecasts made ``lead_days`` before each quarter compared with what renewed.

    ``history`` holds one row per renewal that fell in a past quarter, with the probability a
    model gave it ``lead_days`` before the quarter began (``quarter``, ``arr``,
    ``renewal_probability``, ``renewed_arr``). The forecast predicts renewing ARR *at the old
    price*, so it is judged against ``actual_renewing_arr_at_same_price`` = Σ arr over the
    contracts that renewed; ``actual_renewed_arr`` (what the successors really brought, with
    price changes and expansion) is shown next to it but not scored.

    One row per quarter (``quarters`` in the given order, or every quarter in ``history``;
    a listed quarter without renewals gets zeros) with ``error`` = forecast − actual,
    ``error_pct`` = error / actual (NaN when nothing renewed), ``abs_error_pct``, the 80%
    interval ``p10``–``p90`` and ``within_80``. An interval end is only known to within half a
    grid step, so that is the tolerance for ``within_80``.

    The final ``all`` row sums the ARR columns; its ``error_pct`` is the pooled bias
    (Σ error / Σ actual), its ``abs_error_pct`` is the mean absolute percentage error over
    quarters, and its ``within_80`` is the share of quarters (with renewals) whose actual
    fell inside the 80% interval — about 0.8 if the model is calibrated *and* renewals are
    as independent as the intervals assume. ``quarter`` is text ("2025Q3", …, "all").
    """
    missing = {"quarter", "arr", "renewal_probability", "renewed_arr"} - set(history.columns)
    if missing:
        raise ValueError(f"history lacks columns {sorted(missing)}")
    history_quarters = _as_quarters(history["quarter"])
    chosen = history_quarters.unique().sort_values() if quarters is None else _as_quarters(quarters)
    arr, p = _check_inputs(
        history["arr"].to_numpy(dtype=float, na_value=np.nan),
        history["renewal_probability"].to_numpy(dtype=float, na_value=np.nan),
    )
    renewed = history["renewed_arr"].to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(renewed)):
        raise ValueError("renewed_arr must be known (0 for a churned contract)")

    rows = []
    for quarter in chosen:
        mask = np.asarray(history_quarters == quarter)
        a, q = arr[mask], p[mask]
        forecast = float(a @ q)
        same_price = float(a[renewed[mask] > 0].sum())
        values, probs = renewing_arr_distribution(a, q, resolution)
        low, high = interval(values, probs, 0.80)
        slack = float(np.diff(values).max()) / 2 if values.size > 1 else 0.0
        error = forecast - same_price
        error_pct = error / same_price if same_price > 0 else np.nan
        rows.append(
            {
                "quarter": str(quarter),
                "forecast_as_of": quarter.start_time - pd.Timedelta(days=lead_days),
                "contracts": int(mask.sum()),
                "arr_up_for_renewal": float(a.sum()),
                "forecast_renewing_arr": forecast,
                "actual_renewed_arr": float(renewed[mask].sum()),
                "actual_renewing_arr_at_same_price": same_price,
                "error": error,
                "error_pct": error_pct,
                "abs_error_pct": abs(error_pct),
                "p10": low,
                "p90": high,
                "within_80": bool(low - slack <= same_price <= high + slack),
            }
        )

    per_quarter = pd.DataFrame(rows)
    scored = [row for row in rows if row["contracts"] > 0]
    actual_total = sum(row["actual_renewing_arr_at_same_price"] for row in rows)
    error_total = sum(row["error"] for row in rows)
    abs_pcts = [row["abs_error_pct"] for row in scored if not np.isnan(row["abs_error_pct"])]
    summary = {
        "quarter": "all",
        "forecast_as_of": pd.NaT,
        "contracts": sum(row["contracts"] for row in rows),
        "arr_up_for_renewal": sum(row["arr_up_for_renewal"] for row in rows),
        "forecast_renewing_arr": sum(row["forecast_renewing_arr"] for row in rows),
        "actual_renewed_arr": sum(row["actual_renewed_arr"] for row in rows),
        "actual_renewing_arr_at_same_price": actual_total,
        "error": error_total,
        "error_pct": error_total / actual_total if actual_total > 0 else np.nan,
        "abs_error_pct": float(np.mean(abs_pcts)) if abs_pcts else np.nan,
        "p10": np.nan,
        "p90": np.nan,
        "within_80": float(np.mean([row["within_80"] for row in scored])) if scored else np.nan,
    }
    columns = list(summary)
    frame = pd.concat([per_quarter.reindex(columns=columns), pd.DataFrame([summary])], ignore_index=True)
    frame["within_80"] = frame["within_80"].astype(object)
    return frame[columns]
