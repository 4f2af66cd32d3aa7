"""Usage and adoption features: how much the account uses the product, and how broadly.

Usage arrives sparse (a missing day is a zero day), so averages divide window sums by the
number of days the account was observable in the window: a customer who joined 10 days ago
is not "down 66%" on a 30-day average. Windows are always [T - w, T): the as_of day itself
is never seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalog import USAGE_WINDOWS, metric_slug
from features.pointintime import EventIndex, Snapshots, codes_of, day_number
from features.schema import ACTIVE_USERS_METRIC, MODULE_METRIC_PREFIX

DECLINE_WINDOW = 30  # the level now: weekday average over the last 30 days
DECLINE_LOOKBACK = 210  # compared with the best 30-day level whose window ended 30-210 days ago
DECLINE_STEP = 15


def usage_metric_names(metrics: list[str]) -> list[str]:
    """Metrics that get the per-metric usage family: everything except product modules."""
    return [m for m in metrics if not m.startswith(MODULE_METRIC_PREFIX)]


def module_names(metrics: list[str]) -> list[str]:
    """Metrics that count as product modules for adoption breadth."""
    return [m for m in metrics if m.startswith(MODULE_METRIC_PREFIX)]


def _observed_days(start: np.ndarray, end: np.ndarray, observed_from: np.ndarray) -> np.ndarray:
    """Days of [start, end) on which the account could have had usage; NaN when none."""
    days = (end - np.maximum(start, observed_from)).clip(0, None).astype(np.float64)
    days[days == 0] = np.nan
    return days


def _ratio_change(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(previous > 0, current / previous - 1.0, np.nan)


@dataclass(frozen=True)
class UsageRows:
    """The usage table as plain arrays: account code, day number, metric code (into ``metrics``), value.

    Made once per partition. The usage table is by far the largest input; working on these
    arrays instead of filtered copies of the frame keeps peak memory near the table's size.
    """

    account: np.ndarray
    day: np.ndarray
    metric: np.ndarray
    value: np.ndarray
    metrics: list[str]

    @classmethod
    def from_frame(cls, snap: Snapshots, usage: pd.DataFrame, metrics: list[str]) -> UsageRows:
        # Narrow integer types: at tens of millions of rows every byte per row is tens of megabytes.
        return cls(
            account=codes_of(usage["account_id"], snap.account_index, np.int32),
            day=day_number(usage["date"]).astype(np.int32),
            metric=codes_of(usage["metric"], pd.Index(metrics), np.int32),
            value=usage["value"].to_numpy(dtype=np.float64),
            metrics=metrics,
        )

    def nonzero_of(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(keep mask, position of each kept row's metric in ``names``) for rows of these metrics with value > 0."""
        position_in_names = np.full(len(self.metrics) + 1, -1)
        for i, name in enumerate(names):
            position_in_names[self.metrics.index(name)] = i
        position = position_in_names[self.metric]  # metric -1 (unknown) reads the trailing -1
        keep = (position >= 0) & (self.value > 0)
        return keep, position[keep]


def _usage_index(rows: UsageRows, metric_names: list[str]) -> tuple[EventIndex, list[str]]:
    """Index the days with a non-zero value, keyed by (account, metric slug).

    Two raw metric names that differ only in spelling ("Active Users", "active_users") share
    a slug; their values are summed per day so that an active day counts once.
    """
    slugs = sorted({metric_slug(m) for m in metric_names})
    slug_of_metric = np.array([slugs.index(metric_slug(m)) for m in metric_names])
    keep, position = rows.nonzero_of(metric_names)
    group = rows.account[keep].astype(np.int64) * len(slugs) + slug_of_metric[position]
    day = rows.day[keep]
    value = rows.value[keep]
    if len(slugs) < len(metric_names):
        summed = pd.DataFrame({"g": group, "d": day, "v": value}).groupby(["g", "d"], sort=False)["v"].sum()
        group, day, value = (
            summed.index.get_level_values(0).to_numpy(),
            summed.index.get_level_values(1).to_numpy(),
            summed.to_numpy(),
        )
    return EventIndex(group, day, value), slugs


def usage_features(snap: Snapshots, rows: UsageRows, observed_from: np.ndarray) -> dict[str, np.ndarray]:
    """Per metric: mean over 7/30/90 days, 30- and 90-day trends, recency and share of active days.

    ``observed_from`` is each snapshot's first observable day (account creation or the start
    of the usage data, whichever is later).
    """
    metric_names = usage_metric_names(rows.metrics)
    if not metric_names:
        return {}
    index, slugs = _usage_index(rows, metric_names)
    T = snap.day
    out: dict[str, np.ndarray] = {}
    for code, slug in enumerate(slugs):
        group = snap.account * len(slugs) + code

        def mean(start, end, _group=group):
            return index.window_sum(_group, start, end) / _observed_days(start, end, observed_from)

        for w in USAGE_WINDOWS:
            out[f"usage_{slug}_mean_{w}d"] = mean(T - w, T)
        for w in (30, 90):
            out[f"usage_{slug}_trend_{w}d"] = _ratio_change(mean(T - w, T), mean(T - 2 * w, T - w))
        since = index.days_since_last(group, T)
        never = np.isnan(since)
        since[never] = (T - observed_from)[never].clip(0, None)  # "nothing in all N observed days"
        out[f"usage_{slug}_days_since_last"] = since
        out[f"usage_{slug}_active_day_share_30d"] = index.window_count(group, T - 30, T) / _observed_days(
            T - 30, T, observed_from
        )
    return out


def adoption_features(
    snap: Snapshots,
    rows: UsageRows,
    observed_from: np.ndarray,
    seats: np.ndarray,
    usage_out: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Seat utilization and breadth of module adoption (``feature.<module>`` metrics)."""
    T = snap.day
    active = usage_out.get(f"usage_{metric_slug(ACTIVE_USERS_METRIC)}_mean_30d", np.full(len(snap), np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        utilization = np.where(seats > 0, active / seats, np.nan)
    out = {"seat_utilization_30d": utilization}

    modules = module_names(rows.metrics)
    if not modules:
        nan = np.full(len(snap), np.nan)
        return out | {"modules_used_30d": nan, "modules_used_change_30d": nan.copy()}
    keep, position = rows.nonzero_of(modules)
    index = EventIndex(rows.account[keep].astype(np.int64) * len(modules) + position, rows.day[keep])
    current = np.zeros(len(snap))
    previous = np.zeros(len(snap))
    for code in range(len(modules)):
        g = snap.account * len(modules) + code
        current += index.window_count(g, T - 30, T) > 0
        previous += index.window_count(g, T - 60, T - 30) > 0
    current[np.isnan(_observed_days(T - 30, T, observed_from))] = np.nan
    previous[np.isnan(_observed_days(T - 60, T - 30, observed_from))] = np.nan
    return out | {"modules_used_30d": current, "modules_used_change_30d": current - previous}


def _weekdays_before(day: np.ndarray) -> np.ndarray:
    """Mon-Fri days in [epoch Monday, day): day 0 (1970-01-01) is a Thursday, so shift by 3."""
    shifted = np.asarray(day, dtype=np.int64) + 3
    return 5 * (shifted // 7) + np.minimum(shifted % 7, 5)


def _is_weekday(day: np.ndarray) -> np.ndarray:
    return (np.asarray(day, dtype=np.int64) + 3) % 7 < 5


def decline_features(snap: Snapshots, rows: UsageRows, observed_from: np.ndarray) -> dict[str, np.ndarray]:
    """Active users now against their recent peak: a sustained drop, read on weekdays only.

    A decline builds over two to four months and stays, so a 30-day-over-30-day trend sees only
    part of it and a 90-day one mixes the drop into both windows. Comparing the last 30 days
    with the best 30-day level of the seven months before catches it whenever it started.
    Weekends (a tenth of weekday use) are left out so the windows' weekday mix cannot move the
    ratio. 0.6 = active users at 60% of their recent peak; missing without a peak to compare.
    """
    name = "active_users_vs_peak_7m"
    if ACTIVE_USERS_METRIC not in rows.metrics:
        return {name: np.full(len(snap), np.nan)}
    keep, _ = rows.nonzero_of([ACTIVE_USERS_METRIC])
    keep &= _is_weekday(rows.day)
    index = EventIndex(rows.account[keep], rows.day[keep], rows.value[keep])
    T = snap.day

    def weekday_mean(start: np.ndarray, end: np.ndarray) -> np.ndarray:
        start = np.maximum(start, observed_from)
        days = (_weekdays_before(end) - _weekdays_before(np.minimum(start, end))).astype(np.float64)
        days[days <= 0] = np.nan
        return index.window_sum(snap.account, start, end) / days

    current = weekday_mean(T - DECLINE_WINDOW, T)
    peak = np.full(len(snap), np.nan)
    for back in range(DECLINE_WINDOW, DECLINE_LOOKBACK + 1, DECLINE_STEP):
        peak = np.fmax(peak, weekday_mean(T - back - DECLINE_WINDOW, T - back))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {name: np.where(peak > 0, current / peak, np.nan)}
