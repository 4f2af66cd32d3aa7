"""What changed: why an account's risk moved between an earlier snapshot and this one.

Both snapshots go through the same model, so the change in each feature's TreeSHAP
contribution says how much that feature moved the raw score. As for single scores
(``explain.reasons.to_points``), one non-negative factor, (risk now - risk then) / (raw now -
raw then), turns those log-odds into percentage points that add up to the change in risk and
keep their sign and order (``change_points``). The baseline that single scores are measured
from plays no part: only each feature's contribution, its points and the catalog are read.

The features that moved the risk most, in the direction it moved, are the *movers*, said in
words: "daily active users (30-day average) fell from 52 to 41". What "What changed" says must
be true, so a feature is named only when all of these hold:

- It is actionable. Context (contract term, days to renewal, tenure, segment, plan, ARR,
  seats, auto-renewal, earlier contracts) says which accounts this one is compared with; it is
  never a reason, whatever its points.
- Its value changed: a feature that moved the score only through interactions is not news.
- It moved the risk the way the risk moved, twice over: its share of the change is at least
  ``MIN_MOVER_POINTS`` in that direction, *and* its points in the two single-score
  explanations moved the same way. A rising usage trend whose points fell is never a reason
  the risk went up, whatever the two pages' scaling did.
- It is not a clock that only ticked. A ``clock`` feature (days since an event) grows by the
  days between the snapshots when nothing happens, so a rise within ``CLOCK_TOLERANCE_DAYS``
  of the elapsed days is time passing and is not named. A clock is named when an event reset
  it (the value fell, or rose by clearly less than the elapsed days), when it rose further
  than time alone can move it (a what-if, at one date), or when it appeared or went missing.
- No stronger mover states the same fact (``Feature.fact``): logins falling over 7 and over 30
  days is one reason, said once.

A value that went missing says why, in the feature's own catalog ``missing`` text: when no
ticket closed in the last 90 days the median resolution time is "no tickets closed in the last
90 days (median time to resolve was 3 days)", not "no longer on record". The data has truly
stopped only when every input of the feature's driver group is missing now (the support feed,
say, went dark); only then is it "no longer on record". The same rule reads the other way for
a value that appeared ("... (before: no CSAT rating in the last 90 days)", or "none on record
before" when the whole group was empty). A feature without a ``missing`` text "has no value now".

The summary says "mostly because" when the facts it names account for at least half of the
change, else "partly because". With nothing to name, it says the change came "from time
passing and the contract's terms" when context and ticking clocks account for at least half of
it, else "from many small changes".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from explain.reasons import NEAR_TYPICAL, Attribution, Explainer, attribute, plain_value
from explain.records import Change, Mover
from explain.sentences import display_value
from features.catalog import Catalog, Feature

DEFAULT_MOVERS = 3
MIN_MOVER_POINTS = 0.1  # changes smaller than a tenth of a point are noise, not reasons
CLOCK_TOLERANCE_DAYS = 1.0  # a clock that moved by the elapsed days, give or take a day, only ticked
MOSTLY = 0.5  # "mostly because" needs the named facts to account for at least half of the change


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
    return describe_changes(explainer.catalog, a_then, a_now, then, now, movers, explainer.reference)


def describe_changes(
    catalog: Catalog,
    a_then: Attribution,
    a_now: Attribution,
    then: pd.DataFrame,
    now: pd.DataFrame,
    movers: int = DEFAULT_MOVERS,
    reference: dict | None = None,
) -> list[Change]:
    """The ``Change`` records from both snapshots' attributions (the rules are in the module docstring).

    Reads ``features``, ``contributions``, ``raw``, ``churn_risk`` and ``points`` of the two
    attributions, so hand-made ones serve as well as ``attribute``'s. With the model's
    ``reference``, a value that moved by less than ``NEAR_TYPICAL`` of the renewing accounts'
    interquartile range (529 to 528 active users) did not change in a way worth saying.
    """
    features = [_feature(catalog, name) for name in a_now.features]
    tolerance = {name: NEAR_TYPICAL * float(values.get("spread") or 0.0) for name, values in (reference or {}).items()}
    context = np.array([f.is_context for f in features], dtype=bool)
    clocks = [j for j, f in enumerate(features) if f.clock and not f.is_context]
    shares = change_points(a_then, a_now)
    moved = np.asarray(a_now.points) - np.asarray(a_then.points)
    rows_then, rows_now = then.to_dict("records"), now.to_dict("records")
    changes = []
    for i in range(len(rows_now)):
        row_then, row_now = rows_then[i], rows_now[i]
        as_of_then = pd.Timestamp(row_then["as_of"]).date()
        as_of_now = pd.Timestamp(row_now["as_of"]).date()
        elapsed = (as_of_now - as_of_then).days
        total = 100.0 * float(a_now.churn_risk[i] - a_then.churn_risk[i])
        direction = 1.0 if total >= 0 else -1.0
        chosen = _choose(
            features,
            direction * shares[i],
            direction * moved[i],
            row_then,
            row_now,
            elapsed,
            movers,
            direction,
            tolerance,
        )
        found = [_mover(features, j, row_then, row_now, float(shares[i, j])) for j in chosen]
        facts = {features[j].fact for j in chosen}
        explained = sum(direction * shares[i, j] for j, f in enumerate(features) if f.fact in facts)
        ticked = [j for j in clocks if _ticked(row_then.get(features[j].name), row_now.get(features[j].name), elapsed)]
        background = direction * (shares[i, context].sum() + shares[i, ticked].sum())
        changes.append(
            Change(
                as_of_then=as_of_then,
                as_of_now=as_of_now,
                churn_risk_then=float(a_then.churn_risk[i]),
                churn_risk_now=float(a_now.churn_risk[i]),
                points=total,
                movers=found,
                summary=change_summary(
                    total,
                    elapsed,
                    a_then.churn_risk[i],
                    a_now.churn_risk[i],
                    found,
                    explained=float(explained),
                    background=float(background),
                ),
            )
        )
    return changes


def _choose(
    features: Sequence[Feature],
    share: np.ndarray,
    moved: np.ndarray,
    row_then: dict,
    row_now: dict,
    elapsed: int,
    k: int,
    direction: float = 1.0,
    tolerance: dict[str, float] | None = None,
) -> list[int]:
    """Columns of the movers, strongest first. ``share`` and ``moved`` are signed so that + is the risk's way;
    ``direction`` is +1 when the risk rose, −1 when it fell."""
    chosen: list[int] = []
    facts: set[str] = set()
    for j in np.argsort(-share, kind="stable"):
        j = int(j)
        if len(chosen) >= k or share[j] < MIN_MOVER_POINTS:
            break  # sorted: every later share is smaller
        feature = features[j]
        before, after = row_then.get(feature.name), row_now.get(feature.name)
        if (
            feature.is_context
            or moved[j] <= 0
            or feature.fact in facts
            or not _differs(before, after, (tolerance or {}).get(feature.name, 0.0))
            or (feature.clock and _ticked(before, after, elapsed))
            or _against_its_side(feature, before, after, direction)
        ):
            continue
        chosen.append(j)
        facts.add(feature.fact)
    return chosen


def _against_its_side(feature: Feature, before: object, after: object, direction: float) -> bool:
    """A value that moved to its reassuring side is no reason the risk rose (nor to its worrying side, that it fell).

    "Urgent tickets this term rose from 13 to 15" is never why a risk went down, whatever the
    trees' interactions gave it; the catalog's ``riskier`` says which side is worrying."""
    if not feature.riskier:
        return False
    try:
        step = float(after) - float(before)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    if not np.isfinite(step) or step == 0:
        return False
    worse = step > 0 if feature.riskier == "higher" else step < 0
    return worse != (direction > 0)


def _ticked(before: object, after: object, elapsed: int) -> bool:
    """A clock that rose by the elapsed days, give or take ``CLOCK_TOLERANCE_DAYS``: time passed, nothing happened."""
    if _missing(before) or _missing(after):
        return False
    try:
        step = float(after) - float(before)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return elapsed != 0 and abs(step - elapsed) <= CLOCK_TOLERANCE_DAYS


def _feature(catalog: Catalog, name: str) -> Feature:
    return catalog[name] if name in catalog else Feature(name, name.replace("_", " "), "as given", "commercial")


def _mover(features: Sequence[Feature], j: int, row_then: dict, row_now: dict, points: float) -> Mover:
    feature = features[j]
    name = feature.name
    before, after = row_then.get(name), row_now.get(name)
    label = feature.label or name.replace("_", " ")
    side = row_now if _missing(after) else row_then  # the side where the value is missing, if one is
    group = [f.name for f in features if f.group == feature.group]
    return Mover(
        group=feature.group,
        feature=name,
        label=label,
        value_then=plain_value(before),
        value_now=plain_value(after),
        points=points,
        phrase=movement_phrase(
            label,
            display_value(feature, before),
            display_value(feature, after),
            before,
            after,
            missing=feature.missing,
            group_missing=all(_missing(side.get(n)) for n in group),
            flag=feature.unit == "flag",
        ),
    )


def movement_phrase(
    label: str,
    shown_then: str,
    shown_now: str,
    before: object,
    after: object,
    *,
    missing: str = "",
    group_missing: bool = False,
    flag: bool = False,
) -> str:
    """ "daily active users fell from 52 to 41", "no tickets closed in the last 90 days (... was 3 days)".

    ``missing`` is the feature's catalog text for a missing value; ``group_missing`` says that
    every input of its driver group is missing where this value is (the data stopped, or had
    not started); ``flag`` words a yes/no feature as changed rather than rose or fell.
    """
    missing_then, missing_now = _missing(before), _missing(after)
    if missing_then and not missing_now:
        # "First contract: no earlier price to compare" reads "(before: first contract, no earlier price to compare)"
        said = _lower(missing).replace(": ", ", ")
        before_text = f"before: {said}" if missing and not group_missing else "none on record before"
        return f"{label} is now {shown_now} ({before_text})"
    if missing_now and not missing_then:
        if group_missing:
            return f"{label} is no longer on record (was {shown_then})"
        if missing:
            return f"{_lower(missing)} ({label} was {shown_then})"
        return f"{label} has no value now (was {shown_then})"
    try:
        b, a = float(before), float(after)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"{label} changed from {shown_then} to {shown_now}"
    if a == b or shown_then == shown_now:
        return f"{label} stayed at {shown_now}" if a == b else f"{label} moved slightly ({shown_now})"
    if flag:
        return f"{label} changed from {shown_then} to {shown_now}"
    return f"{label} {'rose' if a > b else 'fell'} from {shown_then} to {shown_now}"


def change_summary(
    points: float,
    days: int,
    risk_then: float,
    risk_now: float,
    movers: list[Mover],
    *,
    explained: float | None = None,
    background: float = 0.0,
) -> str:
    """ "Risk up 18 points in the last 30 days (23% to 41%), mostly because ... and ...".

    ``explained`` is how many points, in the risk's direction, the named movers' facts account
    for (default: the movers' own points); ``background`` the same for context features and
    clocks that only ticked. They pick "mostly" or "partly", and the words for a change with
    no mover to name.
    """
    since = f"in the last {days} days" if days != 1 else "since yesterday"
    span = f"({100 * risk_then:.0f}% to {100 * risk_now:.0f}%)"
    if abs(points) < 0.5:
        return f"Risk about the same {since} ({100 * risk_now:.0f}%)"
    size = round(abs(points))
    head = f"Risk {'up' if points > 0 else 'down'} {size} point{'' if size == 1 else 's'} {since} {span}"
    if not movers:
        if background >= MOSTLY * abs(points):
            return head + ", from time passing and the contract's terms, not from a change in the account"
        return head + ", from many small changes"
    if explained is None:
        explained = sum(m.points for m in movers) * (1 if points > 0 else -1)
    phrases = [m.phrase for m in movers]
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    how = "mostly" if explained >= MOSTLY * abs(points) else "partly"
    return f"{head}, {how} because {joined}"


def _lower(text: str) -> str:
    """ "No tickets closed ..." -> "no tickets closed ...", but "CSAT ..." stays as it is."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _differs(before: object, after: object, tolerance: float = 0.0) -> bool:
    """Only features whose value changed (by more than ``tolerance``) are movers; the rest moved through
    interactions, not news."""
    if _missing(before) or _missing(after):
        return _missing(before) != _missing(after)
    if tolerance > 0 and isinstance(before, int | float | np.number) and isinstance(after, int | float | np.number):
        return abs(float(after) - float(before)) > tolerance
    return before != after


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float | np.floating) and not np.isfinite(value))
