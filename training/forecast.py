"""ARR forecasts from calibrated risks: expected renewing ARR per month and quarter, with honest intervals.

Finance adds up ``arr * renewal_probability`` to get expected renewing ARR. That sum is only
useful with a range around it, and a normal approximation gets that range wrong: a book is
often dominated by a few large contracts, so the sum of renewing ARR is lumpy and skewed.

**What renews when.** A risk means one thing per cadence (``features.snapshots``), and the
forecast reads it with that meaning:

- A contract of ``RISK_WINDOW_DAYS`` days or more (annual, multi-year) renews once, at its
  renewal date, with its renewal probability; it is counted once, in its renewal month.
- A shorter plan (monthly) renews at every renewal date. Its risk is the chance of cancelling
  within the next 90 days. Read as a constant hazard per renewal, the chance of cancelling at
  any one renewal is ``q = 1 - (1 - risk)^(term / 90)`` and the chance the account is still
  renewing at its k-th renewal from now is ``(1 - q)^k = (1 - risk)^(k·term / 90)``. Month m's
  expected renewing ARR from it is ``ARR × survival through m's renewal``; its ARR is up for
  renewal in every month of the horizon. (A calendar-monthly term counts as 365.25/12 days,
  whatever the current month's length; renewals step by calendar months.) Beyond the first 90
  days this carries today's hazard forward unchanged: an extrapolation the backtest checks.

Renewed ARR is taken to equal current ARR: price changes, expansion and contraction are not
modelled, which is also what the backtest compares against.

**Intervals.** Accounts are assumed independent of each other. Within one account nothing is
assumed: its renewals form a chain (once it cancels, later renewals do not happen), so in a
period with n of its renewals it brings back ``ARR × J`` with ``P(J ≥ j)`` = its survival
through the j-th of them, J = 0..n. A contract that renews once is the n = 1 case, a Bernoulli
trial. The distribution of the sum over accounts is a convolution of these independent pieces
(a weighted Poisson-binomial when every piece is a Bernoulli trial), computed exactly on a
discretized ARR grid. Independence between accounts is the assumption that matters: a
recession or a pricing change moves many accounts at once, so the intervals are narrower than
reality when such shocks happen. The out-of-sample backtest (``training.forecast_run``) shows
how often the 80% and 95% intervals actually held.

**Trained range.** The model saw renewals at most ``MAX_HORIZON_DAYS`` days ahead. Renewals
further out (a multi-year renewal in month 14, a monthly plan's 13th renewal) are not
forecast: they are left out of every period and counted in ``beyond_range_renewals`` and
``beyond_range_arr`` of the period they fall in, never silently forecast as if inside it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.snapshots import MAX_HORIZON_DAYS, RISK_WINDOW_DAYS, cadence

_CDF_TOLERANCE = 1e-10  # cumulative sums of ~resolution terms drift by ~1e-13; don't let that move a quantile
_VARIANCE_TOLERANCE = 0.01  # refine the grid until the rounded sum's variance is within 1% of the truth
_MAX_WORK = 1e9  # bound on cell updates (live renewals × grid cells) one distribution may cost (~0.5 s)
_NEGLIGIBLE = 1e-280  # probabilities below this are flushed to zero before they turn subnormal and slow
_MAX_CELLS = 1 << 21  # a grid never exceeds ~2 M cells (16 MB), whatever the work estimate says
_PRECISION = 1e-6  # spreads under a millionth of the book's ARR are not worth a finer grid
_MONTH_DAYS = 365.25 / 12  # a calendar month, on average
_MONTH_SLACK_DAYS = 3  # a term within 3 days (per month) of whole calendar months renews by calendar months


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


def _check_chains(arr: np.ndarray, survival: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ARR per piece, P(J = j) per piece and j = 0..m, and each piece's number of renewals n.

    ``survival`` is (pieces, m): row i holds the chance piece i is still renewing at each of
    its renewals in the period, in order, padded with NaN after its last one.
    """
    arr = np.asarray(arr, dtype=float).ravel()
    survival = np.asarray(survival, dtype=float)
    if survival.ndim == 1:
        survival = survival[:, None]
    if survival.ndim != 2 or survival.shape[0] != arr.size:
        raise ValueError(f"arr and survival differ in length ({arr.size} vs {survival.shape[0]})")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("arr must be finite and >= 0")
    scheduled = ~np.isnan(survival)
    if np.any(scheduled[:, 1:] & ~scheduled[:, :-1]):
        raise ValueError("survival rows must list renewals first and pad with NaN after the last one")
    s = np.where(scheduled, survival, 0.0)
    if not np.all(np.isfinite(s)) or np.any((s < 0) | (s > 1)):
        raise ValueError("renewal probabilities must lie in [0, 1]")
    if np.any(np.diff(s, axis=1) > 1e-12):
        raise ValueError("survival must not increase from one renewal to the next")
    s = np.minimum.accumulate(s, axis=1)  # remove float noise so that every P(J = j) is >= 0
    pieces = arr.size
    upper = np.concatenate([np.ones((pieces, 1)), s], axis=1)
    lower = np.concatenate([s, np.zeros((pieces, 1))], axis=1)
    return arr, upper - lower, scheduled.sum(axis=1)


def _discretize(arr: np.ndarray, resolution: int, total: float) -> tuple[np.ndarray, float]:
    """Integer units per contract and the currency value of one unit.

    The starting unit is total / resolution (``total`` is the most the period can bring back),
    so the grid has about ``resolution`` cells whatever the currency or book size. Rounding to
    the nearest unit errs by at most half a unit per contract; the unit is then refitted by
    least squares to the rounded counts (``unit = Σ arr·k / Σ k²``), which removes the error
    entirely when the contracts share a common size (equal prices, round numbers) and otherwise
    makes it smallest overall. Contracts smaller than half a unit round to zero units; their
    expected ARR is not lost, it is carried by the offset in ``chain_arr_distribution``.
    """
    start_unit = total / resolution
    units = np.rint(arr / start_unit).astype(np.int64)
    denominator = float(units @ units)
    unit = float(arr @ units) / denominator if denominator > 0 else start_unit
    return units, unit


def _grid_pmf(units: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Exact pmf of Σ units_i·J_i on the grid, J_i independent with P(J_i = j) = counts[i, j].

    Multiplying the polynomials Σ_j counts[i, j]·x^(j·units_i) one piece at a time: each step
    mixes the current pmf with copies of itself shifted by multiples of units_i, a few numpy
    slice operations over the part of the grid reached so far. Cost O(renewals × grid), no
    approximation beyond float rounding (every step keeps the mass at exactly one up to ~1e-16).
    A piece that renews once (a Bernoulli trial) takes the two-slice path.

    Far tails shrink geometrically (0.2^40000 for 40,000 likely renewals) into subnormal
    floats, which x86 multiplies ~5x slower; every 64 pieces anything below 1e-280 is set
    to zero, removing at most grid × 1e-280 of probability.
    """
    reach = _reach(counts)
    live = (units > 0) & (reach > 0)
    units, counts, reach = units[live], counts[live], reach[live]
    pmf = np.zeros(int((units * reach).sum()) + 1)
    pmf[0] = 1.0
    top = 0  # pmf is zero beyond index `top`
    for step, (k, row, most) in enumerate(zip(units.tolist(), counts, reach.tolist(), strict=True), start=1):
        if most == 1:
            q = float(row[1])
            moved = pmf[: top + 1] * q
            pmf[: top + 1] *= 1.0 - q
            pmf[k : k + top + 1] += moved
        else:
            before = pmf[: top + 1].copy()
            pmf[: top + 1] *= row[0]
            for j in range(1, most + 1):
                if row[j] > 0:
                    pmf[j * k : j * k + top + 1] += before * row[j]
        top += most * k
        if step % 64 == 0:
            reached = pmf[: top + 1]
            reached[reached < _NEGLIGIBLE] = 0.0
    return pmf


def _reach(counts: np.ndarray) -> np.ndarray:
    """The largest j with P(J = j) > 0 per piece (0 for a piece that surely renews nothing)."""
    positive = counts > 0
    return np.where(positive.any(axis=1), counts.shape[1] - 1 - np.argmax(positive[:, ::-1], axis=1), 0)


def _moments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[J] and Var(J) per piece."""
    j = np.arange(counts.shape[1], dtype=float)
    mean = counts @ j
    return mean, np.clip(counts @ (j * j) - mean * mean, 0.0, None)


def _variance_gap(arr: np.ndarray, var_j: np.ndarray, units: np.ndarray, unit: float) -> tuple[float, float]:
    """True variance Σ arr²·Var(J) and the grid's variance minus it, both in currency²."""
    true = float((arr * arr) @ var_j)
    grid = unit * unit * float((units * units) @ var_j)
    return true, grid - true


def _work(units: np.ndarray, reach: np.ndarray) -> float:
    """Upper bound on the cell updates ``_grid_pmf`` will do: live renewals × grid size."""
    live = (units > 0) & (reach > 0)
    return float(reach[live].sum()) * float((units * reach)[live].sum())


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

    Each contract renews once; ``chain_arr_distribution`` with one renewal per piece, which
    see. An empty book, or one with no ARR, is S = 0 with certainty.
    """
    arr, p = _check_inputs(arr, p)
    return chain_arr_distribution(arr, p[:, None], resolution)


def chain_arr_distribution(
    arr: np.ndarray, survival: np.ndarray, resolution: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of renewing ARR S = Σ arr_i·J_i over independent pieces (accounts).

    Piece i renews up to n_i times in the period; ``survival[i, j-1]`` is the chance it is still
    renewing at its j-th renewal (non-increasing in j, NaN after the n_i-th), so
    ``P(J_i ≥ j) = survival[i, j-1]``. With one renewal per piece this is the weighted
    Poisson-binomial distribution.

    Returns ``(values, probs)``: ascending currency amounts on an evenly spaced grid (clipped
    into 0..Σ arr_i·n_i) and their probabilities, summing to 1; grid points may carry zero
    probability. An empty book, or one with no ARR, is S = 0 with certainty.

    Why a grid: the exact support has up to Π (n_i + 1) points; on a grid of G cells the
    convolution is exact for the rounded contract sizes (see ``_grid_pmf``) and costs
    O(renewals·G). Rounding is the only approximation, and it is kept small and unbiased:

    * each piece is rounded to a whole number of units of about total / resolution,
      refitted by least squares (``_discretize``): with equal contracts, or contracts on a
      common price step, nothing is rounded and the result is exact;
    * the grid is shifted by ``offset = Σ E[J_i]·(arr_i - unit·k_i)``, so the mean equals
      Σ arr_i·E[J_i] exactly — the discretization never moves finance's expected value. This
      is also where contracts smaller than half a unit land: their expected ARR is kept;
    * ``resolution`` is a floor, not a ceiling. Contracts well below a unit lose their spread
      (5,000 equal contracts on 2,000 cells all round to zero units: a point mass), so the
      grid is doubled until the variance of the rounded sum is within 1% of the true
      Σ arr²·Var(J), as long as the work stays under ``_MAX_WORK`` cell updates (about half
      a second). Books too big for that (tens of thousands of renewals in one period) get the
      missing variance added as a normal spread — the central limit theorem is excellent
      for exactly the many small contracts the grid could not resolve. A capped grid whose
      variance is instead more than 1% too *high* (rounding up dominated) cannot be narrowed
      and raises a ``RuntimeWarning``;
    * values are clipped into [0, total], which only touches extreme, unlikely points.

    With the mean exact and the variance within 1%, percentiles of realistic books of 5,000
    contracts are within ~0.01 standard deviations of a grid 200 times finer.
    """
    arr, counts, renewals = _check_chains(arr, survival)
    if resolution < 1:
        raise ValueError("resolution must be >= 1")
    total = float((arr * renewals).sum())  # not a dot product: with one renewal each, exactly arr.sum()
    if total <= 0:
        return np.zeros(1), np.ones(1)
    resolution = int(resolution)
    reach = _reach(counts)
    mean_j, var_j = _moments(counts)
    units, unit = _discretize(arr, resolution, total)
    true_var, gap = _variance_gap(arr, var_j, units, unit)
    # Good enough: within 1% of the true variance, or off by a spread too small to matter
    # (a book of one certain 470k contract and a few 0.001 ones must not refine forever).
    tolerance = max(_VARIANCE_TOLERANCE * true_var, (_PRECISION * total) ** 2)
    while abs(gap) > tolerance:
        finer_units, finer_unit = _discretize(arr, 2 * resolution, total)
        if (finer_units * reach).sum() > _MAX_CELLS or _work(finer_units, reach) > _MAX_WORK:
            break
        resolution, units, unit = 2 * resolution, finer_units, finer_unit
        true_var, gap = _variance_gap(arr, var_j, units, unit)

    pmf = _grid_pmf(units, counts)
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
    offset = float(mean_j @ (arr - unit * units))
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


def _calendar_steps(term_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per plan: the step between renewals in calendar months (0 = step by days) and the term in days.

    A term within a few days of whole calendar months (28-31 days, 59-62 days) renews by
    calendar months and counts as 365.25/12 days per month, so a plan that happens to be in
    February is not read as a riskier-per-day one.
    """
    term = np.asarray(term_days, dtype=float)
    months = np.rint(term / _MONTH_DAYS)
    calendar = (months >= 1) & (np.abs(term - months * _MONTH_DAYS) <= _MONTH_SLACK_DAYS * months)
    months = np.where(calendar, months, 0).astype(int)
    return months, np.where(calendar, months * _MONTH_DAYS, term)


def renewal_events(
    scored: pd.DataFrame,
    as_of: pd.Timestamp,
    until: pd.Timestamp,
    window: int = RISK_WINDOW_DAYS,
    max_days: int = MAX_HORIZON_DAYS,
) -> pd.DataFrame:
    """Every renewal of the scored book in ``[as_of, until)``, with the chance it happens.

    ``scored`` has one row per contract in force: ``renewal_date``, ``arr``,
    ``renewal_probability`` (1 - churn risk) and, to tell a monthly plan from the rest,
    ``contract_term_days`` (without it every row renews once). A row renews once at its
    renewal date, or, for a plan shorter than ``window`` days, at every renewal from its
    renewal date on (module docstring). Rows without a renewal date have no renewals.

    One row per renewal: ``piece`` (the position of its row in ``scored``), ``renewal_number``
    (1 = the next renewal), ``renewal_date``, ``arr``, ``survival`` (the chance the account is
    still renewing then), ``cadence``, ``days_ahead`` and ``beyond_trained_range``
    (``days_ahead > max_days``), plus ``account_id`` and ``contract_id`` when ``scored`` has them.
    Ordered by piece and renewal number.
    """
    missing = {"renewal_date", "arr", "renewal_probability"} - set(scored.columns)
    if missing:
        raise ValueError(f"scored table lacks columns {sorted(missing)}")
    as_of, until = pd.Timestamp(as_of), pd.Timestamp(until)
    dates = pd.to_datetime(scored["renewal_date"]).reset_index(drop=True)
    term = (
        pd.to_numeric(scored["contract_term_days"], errors="coerce").to_numpy(dtype=float)
        if "contract_term_days" in scored
        else np.full(len(scored), np.nan)
    )
    p = scored["renewal_probability"].to_numpy(dtype=float, na_value=np.nan)
    short = (term >= 1) & (term < window) & dates.notna().to_numpy()  # a term under a day cannot step
    months, effective = _calendar_steps(term)

    pieces, numbers, when = [np.arange(len(scored))], [np.ones(len(scored), dtype=int)], [dates.to_numpy()]
    todo = np.flatnonzero(short)
    k = 1
    while todo.size:
        # the (k+1)-th renewal, counted from the renewal date (not from the k-th: no drift at month ends)
        step_dates = np.empty(todo.size, dtype="datetime64[ns]")
        base = dates.iloc[todo]
        for m in np.unique(months[todo]):
            rows = months[todo] == m
            if m > 0:
                step_dates[rows] = (pd.DatetimeIndex(base[rows]) + pd.DateOffset(months=int(m) * k)).to_numpy()
            else:
                days = pd.to_timedelta(np.rint(term[todo][rows] * k), unit="D")
                step_dates[rows] = (pd.DatetimeIndex(base[rows]) + days).to_numpy()
        before = step_dates < np.datetime64(until)
        todo, step_dates = todo[before], step_dates[before]
        k += 1
        pieces.append(todo)
        numbers.append(np.full(todo.size, k))
        when.append(step_dates)
    piece = np.concatenate(pieces)
    number = np.concatenate(numbers)
    events = pd.DataFrame({"piece": piece, "renewal_number": number, "renewal_date": np.concatenate(when)})
    events["renewal_date"] = pd.to_datetime(events["renewal_date"])
    for column in ("account_id", "contract_id"):
        if column in scored:
            events[column] = scored[column].to_numpy()[piece]
    events["arr"] = scored["arr"].to_numpy(dtype=float, na_value=np.nan)[piece]
    exponent = np.where(short[piece], number * effective[piece] / window, 1.0)
    with np.errstate(invalid="ignore"):
        events["survival"] = p[piece] ** exponent
    events["cadence"] = cadence(term)[piece]
    inside = (events["renewal_date"] >= as_of) & (events["renewal_date"] < until)
    events = events[inside.to_numpy()].sort_values(["piece", "renewal_number"], kind="stable", ignore_index=True)
    events["days_ahead"] = (events["renewal_date"] - as_of).dt.days
    events["beyond_trained_range"] = events["days_ahead"] > max_days
    return events


def forecast_period(
    events: pd.DataFrame, levels: Sequence[float] = (0.80, 0.95), resolution: int = 2000
) -> tuple[dict[str, float | int], np.ndarray, np.ndarray]:
    """One period's summary row and its renewing-ARR distribution ``(values, probs)``.

    ``events`` are the period's renewals (``renewal_events``, beyond-range ones already left
    out). ``contracts`` counts contracts on today's book with a renewal in the period (a
    monthly plan once, however often it renews), ``renewals`` the renewals themselves, and
    ``arr_up_for_renewal`` the ARR of every renewal (a monthly plan's ARR once per renewal).
    """
    events = events.sort_values(["piece", "renewal_number"], kind="stable")
    codes, uniques = pd.factorize(events["piece"], sort=True)
    position = events.groupby(codes).cumcount().to_numpy()
    arr, s = _check_inputs(events["arr"].to_numpy(dtype=float), events["survival"].to_numpy(dtype=float))
    survival = np.full((len(uniques), int(position.max()) + 1 if len(events) else 1), np.nan)
    survival[codes, position] = s
    arr_piece = np.zeros(len(uniques))
    arr_piece[codes] = arr
    values, probs = chain_arr_distribution(arr_piece, survival, resolution)
    up = float(arr.sum())
    expected = float(arr @ s) if len(events) else 0.0
    row: dict[str, float | int] = {
        "contracts": len(uniques),
        "renewals": len(events),
        "arr_up_for_renewal": up,
        "expected_renewing_arr": expected,
        "expected_churned_arr": up - expected,
        # A rate over no ARR is undefined, not 0%: NaN keeps averages over months honest.
        "renewal_rate_expected": expected / up if up > 0 else np.nan,
    }
    for level in levels:
        low_name, high_name = _level_names(level)
        row[f"renewing_arr_{low_name}"], row[f"renewing_arr_{high_name}"] = interval(values, probs, level)
    return row, values, probs


FORECAST_COLUMNS = [
    "period",
    "period_type",
    "contracts",
    "renewals",
    "arr_up_for_renewal",
    "expected_renewing_arr",
    "expected_churned_arr",
    "renewal_rate_expected",
]


def forecast_renewals(
    scored: pd.DataFrame,
    as_of: pd.Timestamp,
    months: int = 12,
    levels: Sequence[float] = (0.80, 0.95),
    resolution: int = 2000,
    max_days: int = MAX_HORIZON_DAYS,
) -> pd.DataFrame:
    """Expected renewing ARR and its intervals per calendar month, per quarter and in total.

    Takes the renewals of the scored book (``renewal_events``: a contract once, in its renewal
    month; a monthly plan at every renewal, with its survival) with ``as_of <= date < as_of +
    months`` calendar months. Every calendar month and quarter that the horizon touches gets a
    row — empty ones with zero ARR, zero contracts, zero intervals and a NaN renewal rate —
    because finance lays the forecast against a monthly plan. When ``as_of`` is not the first
    of a month the first and last months (and the quarters around them) only cover part of the
    period; ``partial`` flags them so that a short month is not read as a bad month.

    Renewals more than ``max_days`` ahead are outside the range the model was trained on: they
    are in no forecast figure, only in ``beyond_range_renewals`` and ``beyond_range_arr`` of
    their period (and of the total), so a month that lies past the range reads as "not
    forecast", not as "nothing renews".

    Each period's interval is computed from that period's own renewals (intervals do not
    add up: a quarter's 10th percentile is typically well above the sum of its months').
    Rows come in order: months, quarters, then one ``total`` row for the whole horizon.
    Interval columns are named after their percentiles (``renewing_arr_p10`` …).
    """
    if months < 1:
        raise ValueError("months must be >= 1")
    as_of = pd.Timestamp(as_of)
    end = as_of + pd.DateOffset(months=months)
    events = renewal_events(scored, as_of, end, max_days=max_days)
    beyond = events["beyond_trained_range"].to_numpy()
    kept, left_out = events[~beyond], events[beyond]
    last_day = end - pd.Timedelta(days=1)

    def row(period: str, period_type: str, partial: bool, inside: np.ndarray, outside: np.ndarray) -> dict:
        summary, _, _ = forecast_period(kept[inside], levels, resolution)
        excluded = {
            "beyond_range_renewals": int(outside.sum()),
            "beyond_range_arr": float(left_out["arr"].to_numpy(dtype=float)[outside].sum()),
        }
        return {"period": period, "period_type": period_type} | summary | excluded | {"partial": partial}

    rows = []
    for freq, period_type in (("M", "month"), ("Q", "quarter")):
        kept_labels = kept["renewal_date"].dt.to_period(freq).astype(str).to_numpy()
        left_labels = left_out["renewal_date"].dt.to_period(freq).astype(str).to_numpy()
        for period in pd.period_range(as_of.to_period(freq), last_day.to_period(freq), freq=freq):
            partial = bool(period.start_time < as_of or period.end_time >= end)
            rows.append(row(str(period), period_type, partial, kept_labels == str(period), left_labels == str(period)))
    rows.append(row("total", "total", False, np.ones(len(kept), bool), np.ones(len(left_out), bool)))

    interval_columns = [f"renewing_arr_{name}" for level in levels for name in _level_names(level)]
    columns = [*FORECAST_COLUMNS, *interval_columns, "beyond_range_renewals", "beyond_range_arr", "partial"]
    return pd.DataFrame(rows)[columns]


# --- judging a forecast against what happened ----------------------------------------------------


def judge_forecast(
    values: np.ndarray, probs: np.ndarray, expected: float, actual: float, levels: Sequence[float] = (0.80, 0.95)
) -> dict[str, float | bool]:
    """Error of one forecast and whether the actual fell inside each interval.

    ``error`` = forecast − actual, ``error_pct`` = error / actual (NaN when nothing renewed).
    An interval end is only known to within half a grid step, so that is the tolerance for
    ``inside_80`` (and the other levels). ``actual_percentile`` is where the actual fell in
    the forecast distribution, P(S ≤ actual): calibrated intervals spread these evenly over
    0..1; values piling up near 0 and 1 mean the intervals are too narrow.
    """
    values = np.asarray(values, dtype=float)
    probs = np.asarray(probs, dtype=float)
    slack = float(np.diff(values).max()) / 2 if values.size > 1 else 0.0
    error = expected - actual
    error_pct = error / actual if actual > 0 else np.nan
    out: dict[str, float | bool] = {
        "forecast": float(expected),
        "actual": float(actual),
        "error": float(error),
        "error_pct": float(error_pct),
        "abs_error_pct": float(abs(error_pct)),
    }
    for level in levels:
        low, high = interval(values, probs, level)
        name = f"{level * 100:g}".replace(".", "_")
        out[f"low_{name}"], out[f"high_{name}"] = low, high
        out[f"inside_{name}"] = bool(low - slack <= actual <= high + slack)
    out["actual_percentile"] = float(probs[values <= actual + slack].sum())
    return out


COVERAGE_TARGET = (0.70, 0.90)  # issue #10: the 80% interval should hold at 70-90% of cutoffs


def backtest_coverage(rows: pd.DataFrame, levels: Sequence[float] = (0.80, 0.95)) -> pd.DataFrame:
    """One row per forecast horizon: how often each interval held, and the errors.

    ``rows`` has one row per cutoff and horizon (``horizon``, ``forecast``, ``actual``,
    ``error``, ``abs_error_pct``, ``inside_80`` …). ``bias_pct`` is the pooled error
    (Σ error / Σ actual), ``mean_abs_error_pct`` the mean over cutoffs, ``coverage_80`` the
    share of cutoffs whose actual fell inside the 80% interval, and ``target_met`` whether
    that share is within ``COVERAGE_TARGET``.
    """
    out = []
    for horizon, group in rows.groupby("horizon", sort=False):
        actual = float(group["actual"].sum())
        summary: dict[str, object] = {
            "horizon": horizon,
            "cutoffs": len(group),
            "forecast": float(group["forecast"].sum()),
            "actual": actual,
            "bias_pct": float(group["error"].sum()) / actual if actual > 0 else np.nan,
            "mean_abs_error_pct": float(group["abs_error_pct"].mean()),
            "max_abs_error_pct": float(group["abs_error_pct"].max()),
        }
        for level in levels:
            name = f"{level * 100:g}".replace(".", "_")
            summary[f"inside_{name}"] = int(group[f"inside_{name}"].sum())
            summary[f"coverage_{name}"] = float(group[f"inside_{name}"].mean())
        coverage = summary.get("coverage_80")
        low, high = COVERAGE_TARGET
        summary["target_met"] = bool(coverage is not None and low <= coverage <= high)
        out.append(summary)
    return pd.DataFrame(out)
