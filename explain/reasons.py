"""Why a score is what it is: exact TreeSHAP contributions, grouped by driver and said in points.

LightGBM's ``pred_contrib`` gives each feature's contribution to the raw score (log-odds of
churn) by exact TreeSHAP, the same numbers ``shap.TreeExplainer`` computes, plus the expected
raw score of the training data (the *average account*) in its last column. They add up to the
raw score exactly.

People do not read log-odds, and the score they see is calibrated. ``to_points`` maps an
account's contributions onto percentage points of calibrated churn risk by scaling them all by
one positive factor: (risk - average risk) / (raw - average raw). Because the calibrator is
monotone the factor is never negative, so the mapping keeps each contribution's sign and the
order of contributions within an account, and the points add up to exactly the account's risk
minus the average account's risk. (Where raw equals the average raw, the factor is the
calibrator's slope there.)

Everything here works on whole batches with numpy: one ``pred_contrib`` call, one matrix
product for the groups, one argsort for the top reasons. Only the chosen reasons are put
into words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from explain.records import Explanation, GroupShare, Reason
from explain.sentences import display_value, sentence
from features.catalog import DRIVER_GROUPS, Catalog
from training.bundle import ModelBundle
from training.score import risk_band

DEFAULT_RISK_REASONS = 3
DEFAULT_PROTECTIVE_REASONS = 2
MIN_CATEGORY_ROWS = 20  # a category's churn rate is only quoted when this many training rows back it
_EPS = 1e-9


def reference_values(frame: pd.DataFrame, churned: np.ndarray, catalog: Catalog) -> dict[str, dict[str, object]]:
    """The comparison numbers reason sentences quote, from the training rows.

    ``typical`` is a feature's median among renewing accounts ("renewing accounts typically use
    64%"); categories get their churn rate when at least ``MIN_CATEGORY_ROWS`` rows back it.
    """
    churned = np.asarray(churned).astype(bool)
    overall = float(churned.mean()) if len(churned) else float("nan")
    reference: dict[str, dict[str, object]] = {}
    for feature in catalog:
        if feature.name not in frame.columns:
            continue
        column = frame[feature.name]
        if feature.kind == "categorical":
            rates = pd.Series(churned).groupby(column.astype("str").to_numpy()).agg(["mean", "size"])
            rates = rates[rates["size"] >= MIN_CATEGORY_ROWS]
            reference[feature.name] = {
                "category_churn": {str(k): round(float(v), 4) for k, v in rates["mean"].items()},
                "overall_churn": round(overall, 4),
            }
        else:
            typical = pd.to_numeric(column[~churned], errors="coerce").median()
            if pd.notna(typical):
                reference[feature.name] = {"typical": round(float(typical), 4)}
    return reference


@dataclass(frozen=True)
class Attribution:
    """Contributions of every feature for a batch of snapshot rows."""

    features: list[str]
    groups: list[str]  # driver group of each feature, from the catalog
    contributions: np.ndarray  # rows x features, log-odds of churn
    average_raw: float  # expected raw score over the training data
    raw: np.ndarray  # the booster's raw score per row
    churn_risk: np.ndarray  # calibrated
    average_churn_risk: float
    points: np.ndarray  # rows x features, percentage points of churn risk

    def group_points(self) -> np.ndarray:
        """rows x DRIVER_GROUPS: points summed within each driver group."""
        return self.points @ _group_matrix(self.groups)

    def group_contributions(self) -> np.ndarray:
        return self.contributions @ _group_matrix(self.groups)


def _group_matrix(groups: Sequence[str]) -> np.ndarray:
    """features x DRIVER_GROUPS indicator: each feature sits in exactly one group."""
    matrix = np.zeros((len(groups), len(DRIVER_GROUPS)))
    for i, group in enumerate(groups):
        matrix[i, DRIVER_GROUPS.index(group)] = 1.0  # type: ignore[arg-type]
    return matrix


def to_points(contributions: np.ndarray, raw: np.ndarray, average_raw: float, calibrator) -> np.ndarray:
    """Log-odds contributions -> percentage points of calibrated churn risk (see the module docstring)."""
    risk = calibrator.apply(raw)
    average = float(calibrator.apply(np.array([average_raw]))[0])
    delta_raw = raw - average_raw
    near = np.abs(delta_raw) < 1e-6
    safe = np.where(near, 1.0, delta_raw)
    slope = (calibrator.apply(raw + 1e-4) - calibrator.apply(raw - 1e-4)) / 2e-4
    factor = np.where(near, slope, (risk - average) / safe)
    return 100.0 * contributions * np.maximum(factor, 0.0)[:, None]


def attribute(bundle: ModelBundle, frame: pd.DataFrame, warn: bool = True) -> Attribution:
    """Exact contributions for every row of ``frame`` (one ``pred_contrib`` call)."""
    contrib = bundle.contributions(frame, warn=warn)
    contributions, bias = contrib[:, :-1], contrib[:, -1]
    raw = contrib.sum(axis=1)
    average_raw = float(bias[0]) if len(bias) else _average_raw(bundle)
    features = bundle.schema.names
    groups = [bundle.catalog[name].group if name in bundle.catalog else "commercial" for name in features]
    return Attribution(
        features=features,
        groups=groups,
        contributions=contributions,
        average_raw=average_raw,
        raw=raw,
        churn_risk=bundle.calibrator.apply(raw),
        average_churn_risk=float(bundle.calibrator.apply(np.array([average_raw]))[0]),
        points=to_points(contributions, raw, average_raw, bundle.calibrator),
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


def _top_features(points: np.ndarray, k: int, sign: int) -> np.ndarray:
    """rows x k column indices of the largest contributions in direction ``sign`` (argsort, no loops)."""
    if k <= 0 or points.shape[1] == 0:
        return np.zeros((len(points), 0), dtype=int)
    return np.argsort(-sign * points, axis=1, kind="stable")[:, : min(k, points.shape[1])]


class Explainer:
    """Turns snapshot rows into explanations with one model bundle.

    Holds what every explanation needs (catalog, reference numbers, bands, playbook) so the CLI,
    the pages and the service all phrase reasons the same way.
    """

    def __init__(self, bundle: ModelBundle, playbook=None):
        self.bundle = bundle
        self.catalog = bundle.catalog
        self.reference: Mapping[str, Mapping[str, object]] = bundle.metadata.get("reference", {})
        self.bands: tuple[float, float] = tuple(bundle.metadata.get("bands") or (0.10, 0.30))  # type: ignore[assignment]
        self.playbook = playbook

    def reason(self, attribution: Attribution, row_index: int, column: int, row: Mapping[str, object]) -> Reason:
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
            points=float(attribution.points[row_index, column]),
            sentence=sentence(feature, row, self.reference.get(name)),
        )

    def reasons(
        self, attribution: Attribution, rows: Sequence[Mapping[str, object]], k: int, sign: int = 1
    ) -> list[list[Reason]]:
        """Per row, the top ``k`` reasons in direction ``sign`` (+1 risk drivers, -1 protective factors)."""
        order = _top_features(attribution.points, k, sign)
        return [
            [self.reason(attribution, i, int(j), rows[i]) for j in order[i] if sign * attribution.points[i, j] > _EPS]
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
        drivers = self.reasons(attribution, rows, risk_reasons, +1)
        protective = self.reasons(attribution, rows, protective_reasons, -1)
        group_points, group_contrib = attribution.group_points(), attribution.group_contributions()
        bands = risk_band(attribution.churn_risk, self.bands)
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
            explanations.append(
                self._explanation(row, attribution, i, str(bands[i]), drivers[i], protective[i], groups, features)
            )
        return explanations

    def _explanation(self, row, attribution, i, band, drivers, protective, groups, features) -> Explanation:
        churn_risk = float(attribution.churn_risk[i])
        arr = _number(row.get("arr"))
        as_of = _date(row.get("as_of")) or date.today()
        renewal = _date(row.get("renewal_date"))
        days_to_renewal = (renewal - as_of).days if renewal else _int(row.get("days_to_renewal"))
        plays = self.playbook.plays_for(drivers, row, as_of, renewal) if self.playbook else []
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
            average_churn_risk=attribution.average_churn_risk,
            model_version=self.bundle.version_label,
            risk_drivers=drivers,
            protective=protective,
            groups=groups,
            features=features,
            plays=plays,
            summary=summary_line(churn_risk, band, [g.group for g in groups if g.points > _EPS][:3]),
        )


def summary_line(churn_risk: float, band: str, groups: Sequence[str]) -> str:
    """ "High risk: 41% chance of not renewing, driven by usage, support and relationship"."""
    head = f"{band.capitalize()} risk: {100 * churn_risk:.0f}% chance of not renewing"
    if not groups:
        return head + ", nothing stands out above the average account"
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
    data: dict[str, list] = {
        "top_groups": [";".join([g.group for g in e.groups if g.points > _EPS][:3]) for e in explanations]
    }
    for n in range(1, k + 1):
        picked = [e.risk_drivers[n - 1] if len(e.risk_drivers) >= n else None for e in explanations]
        data[f"reason_{n}"] = [r.sentence if r else None for r in picked]
        data[f"reason_{n}_group"] = [r.group if r else None for r in picked]
        data[f"reason_{n}_feature"] = [r.feature if r else None for r in picked]
        data[f"reason_{n}_points"] = [round(r.points, 2) if r else None for r in picked]
    return pd.DataFrame(data)
