"""Why a score is what it is: exact TreeSHAP contributions, measured from comparable accounts, in points.

LightGBM's ``pred_contrib`` gives each feature's contribution to the raw score (log-odds of
churn) by exact TreeSHAP, the same numbers ``shap.TreeExplainer`` computes, plus the expected
raw score of the training data in its last column. They add up to the raw score exactly.

Measured from the average training row, the biggest "reasons" are context: an annual contract
is riskier than the monthly plans that dominate the average, a renewal 200 days out is less
certain than one next week. Context is who the account is, not what it can act on, so an
explanation starts from its **peers** (``training/peers.py``): the baseline keeps the account's
own context contributions and replaces every actionable feature's contribution by its peer
cell's average. What is left, the account's risk minus that peer baseline, is carried by the
actionable features alone, each by its contribution minus its peers' average.

People do not read log-odds, and the score they see is calibrated. ``to_points`` maps those
differences onto percentage points of calibrated churn risk by scaling them all by one
positive factor: (risk - baseline risk) / (raw - baseline raw). Because the calibrator is
monotone the factor is never negative, so the mapping keeps each contribution's sign and the
order of contributions within an account, and **peer baseline + points = risk** exactly.
(Where raw equals the baseline raw, the factor is the calibrator's slope there.) Context
features get no points, so they are never a reason. Features that state one fact (catalog
``concept``) are said once: their points are summed under the one that carries the most.

Everything here works on whole batches with numpy: one ``pred_contrib`` call, one matrix
product for the groups and the facts, one argsort for the top reasons. Only the chosen
reasons are put into words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from explain.records import Explanation, GroupShare, Reason
from explain.sentences import display_value, sentence
from features.catalog import DRIVER_GROUPS
from features.snapshots import RISK_WINDOW_DAYS, cadence, risk_meaning
from training.bundle import ModelBundle, numeric_block
from training.score import risk_band

DEFAULT_RISK_REASONS = 3
DEFAULT_PROTECTIVE_REASONS = 2
_EPS = 1e-9
MIN_REASON_POINTS = 0.05  # a reason moves the risk by at least this many points (it shows as 0.1 once rounded)
NEAR_TYPICAL = 0.25  # within a quarter of renewing accounts' interquartile range of their median: typical


@dataclass(frozen=True)
class Attribution:
    """Contributions of every feature for a batch of snapshot rows, measured from each row's peers."""

    features: list[str]
    groups: list[str]  # driver group of each feature, from the catalog
    facts: list[str]  # the fact each feature states (catalog concept)
    contributions: np.ndarray  # rows x features, log-odds of churn (TreeSHAP, from the average training row)
    average_raw: float  # expected raw score over the training data
    raw: np.ndarray  # the booster's raw score per row
    churn_risk: np.ndarray  # calibrated
    baseline_raw: np.ndarray  # per row: own context + peers' average actionable contributions
    baseline_risk: np.ndarray  # per row: calibrated baseline_raw, the risk of comparable accounts
    peer_group: np.ndarray  # per row: the peer cell in words ("annual mid-market accounts renewing in ...")
    points: np.ndarray  # rows x features, percentage points of churn risk above the peer baseline (context: 0)

    def group_points(self) -> np.ndarray:
        """rows x DRIVER_GROUPS: points summed within each driver group."""
        return self.points @ _indicator(self.groups, DRIVER_GROUPS)

    def group_contributions(self) -> np.ndarray:
        return self.contributions @ _indicator(self.groups, DRIVER_GROUPS)

    def fact_points(self) -> tuple[np.ndarray, list[str]]:
        """rows x facts: points summed over the features that state one fact, and the facts' names."""
        names = list(dict.fromkeys(self.facts))
        return self.points @ _indicator(self.facts, names), names


def _indicator(labels: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """len(labels) x len(names) indicator: each feature sits in exactly one group (or fact)."""
    matrix = np.zeros((len(labels), len(names)))
    position = {name: j for j, name in enumerate(names)}
    for i, label in enumerate(labels):
        matrix[i, position[label]] = 1.0
    return matrix


def to_points(deltas: np.ndarray, raw: np.ndarray, baseline_raw: np.ndarray | float, calibrator) -> np.ndarray:
    """Log-odds differences from the baseline -> percentage points of calibrated risk (module docstring)."""
    baseline_raw = np.broadcast_to(np.asarray(baseline_raw, dtype=float), raw.shape)
    risk = calibrator.apply(raw)
    baseline = calibrator.apply(baseline_raw)
    delta_raw = raw - baseline_raw
    near = np.abs(delta_raw) < 1e-6
    safe = np.where(near, 1.0, delta_raw)
    slope = (calibrator.apply(raw + 1e-4) - calibrator.apply(raw - 1e-4)) / 2e-4
    factor = np.where(near, slope, (risk - baseline) / safe)
    return 100.0 * deltas * np.maximum(factor, 0.0)[:, None]


def attribute(bundle: ModelBundle, frame: pd.DataFrame, warn: bool = True) -> Attribution:
    """Exact contributions for every row of ``frame`` (one ``pred_contrib`` call), measured from its peers."""
    contrib = bundle.contributions(frame, warn=warn)
    contributions, bias = contrib[:, :-1], contrib[:, -1]
    raw = contrib.sum(axis=1)
    average_raw = float(bias[0]) if len(bias) else _average_raw(bundle)
    features = bundle.schema.names
    known = [bundle.catalog.get(name) for name in features]
    context = np.array([f is not None and f.is_context for f in known], dtype=bool)
    peer_means, peer_group = bundle.peers.assign(frame)
    peer_means = np.where(context[None, :], 0.0, peer_means)
    deltas = np.where(context[None, :], 0.0, contributions - peer_means)
    baseline_raw = raw - deltas.sum(axis=1)
    return Attribution(
        features=features,
        groups=[f.group if f is not None else "commercial" for f in known],
        facts=[f.fact if f is not None else name for f, name in zip(known, features, strict=True)],
        contributions=contributions,
        average_raw=average_raw,
        raw=raw,
        churn_risk=bundle.calibrator.apply(raw),
        baseline_raw=baseline_raw,
        baseline_risk=bundle.calibrator.apply(baseline_raw),
        peer_group=peer_group,
        points=to_points(deltas, raw, baseline_raw, bundle.calibrator),
    )


def _average_raw(bundle: ModelBundle) -> float:
    """The bias column of ``pred_contrib`` is the same for every row: read it off an all-missing row."""
    empty = pd.DataFrame({name: [np.nan] for name in bundle.schema.names})
    return float(bundle.contributions(empty, warn=False)[0, -1])


def top_risk_groups(attribution: Attribution, k: int = 3) -> list[list[str]]:
    """Per row, the up to ``k`` driver groups that add the most risk (only groups that add any)."""
    group_points = attribution.group_points()
    order = np.argsort(-group_points, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(group_points, order, axis=1)
    return [
        [DRIVER_GROUPS[j] for j, p in zip(row, pts, strict=True) if p > _EPS]
        for row, pts in zip(order, top, strict=True)
    ]


def _top_facts(
    attribution: Attribution, k: int, sign: int, barred: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the ``k`` facts with the largest points in direction ``sign``, each said by its strongest feature.

    ``barred`` (rows x features) marks features that may not speak in this direction (a value
    on the reassuring side said as a risk driver); their points do not count towards a fact here.
    Returns rows x k arrays: the fact's points, the column of the feature that speaks for it
    (the one of the fact's features with the largest points in that direction) and a mask of
    the picks that really point that way. Vectorized: one product, two argsorts, no loops.
    """
    own = attribution.points if barred is None else np.where(barred, 0.0, attribution.points)
    attribution = dataclasses.replace(attribution, points=own)
    points, names = attribution.fact_points()
    n, features = attribution.points.shape
    if k <= 0 or features == 0:
        empty = np.zeros((n, 0))
        return empty, empty.astype(int), empty.astype(bool)
    order = np.argsort(-sign * points, axis=1, kind="stable")[:, : min(k, len(names))]
    fact_points = np.take_along_axis(points, order, axis=1)
    fact_of = np.array([names.index(f) for f in attribution.facts])
    # for each row and chosen fact, the feature of that fact with the largest signed points
    signed = sign * attribution.points
    best = np.empty(order.shape, dtype=int)
    for slot in range(order.shape[1]):
        in_fact = fact_of[None, :] == order[:, slot][:, None]
        best[:, slot] = np.argmax(np.where(in_fact, signed, -np.inf), axis=1)
    return fact_points, best, sign * fact_points > MIN_REASON_POINTS


class Explainer:
    """Turns snapshot rows into explanations with one model bundle.

    Holds what every explanation needs (catalog, reference numbers, bands, playbook) so the CLI,
    the pages and the service all phrase reasons the same way.
    """

    def __init__(self, bundle: ModelBundle, playbook=None):
        self.bundle = bundle
        self.catalog = bundle.catalog
        self.reference: Mapping[str, Mapping[str, object]] = bundle.metadata.get("reference", {})
        self.bands: tuple[float, float] = bundle.bands
        self.playbook = playbook

    def reason(
        self,
        attribution: Attribution,
        row_index: int,
        column: int,
        row: Mapping[str, object],
        points: float | None = None,
    ) -> Reason:
        """One feature said as a reason; ``points`` (a whole fact's, when several features state it) or its own."""
        name = attribution.features[column]
        feature = self.catalog[name]
        value = row.get(name)
        return Reason(
            group=feature.group,
            feature=name,
            label=feature.label or name.replace("_", " "),
            value=plain_value(value),
            display_value=display_value(feature, value),
            contribution=float(attribution.contributions[row_index, column]),
            points=float(attribution.points[row_index, column] if points is None else points),
            sentence=sentence(feature, row, self.reference.get(name)),
        )

    def reasons(
        self,
        attribution: Attribution,
        rows: Sequence[Mapping[str, object]],
        k: int,
        sign: int = 1,
        barred: np.ndarray | None = None,
    ) -> list[list[Reason]]:
        """Per row, the top ``k`` facts in direction ``sign`` (+1 risk drivers, -1 protective factors), each once."""
        fact_points, columns, real = _top_facts(attribution, k, sign, barred)
        return [
            [
                self.reason(attribution, i, int(columns[i, slot]), rows[i], float(fact_points[i, slot]))
                for slot in range(columns.shape[1])
                if real[i, slot]
            ]
            for i in range(len(rows))
        ]

    def explain(
        self,
        frame: pd.DataFrame,
        *,
        risk_reasons: int = DEFAULT_RISK_REASONS,
        protective_reasons: int = DEFAULT_PROTECTIVE_REASONS,
        detail: bool = False,
        warn: bool = True,
    ) -> list[Explanation]:
        """One explanation per snapshot row, in row order; ``detail`` adds every feature (for waterfalls)."""
        frame = frame.reset_index(drop=True)
        attribution = attribute(self.bundle, frame, warn=warn)
        rows = frame.to_dict("records")
        reassuring, worrying = self._sides(frame, attribution.features)
        drivers = self.reasons(attribution, rows, risk_reasons, +1, barred=reassuring)
        protective = self.reasons(attribution, rows, protective_reasons, -1, barred=worrying)
        group_points, group_contrib = attribution.group_points(), attribution.group_contributions()
        bands = risk_band(attribution.churn_risk, self.bands)
        beyond = self.bundle.beyond_trained_horizon(frame)
        explanations = []
        for i, row in enumerate(rows):
            groups = sorted(
                (
                    GroupShare(g, float(group_contrib[i, j]), float(group_points[i, j]))
                    for j, g in enumerate(DRIVER_GROUPS)
                    if g in attribution.groups
                ),
                key=lambda share: -share.points,
            )
            features = []
            if detail:
                order = np.argsort(-np.abs(attribution.points[i]), kind="stable")
                features = [self.reason(attribution, i, int(j), row) for j in order if attribution.points[i, j] != 0]
            note = self._horizon_note(row) if beyond[i] else ""
            explanations.append(
                self._explanation(row, attribution, i, str(bands[i]), drivers[i], protective[i], groups, features, note)
            )
        return explanations

    def _sides(self, frame: pd.DataFrame, features: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """rows x features: values that may not be said as a risk driver, and values that may not be said as protective.

        A feature with a clear ``riskier`` side and a typical value (the median among renewing
        training accounts) is never a risk driver from the reassuring side, nor protective from
        the worrying one. A value within ``NEAR_TYPICAL`` of the renewing accounts' interquartile
        range from the typical one is neither, whatever the feature: "discount is 8% (renewing
        accounts: 8%)" is no reason to worry or to relax. Missing values are free either way.
        """
        reassuring = np.zeros((len(frame), len(features)), dtype=bool)
        worrying = np.zeros_like(reassuring)
        compared = []
        for j, name in enumerate(features):
            feature = self.catalog.get(name)
            reference = self.reference.get(name) or {}
            if feature is not None and reference.get("typical") is not None and name in frame:
                spread = float(reference.get("spread") or 0.0)
                compared.append((j, feature.riskier, float(reference["typical"]), NEAR_TYPICAL * spread))
        numbers = numeric_block(frame, [features[j] for j, _, _, _ in compared])
        for k, (j, riskier, typical, tolerance) in enumerate(compared):
            values = numbers[:, k]
            near = np.abs(values - typical) <= tolerance  # NaN compares False
            above, below = (values > typical) & ~near, (values < typical) & ~near
            known = ~np.isnan(values)
            if riskier == "lower":
                reassuring[:, j], worrying[:, j] = known & ~below, below | near
            elif riskier == "higher":
                reassuring[:, j], worrying[:, j] = known & ~above, above | near
            else:
                reassuring[:, j], worrying[:, j] = near, near
        return reassuring, worrying

    def _horizon_note(self, row: Mapping[str, object]) -> str:
        """Said when the renewal is further ahead than any training row: the risk is the edge of the trained range."""
        furthest = float(self.bundle.metadata["max_horizon_days"])
        return (
            f"Renews in {_int(row.get('days_to_renewal'))} days, beyond the {furthest:.0f} days ahead the model was "
            f"trained for: the risk is the one it gives {furthest:.0f} days ahead."
        )

    def _explanation(self, row, attribution, i, band, drivers, protective, groups, features, note) -> Explanation:
        churn_risk = float(attribution.churn_risk[i])
        arr = _number(row.get("arr"))
        cadence_name = str(cadence(np.array([_number(row.get("contract_term_days")) or np.nan]))[0])
        as_of = _date(row.get("as_of")) or date.today()
        renewal = _date(row.get("renewal_date"))
        days_to_renewal = (renewal - as_of).days if renewal else _int(row.get("days_to_renewal"))
        plays = (
            self.playbook.plays_for(
                drivers, row, as_of, renewal, churn_risk=churn_risk, catalog=self.catalog, reference=self.reference
            )
            if self.playbook
            else []
        )
        return Explanation(
            account_id=str(row.get("account_id", "")),
            contract_id=_text(row.get("contract_id")),
            as_of=as_of,
            renewal_date=renewal,
            days_to_renewal=days_to_renewal,
            segment=_text(row.get("segment")),
            arr=arr,
            churn_risk=churn_risk,
            renewal_probability=1.0 - churn_risk,
            risk_band=band,
            arr_at_risk=None if arr is None else arr * churn_risk,
            peer_churn_risk=float(attribution.baseline_risk[i]),
            peer_group=str(attribution.peer_group[i]),
            risk_meaning=risk_meaning(cadence_name),
            model_version=self.bundle.version_label,
            risk_drivers=drivers,
            protective=protective,
            groups=groups,
            features=features,
            plays=plays,
            summary=summary_line(churn_risk, band, driver_groups(drivers), cadence_name),
            horizon_note=note,
        )


def driver_groups(drivers: Sequence[Reason], k: int = 3) -> list[str]:
    """The driver groups of the risk reasons, strongest reason first, each once: what the chips and summaries name.

    Taken from the reasons themselves, not from the groups' net points, so a group is named
    exactly when one of its facts is a stated reason (a group whose worrying fact is offset by
    a reassuring one in the same group is still named, as the reason is).
    """
    return list(dict.fromkeys(r.group for r in drivers))[:k]


def summary_line(churn_risk: float, band: str, groups: Sequence[str], cadence_name: str = "annual") -> str:
    """ "High risk: 41% chance of not renewing, driven by usage, support and relationship".

    A monthly plan's risk is of cancelling within the risk window, and the line says so.
    """
    event = f"cancelling within {RISK_WINDOW_DAYS} days" if cadence_name == "monthly" else "not renewing"
    head = f"{band.capitalize()} risk: {100 * churn_risk:.0f}% chance of {event}"
    if not groups:
        return head + ", nothing stands out against comparable accounts"
    names = list(groups)
    driven = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{head}, driven by {driven}"


def plain_value(value: object) -> float | str | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float):
        return float(value) if np.isfinite(float(value)) else None
    return str(value)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


def _text(value: object) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) else str(value)


def _date(value: object) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return None


def reason_columns(explanations: Sequence[Explanation], k: int) -> pd.DataFrame:
    """Top ``k`` risk reasons as flat columns for score files: reason_1, reason_1_group, ... and top_groups."""
    data: dict[str, list] = {"top_groups": [";".join(driver_groups(e.risk_drivers)) for e in explanations]}
    for n in range(1, k + 1):
        picked = [e.risk_drivers[n - 1] if len(e.risk_drivers) >= n else None for e in explanations]
        data[f"reason_{n}"] = [r.sentence if r else None for r in picked]
        data[f"reason_{n}_group"] = [r.group if r else None for r in picked]
        data[f"reason_{n}_feature"] = [r.feature if r else None for r in picked]
        data[f"reason_{n}_points"] = [round(r.points, 2) if r else None for r in picked]
    return pd.DataFrame(data)
