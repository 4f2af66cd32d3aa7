"""Evaluation: the numbers and pictures that say whether a renewal-risk model is worth using.

``y`` is the churn label (1 = churned / did not renew, 0 = renewed), ``p`` the predicted churn
probability and ``arr`` each contract's ARR. Three different questions are answered, because a
model can win on one and lose on another:

* ranking — ROC AUC, PR AUC (average precision): does it put churners above renewals?
* probability quality — Brier, log loss, ECE: can finance add the probabilities up?
* what a CS team gets from working the riskiest accounts first — lift, churner capture and
  churned-ARR capture in the top 10% / 20%: the numbers a CS leader actually plans with.

Metrics that are undefined for the data are **omitted from the returned dict, never NaN**: a
NaN logged to MLflow silently poisons comparisons and sorting, while a missing key is loud.
Everything here is a pure function except the ``plot_*`` functions, which write one PNG each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

ECE_BINS = 15
TOP_SHARES = (10, 20)  # percent of accounts a CS team can realistically work before a renewal
LOG_LOSS_EPS = 1e-15
MIN_SEGMENT_ROWS = 20  # below this a segment's AUC is mostly noise
DPI = 110
MODEL_COLOUR = "#1f4e79"

# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------


def labels_and_scores(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y`` and ``p`` as 1-D float arrays, refusing inputs that would give silently wrong metrics.

    A NaN score or a label other than 0/1 (e.g. a renewal flag passed by mistake with 2 = "pending")
    would otherwise flow into averages and produce a plausible-looking but meaningless number.
    """
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(f"y and p must be 1-D, got shapes {y.shape} and {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"y has {len(y)} rows but p has {len(p)}")
    y = y.astype(float)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y must contain only 0 (renewed) and 1 (churned)")
    if not np.isfinite(p).all():
        raise ValueError("p contains NaN or infinite scores")
    return y, p


def _arr_values(arr: np.ndarray | None, n: int) -> np.ndarray | None:
    """ARR as floats with missing values counted as 0: unknown ARR cannot be claimed as captured."""
    if arr is None:
        return None
    values = np.asarray(arr, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"arr must have shape ({n},), got {values.shape}")
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def risk_order(p: np.ndarray) -> np.ndarray:
    """Row positions from riskiest to safest; ties keep their original order so results are reproducible."""
    return np.argsort(-p, kind="stable")


def _top_count(n: int, percent: int) -> int:
    """ceil(percent% × n) in integer arithmetic (0.1 × 30 is 3.0000000000000004 in floats, whose ceil is 4)."""
    return -(-percent * n // 100)


def _bin_index(p: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each probability on [0, 1]; p = 1 falls in the last bin, not an extra one."""
    return np.clip(np.floor(p * bins).astype(int), 0, bins - 1)


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Weighted mean of |observed churn rate − mean predicted probability| over equal-width bins of [0, 1].

    Why: forecasts of renewing ARR add probabilities up, so a model that ranks well but says 40%
    where 20% churn overstates losses. Each non-empty bin is weighted by its share of rows, so the
    number is "how far off, on average, is the probability an account is shown with". Scores
    outside [0, 1] fall in the end bins.
    """
    y, p = labels_and_scores(y, p)
    if len(y) == 0:
        raise ValueError("the ECE of no rows is undefined")
    if bins < 1:
        raise ValueError("bins must be at least 1")
    which = _bin_index(p, bins)
    observed = np.bincount(which, weights=y, minlength=bins)
    predicted = np.bincount(which, weights=p, minlength=bins)
    # Σ_b (n_b / n) · |sum_y_b / n_b − sum_p_b / n_b| = Σ_b |sum_y_b − sum_p_b| / n; empty bins add 0.
    return float(np.abs(observed - predicted).sum() / len(y))


ECE_FLOOR_DRAWS = 200
_ECE_FLOOR_CELLS = 4_000_000  # draws x rows held at once: bounds memory on a large book


def ece_noise_floor(
    p: np.ndarray,
    groups: np.ndarray | pd.Series | None = None,
    bins: int = ECE_BINS,
    draws: int = ECE_FLOOR_DRAWS,
    seed: int = 0,
) -> float:
    """The mean ECE a perfectly calibrated scorer shows on these rows: outcomes drawn from ``p`` itself.

    Why: ECE is never 0 on a finite window, because each bin's churn rate is a sample. Several
    snapshots of one contract share one outcome, which makes that noise larger than the row count
    suggests. ``groups`` (a contract id per row) couples the draws: one uniform number per group,
    and a row churns when it is below the row's ``p``, so every row stays exactly Bernoulli(p)
    while the rows of a group move together. A measured ECE near this floor is all the
    calibration the window can show; a target below it is one the truth itself would fail.
    """
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    n = len(p)
    if n == 0:
        raise ValueError("the ECE of no rows is undefined")
    codes = np.arange(n) if groups is None else pd.factorize(np.asarray(groups, dtype=object))[0]
    which = _bin_index(p, bins)
    predicted = np.bincount(which, weights=p, minlength=bins)
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _ECE_FLOOR_CELLS // n)
    eces = []
    for start in range(0, draws, per_chunk):
        size = min(per_chunk, draws - start)
        churned = rng.random((size, codes.max() + 1))[:, codes] < p  # (draws, rows)
        # per draw, per bin: churners; one bincount over (draw, bin) cells
        cell = (np.arange(size)[:, None] * bins + which[None, :]).ravel()
        observed = np.bincount(cell, weights=churned.ravel(), minlength=size * bins).reshape(size, bins)
        eces.append(np.abs(observed - predicted).sum(axis=1) / n)
    return float(np.concatenate(eces).mean())


def risk_metrics(
    y: np.ndarray, p: np.ndarray, arr: np.ndarray | None = None, prefix: str = "test_"
) -> dict[str, float]:
    """Headline metrics of one scored window, keys prefixed with ``prefix``.

    Keys: ``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``log_loss`` (p clipped to
    [1e-15, 1 − 1e-15] so one confident mistake costs ~34.5 instead of infinity), ``ece``,
    ``lift_at_10/20`` (churn rate in the top k% by risk ÷ overall churn rate), ``capture_at_10/20``
    (share of all churners in the top k%), ``arr_capture_at_10/20`` (share of churned ARR in the
    top k%), ``churn_rate`` and ``n``. The top k% is the ceil(k% × n) rows with the highest p, ties
    broken by original row order, so equal scores give the same answer on every run.

    Undefined metrics are omitted (never NaN):

    * no rows: only ``n`` (= 0) is returned;
    * one class only: ``roc_auc`` and ``pr_auc`` are omitted;
    * no churners: ``lift_*``, ``capture_*`` and ``arr_capture_*`` are omitted too (division by 0);
    * ``arr`` not given, or the churners' ARR sums to 0: ``arr_capture_*`` are omitted.

    Missing ARR values count as 0.
    """
    y, p = labels_and_scores(y, p)
    n = len(y)
    arr_values = _arr_values(arr, n)
    if n == 0:
        return {f"{prefix}n": 0.0}

    churners = float(y.sum())
    churn_rate = churners / n
    clipped = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    out: dict[str, float] = {}
    if 0 < churners < n:
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["pr_auc"] = float(average_precision_score(y, p))
    out["brier"] = float(np.mean((p - y) ** 2))
    out["log_loss"] = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped)))
    out["ece"] = expected_calibration_error(y, p)
    if churners > 0:
        order = risk_order(p)
        tops = {k: order[: _top_count(n, k)] for k in TOP_SHARES}
        for k, top in tops.items():
            out[f"lift_at_{k}"] = float(y[top].mean() / churn_rate)
        for k, top in tops.items():
            out[f"capture_at_{k}"] = float(y[top].sum() / churners)
        churned_arr = arr_values * y if arr_values is not None else None
        if churned_arr is not None and churned_arr.sum() > 0:
            for k in sorted(TOP_SHARES, reverse=True):
                out[f"arr_capture_at_{k}"] = float(churned_arr[tops[k]].sum() / churned_arr.sum())
    out["churn_rate"] = churn_rate
    out["mean_risk"] = float(p.mean())
    out["n"] = float(n)
    return {prefix + key: value for key, value in out.items()}


_RANKING_METRICS = ("roc_auc", "pr_auc")


def _segment_labels(segment: np.ndarray | pd.Series, n: int) -> np.ndarray:
    """Segment values as strings safe inside an MLflow metric name; missing values become ``missing``.

    MLflow only accepts letters, digits and ``_ - . / :`` (and spaces) in names, so anything else
    (including spaces, which make keys awkward to query) is replaced by ``_``.
    """
    values = pd.Series(np.asarray(segment, dtype=object))
    if len(values) != n:
        raise ValueError(f"segment has {len(values)} rows but y has {n}")
    labels = values.where(values.notna(), "missing").astype(str)
    return labels.map(lambda s: re.sub(r"[^0-9A-Za-z_.\-]+", "_", s) or "blank").to_numpy(dtype=object)


def metrics_by_segment(
    y: np.ndarray,
    p: np.ndarray,
    arr: np.ndarray | None,
    segment: np.ndarray | pd.Series,
    prefix: str = "test_",
    *,
    min_rows: int = MIN_SEGMENT_ROWS,
) -> dict[str, float]:
    """:func:`risk_metrics` within each segment, keyed ``<prefix><metric>__<segment>`` (e.g. ``test_roc_auc__smb``).

    Why: an overall AUC can hide a model that only separates SMB from enterprise accounts and
    ranks nothing within either. AUC-type metrics (``roc_auc``, ``pr_auc``) are left out for a
    segment with fewer than ``min_rows`` rows or one class only, where they are noise or undefined;
    the segment's other metrics (n, churn rate, Brier, …) are still reported, with the same
    omission rules as :func:`risk_metrics`. Segments are visited in sorted order.
    """
    y, p = labels_and_scores(y, p)
    arr_values = _arr_values(arr, len(y))
    labels = _segment_labels(segment, len(y))
    out: dict[str, float] = {}
    for name in sorted(set(labels)):
        rows = labels == name
        metrics = risk_metrics(y[rows], p[rows], None if arr_values is None else arr_values[rows], prefix=prefix)
        if rows.sum() < min_rows:
            metrics = {k: v for k, v in metrics.items() if k.removeprefix(prefix) not in _RANKING_METRICS}
        out |= {f"{key}__{name}": value for key, value in metrics.items()}
    return out


STRATUM_METRICS = ("roc_auc", "ece", "brier", "mean_risk", "churn_rate", "n")


def stratum_labels(strata: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each stratum column alone and cadence crossed with horizon: ``{"cadence": [...], "cadence_horizon": [...]}``.

    Why: a pooled AUC rewards ranking annual contracts above monthly plans, and a pooled ECE can
    average a miscalibrated cadence away; quality has to hold within each cadence and horizon.
    Columns with a single value (a table that has no such column) are left out.
    """
    out = {c: strata[c].astype("str").to_numpy() for c in strata.columns if strata[c].nunique() > 1}
    if "cadence" in out and "horizon" in out:
        out["cadence_horizon"] = (strata["cadence"].astype("str") + "_" + strata["horizon"].astype("str")).to_numpy()
    return out


def stratified_metrics(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    strata: pd.DataFrame,
    prefix: str = "test_",
    *,
    min_rows: int = MIN_SEGMENT_ROWS,
) -> dict[str, float]:
    """Per stratum value, ``STRATUM_METRICS`` of every scorer, keyed ``[<scorer>_]<prefix><metric>__<stratum>_<value>``.

    ``scores`` maps a scorer's name to its probabilities; the one named ``model`` gets no name
    prefix, the others are keyed like the pooled baselines (``baseline_logreg_test_roc_auc__...``).
    """
    out: dict[str, float] = {}
    for stratum, labels in stratum_labels(strata).items():
        tagged = np.array([f"{stratum}_{v}" for v in labels], dtype=object)
        for name, p in scores.items():
            metrics = metrics_by_segment(y, p, None, tagged, prefix=prefix, min_rows=min_rows)
            kept = {k: v for k, v in metrics.items() if k.removeprefix(prefix).split("__")[0] in STRATUM_METRICS}
            out |= {(k if name == "model" else f"baseline_{name}_{k}"): v for k, v in kept.items()}
    return out


def stratum_table(
    predictions: pd.DataFrame, strata: Sequence[str] = ("cadence", "horizon", "segment"), crossed: bool = True
) -> pd.DataFrame:
    """One row per stratum of the test predictions: size, churn, mean risk, AUC and ECE, beside the baselines.

    Beside the ECE is its noise floor (``ece_noise_floor``, snapshots of one contract sharing an
    outcome): the ECE the stratum would show if the model were perfectly calibrated.

    The table a data scientist reads first: a pooled number is only as good as its worst cadence.
    ``crossed`` adds cadence x horizon. Horizon buckets come nearest first.
    """
    rows = []
    columns = [c for c in strata if c in predictions and predictions[c].nunique() > 1]
    both = crossed and {"cadence", "horizon"} <= set(columns)
    groupings = [[c] for c in columns] + ([["cadence", "horizon"]] if both else [])
    if "horizon" in predictions:
        order = sorted(predictions["horizon"].astype("str").unique(), key=lambda b: (not b[0].isdigit(), len(b), b))
        predictions = predictions.assign(horizon=pd.Categorical(predictions["horizon"].astype("str"), order))
    for by in [[], *groupings]:
        parts = [((), predictions)] if not by else predictions.groupby(by, sort=True, observed=True)
        for key, part in parts:
            y, p = part["churned"].to_numpy(), part["churn_risk"].to_numpy()
            both = 0 < y.sum() < len(y) and len(y) >= MIN_SEGMENT_ROWS
            row = {"stratum": "all" if not by else " ".join(map(str, key if isinstance(key, tuple) else (key,)))}
            row |= {"n": len(y), "churned": int(y.sum()), "churn_rate": float(y.mean()), "mean_risk": float(p.mean())}
            row["roc_auc"] = float(roc_auc_score(y, p)) if both else np.nan
            row["ece"] = expected_calibration_error(y, p)
            row["ece_floor"] = ece_noise_floor(p, part.get("contract_id"))
            for name in ("logreg", "rules"):
                column = part.get(f"baseline_{name}")
                row[f"{name}_roc_auc"] = float(roc_auc_score(y, column)) if both and column is not None else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Rules-based health score (the baseline a CS team already has)
# ---------------------------------------------------------------------------------------------


class HealthRule(NamedTuple):
    """One red flag of a CS-platform health score and how much it counts."""

    name: str
    weight: float
    description: str


# Weights: the two usage rules count double, because falling usage is the signal CS platforms
# (Gainsight, ChurnZero) weight most by default; every other flag counts once.
HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule("no_login_30d", 2.0, "usage_logins_days_since_last > 30 (usage_active_users_… if logins unknown)"),
    HealthRule("usage_drop", 2.0, "usage_active_users_trend_30d < -0.3 (active users down more than 30%)"),
    HealthRule("low_seat_utilization", 1.0, "seat_utilization_30d < 0.3"),
    HealthRule("few_modules", 1.0, "modules_used_30d <= 2"),
    HealthRule("low_nps", 1.0, "nps_last_score < 7 (detractor or passive)"),
    HealthRule("urgent_tickets", 1.0, "tickets_urgent_30d + tickets_high_30d >= 2, or urgent_high_open_over_14d >= 1"),
    HealthRule("no_champion", 1.0, "has_champion == 0"),
    HealthRule("billing_problems", 1.0, "failed_or_late_invoices_90d >= 1"),
    HealthRule("price_hike", 1.0, "arr_change_at_last_renewal > 0.15 (price up more than 15% at last renewal)"),
)


def _numeric_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column as floats; absent columns and unparseable values become NaN, which no rule fires on."""
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    values = pd.to_numeric(frame[name], errors="coerce")
    return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=frame.index)


def health_rules_triggered(frame: pd.DataFrame) -> pd.DataFrame:
    """Which :data:`HEALTH_RULES` fire for each snapshot row (bool, one column per rule, same index).

    Why a separate function: a CS team trusts a red score only when it can see which flags made it
    red. A rule whose column is absent or whose value is missing does not fire — that is how such
    scores behave in CS platforms, and exactly why they miss accounts with little data. Ticket
    counts are non-negative, so the known part of urgent + high already proves ">= 2" when it is.
    """
    col = _numeric_column
    logins_idle = col(frame, "usage_logins_days_since_last")
    idle = logins_idle.where(logins_idle.notna(), col(frame, "usage_active_users_days_since_last"))
    urgent_high = col(frame, "tickets_urgent_30d").fillna(0) + col(frame, "tickets_high_30d").fillna(0)
    fired = {
        "no_login_30d": idle > 30,
        "usage_drop": col(frame, "usage_active_users_trend_30d") < -0.3,
        "low_seat_utilization": col(frame, "seat_utilization_30d") < 0.3,
        "few_modules": col(frame, "modules_used_30d") <= 2,
        "low_nps": col(frame, "nps_last_score") < 7,
        "urgent_tickets": (urgent_high >= 2) | (col(frame, "urgent_high_open_over_14d") >= 1),
        "no_champion": col(frame, "has_champion") == 0,
        "billing_problems": col(frame, "failed_or_late_invoices_90d") >= 1,
        "price_hike": col(frame, "arr_change_at_last_renewal") > 0.15,
    }
    # NaN compares False everywhere above, so missing data never fires a rule.
    return pd.DataFrame({rule.name: fired[rule.name].to_numpy(dtype=bool) for rule in HEALTH_RULES}, index=frame.index)


def rules_health_score(frame: pd.DataFrame) -> np.ndarray:
    """Rules-based churn risk in [0, 1] (higher = riskier): weighted share of :data:`HEALTH_RULES` that fire.

    Why: it is the score a CS team already has (Gainsight/ChurnZero style), so the model must beat
    it on the same test window to be worth deploying. Uses only snapshot feature columns (nothing
    from the future); missing columns or values mean "rule not triggered". Returns a float array
    aligned with ``frame``'s rows.
    """
    weights = np.array([rule.weight for rule in HEALTH_RULES], dtype=float)
    fired = health_rules_triggered(frame).to_numpy(dtype=float)
    return (fired @ weights / weights.sum()).astype(float)


# ---------------------------------------------------------------------------------------------
# Lift table
# ---------------------------------------------------------------------------------------------


def lift_table(y: np.ndarray, p: np.ndarray, arr: np.ndarray | None = None, bins: int = 10) -> pd.DataFrame:
    """Per risk bin (decile by default; 1 = riskiest): how many churners a CS team meets working down the list.

    Columns: ``decile``, ``n``, ``churners``, ``churn_rate``, ``lift`` (churn rate ÷ overall churn
    rate), ``cumulative_capture`` (share of all churners in this and riskier bins), ``min_p`` and
    ``max_p`` (the score range, so bins can be turned into thresholds) and, when ``arr`` is given,
    ``churned_arr`` and ``churned_arr_share`` (share of all churned ARR in the bin). Rows are ranked
    by p with ties in original order and cut into equal-count bins; with fewer rows than bins some
    bins are empty and absent. A ratio whose denominator is 0 (no churners, no churned ARR) is NaN
    here — unlike the metric dicts, a table keeps its shape.
    """
    y, p = labels_and_scores(y, p)
    arr_values = _arr_values(arr, len(y))
    n = len(y)
    decile = np.empty(n, dtype=int)
    decile[risk_order(p)] = np.arange(n) * bins // max(n, 1) + 1
    frame = pd.DataFrame({"decile": decile, "churned": y, "p": p})
    if arr_values is not None:
        frame["churned_arr"] = arr_values * y
    aggregations = {
        "n": ("churned", "size"),
        "churners": ("churned", "sum"),
        "min_p": ("p", "min"),
        "max_p": ("p", "max"),
    }
    if arr_values is not None:
        aggregations["churned_arr"] = ("churned_arr", "sum")
    table = frame.groupby("decile").agg(**aggregations).reset_index()
    table["churners"] = table["churners"].astype(int)
    total_churners = y.sum()
    overall_rate = total_churners / n if n else np.nan
    table["churn_rate"] = table["churners"] / table["n"]
    table["lift"] = table["churn_rate"] / overall_rate if overall_rate > 0 else np.nan
    table["cumulative_capture"] = table["churners"].cumsum() / total_churners if total_churners > 0 else np.nan
    columns = ["decile", "n", "churners", "churn_rate", "lift", "cumulative_capture", "min_p", "max_p"]
    if arr_values is not None:
        total_arr = table["churned_arr"].sum()
        table["churned_arr_share"] = table["churned_arr"] / total_arr if total_arr > 0 else np.nan
        columns += ["churned_arr", "churned_arr_share"]
    return table[columns]


def expected_auc(p: np.ndarray) -> float:
    """Expected ROC AUC if each row churns with its own probability p (ties count one half).

    Here rather than in ``monitor.estimate`` because training stores it for the reference
    books (``training.reference``), and training never imports monitoring.
    """
    p = np.asarray(p, dtype=float)
    if len(p) < 2:
        return float("nan")
    renew = 1.0 - p
    values, group = np.unique(p, return_inverse=True)
    renew_in_group = np.bincount(group, weights=renew, minlength=len(values))
    renew_below = np.cumsum(renew_in_group) - renew_in_group  # expected renewers scored strictly lower
    tied_others = renew_in_group[group] - renew  # expected renewers with the same score, the row itself aside
    concordant = float(np.sum(p * (renew_below[group] + 0.5 * tied_others)))
    pairs = float(np.sum(p * (renew.sum() - renew)))
    return concordant / pairs if pairs > 0 else float("nan")
