"""Time is the split: windows in order, no overlap, no outcome from the test window's future."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from tests.conftest import synthetic_snapshots
from training.split import WINDOWS, random_split, time_split


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_snapshots(4000, seed=1)


def test_windows_follow_each_other_in_time_without_overlap(frame):
    split = time_split(frame["renewal_date"], frame["churned"].to_numpy(), frame["as_of"])
    times = frame["renewal_date"]
    for earlier, later in pairwise(WINDOWS):
        assert times.iloc[split[earlier]].max() < times.iloc[split[later]].min()
    rows = np.concatenate([split[w] for w in WINDOWS])
    assert len(rows) == len(set(rows))


def test_no_training_outcome_is_known_after_the_first_test_snapshot(frame):
    split = time_split(frame["renewal_date"], frame["churned"].to_numpy(), frame["as_of"])
    first_test_snapshot = frame["as_of"].iloc[split["test"]].min()
    for window in ("train", "valid", "calib"):
        assert frame["renewal_date"].iloc[split[window]].max() < first_test_snapshot
    assert split.purged > 0 and split.notes


def test_rows_sharing_a_date_share_a_window():
    times = pd.Series(pd.date_range("2024-01-01", periods=25, freq="7D").repeat(40))
    y = np.tile([0, 1, 0, 0], 250)
    split = time_split(times, y)
    window_of = {}
    for window in WINDOWS:
        for date in set(times.iloc[split[window]]):
            assert window_of.setdefault(date, window) == window


def test_windows_are_printed_with_dates_and_rates(frame):
    split = time_split(frame["renewal_date"], frame["churned"].to_numpy(), frame["as_of"])
    assert [w["window"] for w in split.windows] == list(WINDOWS)
    assert all({"from", "to", "rows", "churn_rate"} <= set(w) for w in split.windows)


def test_fixed_test_start_for_backtest_folds(frame):
    start = pd.Timestamp("2025-06-01")
    split = time_split(frame["renewal_date"], frame["churned"].to_numpy(), frame["as_of"], test_from=start)
    assert frame["renewal_date"].iloc[split["test"]].min() >= start
    assert frame["renewal_date"].iloc[split["calib"]].max() < start


def test_without_time_the_split_is_stratified_random_and_says_so(frame):
    y = frame["churned"].to_numpy()
    split = random_split(y, seed=3)
    assert len(split.notes) == 1 and "time-based validation is not possible" in split.notes[0]
    rates = [y[split[w]].mean() for w in WINDOWS]
    assert max(rates) - min(rates) < 0.02
    assert not split.time_based


def test_a_window_without_churners_is_an_explained_error():
    times = pd.Series(pd.date_range("2024-01-01", periods=100))
    y = np.zeros(100, dtype=int)
    with pytest.raises(ValueError, match="without both churned and renewed"):
        time_split(times, y)


def _multi_horizon(n_contracts: int = 1500, seed: int = 4) -> pd.DataFrame:
    """Each contract observed at several horizons: rows share the contract's outcome date."""
    rng = np.random.default_rng(seed)
    renewal = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 900, n_contracts), unit="D")
    horizons = np.array([30, 90, 150, 210, 270, 330])
    frame = pd.DataFrame(
        {
            "contract_id": np.repeat(np.arange(n_contracts), len(horizons)),
            "outcome_date": np.repeat(renewal, len(horizons)),
            "horizon": np.tile(horizons, n_contracts),
            "churned": np.repeat(rng.random(n_contracts) < 0.2, len(horizons)).astype(int),
        }
    )
    frame["as_of"] = frame["outcome_date"] - pd.to_timedelta(frame["horizon"], unit="D")
    return frame


def test_the_test_window_replays_deployment_at_every_horizon():
    frame = _multi_horizon()
    split = time_split(frame["outcome_date"], frame["churned"].to_numpy(), frame["as_of"])
    cutoff = frame["as_of"].iloc[split["test"]].min()
    earlier = np.concatenate([split[w] for w in ("train", "valid", "calib")])
    assert (frame["outcome_date"].iloc[earlier] < cutoff).all()  # trained only on outcomes known at the cutoff
    assert (frame["as_of"].iloc[split["test"]] >= cutoff).all()  # tested only on snapshots taken after it
    assert frame["horizon"].iloc[split["test"]].nunique() > 1  # several horizons are tested
    straddling = (frame["as_of"] < cutoff) & (frame["outcome_date"] >= cutoff)
    assert split.purged == straddling.sum() > 0
    used = np.concatenate([split[w] for w in WINDOWS])
    assert not straddling.iloc[used].any()


def test_rows_of_one_contract_never_straddle_two_windows():
    frame = _multi_horizon()
    split = time_split(frame["outcome_date"], frame["churned"].to_numpy(), frame["as_of"])
    window_of: dict[int, str] = {}
    for window in WINDOWS:
        for contract in frame["contract_id"].iloc[split[window]]:
            assert window_of.setdefault(contract, window) == window
