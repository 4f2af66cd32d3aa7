"""What changed: why an account's risk moved between an earlier snapshot and this one.

Both snapshots go through the same model, so the change in each feature's TreeSHAP
contribution says how much that feature moved the raw score. As for single scores
(``explain.reasons.to_points``), one non-negative factor, (risk now - risk then) / (raw now -
raw then), turns those log-odds into percentage points that add up to the change in risk and
keep their order. The features that moved the risk most, in the direction it moved, are the
*movers*, said in words: "daily active users (30-day average) fell from 52 to 41".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explain.reasons import Attribution, Explainer, attribute, plain_value
from explain.records import Change, Mover
from explain.sentences import display_value

DEFAULT_MOVERS = 3
MIN_MOVER_POINTS = 0.1  # changes smaller than a tenth of a point are noise, not reasons


def change_points(then: Attribution, now: Attribution) -> np.ndarray:
    """Per row pair, each feature's share of the change in risk, in percentage points (sums to the change)."""
    delta_contrib = now.contributions - then.contributions
    delta_raw = now.raw - then.raw
    delta_risk = now.churn_risk - then.churn_risk
    near = np.abs(delta_raw) < 1e-9
    factor = np.where(near, 0.0, delta_risk / np.where(near, 1.0, delta_raw))
    return 100.0 * delta_contrib * np.maximum(factor, 0.0)[:, None]


def explain_change(
    explainer: Explainer, then: pd.DataFrame, now: pd.DataFrame, movers: int = DEFAULT_MOVERS
) -> list[Change]:
    """One ``Change`` per row pair: ``then`` and ``now`` hold the same accounts in the same order."""
    if len(then) != len(now):
        raise ValueError(f"need the same accounts at both dates, got {len(then)} and {len(now)} rows")
    then, now = then.reset_index(drop=True), now.reset_index(drop=True)
    a_then = attribute(explainer.bundle, then, warn=False)
    a_now = attribute(explainer.bundle, now, warn=False)
    points = change_points(a_then, a_now)
    rows_then, rows_now = then.to_dict("records"), now.to_dict("records")
    changes = []
    for i in range(len(now)):
        total = 100.0 * float(a_now.churn_risk[i] - a_then.churn_risk[i])
        direction = 1.0 if total >= 0 else -1.0
        order = np.argsort(-direction * points[i], kind="stable")
        changed = [
            int(j) for j in order if _differs(rows_then[i].get(a_now.features[j]), rows_now[i].get(a_now.features[j]))
        ]
        chosen = [j for j in changed[:movers] if direction * points[i, j] >= MIN_MOVER_POINTS]
        found = [_mover(explainer, a_now.features[j], rows_then[i], rows_now[i], float(points[i, j])) for j in chosen]
        as_of_then = pd.Timestamp(rows_then[i]["as_of"]).date()
        as_of_now = pd.Timestamp(rows_now[i]["as_of"]).date()
        changes.append(
            Change(
                as_of_then=as_of_then,
                as_of_now=as_of_now,
                churn_risk_then=float(a_then.churn_risk[i]),
                churn_risk_now=float(a_now.churn_risk[i]),
                points=total,
                movers=found,
                summary=change_summary(
                    total, (as_of_now - as_of_then).days, a_then.churn_risk[i], a_now.churn_risk[i], found
                ),
            )
        )
    return changes


def _mover(explainer: Explainer, name: str, row_then: dict, row_now: dict, points: float) -> Mover:
    feature = explainer.catalog[name]
    before, after = row_then.get(name), row_now.get(name)
    label = feature.label or name.replace("_", " ")
    return Mover(
        group=feature.group,
        feature=name,
        label=label,
        value_then=plain_value(before),
        value_now=plain_value(after),
        points=points,
        phrase=movement_phrase(label, display_value(feature, before), display_value(feature, after), before, after),
    )


def movement_phrase(label: str, shown_then: str, shown_now: str, before: object, after: object) -> str:
    """ "daily active users fell from 52 to 41", "latest NPS score is now 4 out of 10 (none on record before)"."""
    missing_then, missing_now = _missing(before), _missing(after)
    if missing_then and not missing_now:
        return f"{label} is now {shown_now} (none on record before)"
    if missing_now and not missing_then:
        return f"{label} is no longer on record (was {shown_then})"
    try:
        b, a = float(before), float(after)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"{label} changed from {shown_then} to {shown_now}"
    if a == b or shown_then == shown_now:
        return f"{label} stayed at {shown_now}" if a == b else f"{label} moved slightly ({shown_now})"
    return f"{label} {'rose' if a > b else 'fell'} from {shown_then} to {shown_now}"


def change_summary(points: float, days: int, risk_then: float, risk_now: float, movers: list[Mover]) -> str:
    """ "Risk up 18 points since 30 days ago (23% to 41%), mostly because ... and ..."."""
    since = f"since {days} days ago" if days != 1 else "since yesterday"
    span = f"({100 * risk_then:.0f}% to {100 * risk_now:.0f}%)"
    if abs(points) < 0.5:
        return f"Risk about the same {since} ({100 * risk_now:.0f}%)"
    size = round(abs(points))
    head = f"Risk {'up' if points > 0 else 'down'} {size} point{'' if size == 1 else 's'} {since} {span}"
    if not movers:
        return head + ", from many small changes"
    phrases = [m.phrase for m in movers]
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"{head}, mostly because {joined}"


def _differs(before: object, after: object) -> bool:
    """Only features whose value changed are movers; the rest moved through interactions, not news."""
    if _missing(before) or _missing(after):
        return _missing(before) != _missing(after)
    return before != after


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float | np.floating) and not np.isfinite(value))
