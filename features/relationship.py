"""Relationship features: what the customer says (NPS) and who is on their side (champion, sponsor, QBRs).

"Unknown" is kept apart from "bad": an account that never answered a survey has a missing
NPS, not a zero, and one with no champion on record has ``has_champion`` missing, not 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalog import CHAMPION_LOSS_WINDOW, DETRACTOR_SCORE, DETRACTOR_WINDOW, QBR_WINDOW
from features.pointintime import EventIndex, Snapshots, day_number


def nps_features(snap: Snapshots, nps: pd.DataFrame) -> dict[str, np.ndarray]:
    ordered = nps.sort_values("responded_at", kind="stable")
    index = EventIndex(snap.code(ordered["account_id"]), day_number(ordered["responded_at"]))
    score = ordered["score"].to_numpy(dtype=np.float64)
    last = index.take(index.last_before(snap.account, snap.day), score)
    previous = index.take(index.last_before(snap.account, snap.day, back=1), score)
    # A detractor answer weighs for months even if a later, friendlier answer came in.
    low = ordered["score"].to_numpy(dtype=np.float64) <= DETRACTOR_SCORE
    detractors = EventIndex(snap.code(ordered["account_id"][low]), day_number(ordered["responded_at"][low]))
    return {
        "nps_last_score": last,
        "nps_change": last - previous,
        "days_since_nps_response": index.days_since_last(snap.account, snap.day),
        f"nps_detractor_responses_{DETRACTOR_WINDOW}d": detractors.window_count(
            snap.account, snap.day - DETRACTOR_WINDOW, snap.day
        ),
    }


def _latest_state(snap: Snapshots, events: pd.DataFrame, added: str, left: str) -> np.ndarray:
    """1 if the latest of the two events before as_of was ``added``, 0 if ``left``, NaN if neither happened."""
    rows = events[events["event"].isin((added, left))]
    index = EventIndex(snap.code(rows["account_id"]), day_number(rows["date"]))
    return index.take(index.last_before(snap.account, snap.day), (rows["event"] == added).to_numpy(dtype=float))


def event_features(snap: Snapshots, events: pd.DataFrame) -> dict[str, np.ndarray]:
    # Same-day events keep their file order; sorting by date first makes "latest" well defined.
    events = events.sort_values("date", kind="stable")

    def index_of(kind: str) -> EventIndex:
        rows = events[events["event"] == kind]
        return EventIndex(snap.code(rows["account_id"]), day_number(rows["date"]))

    qbr = index_of("qbr_held")
    left = index_of("champion_left")
    since_left = left.days_since_last(snap.account, snap.day)
    since_added = index_of("champion_added").days_since_last(snap.account, snap.day)
    recent_loss = since_left <= CHAMPION_LOSS_WINDOW  # NaN (never left) compares False
    replaced = since_added <= since_left  # a champion added on or after the day the last one left
    return {
        "days_since_champion_left": since_left,
        f"champion_losses_{CHAMPION_LOSS_WINDOW}d": left.window_count(
            snap.account, snap.day - CHAMPION_LOSS_WINDOW, snap.day
        ),
        f"champion_lost_unreplaced_{CHAMPION_LOSS_WINDOW}d": (recent_loss & ~replaced).astype(np.float64),
        "has_champion": _latest_state(snap, events, "champion_added", "champion_left"),
        "exec_sponsor_present": _latest_state(snap, events, "exec_sponsor_added", "exec_sponsor_left"),
        "days_since_qbr": qbr.days_since_last(snap.account, snap.day),
        f"qbrs_{QBR_WINDOW}d": qbr.window_count(snap.account, snap.day - QBR_WINDOW, snap.day),
    }
