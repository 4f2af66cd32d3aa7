"""The monitoring report: one book scored today against the model's reference, and a verdict in words.

Four readings, each with its own blind spot, so the verdict weighs them together:

- **input drift** (``monitor.drift``): each feature of today's book against the nearest
  training book; catches a broken pipeline or a new kind of customer on day one, but says
  nothing about whether the model is still right;
- **score drift**: the risk distribution and the band shares;
- **estimated performance** of the open renewals (``monitor.estimate``): expected churn, lost
  ARR and AUC from the calibrated risks alone, per cadence and horizon; a falling expected AUC
  means the scores bunch together;
- **realized performance** (``monitor.realized``) of logged predictions whose renewal has
  closed: the only reading that sees a model that is confidently wrong (a cause that now
  matters more or less than it did), but it arrives months late.

Verdict: ``retrain`` when the realized results disagree with the predictions beyond chance
and by a margin that matters (churn count more than ``RETRAIN_Z`` standard deviations from
the predicted sum and the rates ``RETRAIN_GAP`` apart, or AUC ``RETRAIN_AUC_DROP`` and two
standard errors below the AUC their own risks promise), when the expected AUC falls by
``RETRAIN_ESTIMATED_AUC_DROP``, or when ``RETRAIN_FEATURES`` or more features drift; ``watch`` for any
other alarm (a drifted feature, drifted scores, renewed ARR outside the forecast's 95% band
(the 80% band misses one run in five by design), a realized gap beyond ``WATCH_Z``); ``ok``
otherwise. Every reason is a sentence.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.catalog import Catalog
from monitor.drift import feature_drift, score_drift
from monitor.estimate import estimate, estimate_by, expected_auc
from monitor.realized import closed_predictions, realized_metrics, renewed_arr_against_forecast

VERDICTS = ("ok", "watch", "retrain")
RETRAIN_Z = 3.0
WATCH_Z = 2.5  # about 1% of calibrated books reach it by chance
# A realized gap must also be one that matters: the product's own target is |mean risk − churn rate|
# <= 0.03 per horizon bucket (README, "Replaying a past day"); within it, the model is doing its job.
WATCH_GAP = 0.03
RETRAIN_GAP = 0.10
RETRAIN_AUC_DROP = 0.05  # realized: and two standard errors
WATCH_AUC_DROP = 0.03  # estimated, below the lowest training book: a book of 600 varies by 0.02
RETRAIN_ESTIMATED_AUC_DROP = 0.06
RETRAIN_FEATURES = 3
MIN_CLOSED = 30  # closed predictions before a realized gap can be a reason
MIN_CHURNED_FOR_AUC_REASON = 15


def level(verdict: str) -> int:
    """0 for ok, 1 for watch, 2 for retrain: the number a gauge, an exit code or a threshold compares."""
    return VERDICTS.index(verdict)


def _finite(value) -> float | None:
    """A JSON-safe number: NaN and infinities become null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _clean(obj):
    """Numbers JSON can hold (no NaN, no numpy scalars), recursively."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _finite(obj)
    return obj


def estimated_section(scores: pd.DataFrame, reference: Mapping) -> dict[str, object]:
    """Expected churn, lost ARR and AUC of today's open renewals, pooled and per cadence and horizon bucket.

    ``reference_expected_auc`` is the training books' own expected AUC (the one nearest to
    today's), so the drop compares like with like: two label-free estimates.
    """
    p, arr = scores["churn_risk"].to_numpy(dtype=float), scores["arr"].to_numpy(dtype=float)
    out: dict[str, object] = dict(estimate(p, arr))
    books = reference.get("score", {}).get("books") or [reference.get("score", {})]
    reference_aucs = [b.get("expected_auc") for b in books if b.get("expected_auc") is not None]
    now = _finite(out.get("expected_auc"))
    if reference_aucs and now is not None:
        out["reference_expected_auc"] = float(np.mean(reference_aucs))
        out["expected_auc_drop"] = float(min(reference_aucs) - now)  # below the lowest training book: no season
    out["by_cadence"] = estimate_by(scores, "cadence")
    out["by_horizon_bucket"] = estimate_by(scores, "horizon_bucket")
    return out


def _features_of(closed: pd.DataFrame) -> pd.DataFrame:
    """The logged feature snapshots of closed predictions as columns (one JSON object per row)."""
    if "features" not in closed or closed.empty:
        return pd.DataFrame(index=closed.index)
    text = "\n".join(closed["features"].fillna("{}").astype("str"))
    return pd.read_json(io.StringIO(text), lines=True).set_axis(closed.index)


def gap_drivers(closed: pd.DataFrame, catalog: Catalog, top: int = 3) -> list[dict[str, object]]:
    """The features whose values best track the realized error (churned − risk), by rank correlation.

    A cause that came to matter more shows up as an error that rises with that cause's
    feature: the model under-predicts where it is high. Numeric features only; vectorized
    (one rank transform, one matrix product).
    """
    frame = _features_of(closed)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].nunique() > 2]
    if len(closed) < MIN_CLOSED or not numeric:
        return []
    residual = closed["churned"].to_numpy(dtype=float) - closed["churn_risk"].to_numpy(dtype=float)
    ranks = frame[numeric].rank(pct=True)
    filled = ranks.fillna(ranks.mean()).to_numpy(dtype=float)
    filled = (filled - filled.mean(axis=0)) / np.where(filled.std(axis=0) > 0, filled.std(axis=0), np.inf)
    r = pd.Series(pd.Series(residual).rank(pct=True).to_numpy(), dtype=float)
    r = ((r - r.mean()) / r.std(ddof=0)).to_numpy()
    corr = filled.T @ r / len(r)
    order = np.argsort(-np.abs(corr))[:top]
    return [
        {
            "feature": numeric[i],
            "label": (catalog.get(numeric[i]).label if catalog.get(numeric[i]) is not None else numeric[i]),
            "rank_correlation": round(float(corr[i]), 4),
        }
        for i in order
        if abs(corr[i]) >= 2.5 / math.sqrt(len(r))  # beyond what chance gives at this many rows
    ]


def outcome_due(predictions: pd.DataFrame) -> pd.Series:
    """The day each logged prediction's outcome is decided: its renewal date, or a monthly plan's window end."""
    as_of = pd.to_datetime(predictions["as_of"])
    window = pd.to_timedelta(pd.to_numeric(predictions["horizon_days"], errors="coerce").fillna(0), unit="D")
    monthly = predictions["cadence"].astype("str").eq("monthly")
    return pd.to_datetime(predictions["renewal_date"]).where(~monthly, as_of + window)


def realized_section(
    predictions: pd.DataFrame,
    outcomes: pd.DataFrame,
    as_of: pd.Timestamp,
    model_version: str,
    catalog: Catalog,
    known_before: pd.Timestamp | None = None,
) -> dict[str, object]:
    """Realized results of the logged predictions made before ``as_of`` whose renewal has closed.

    Only predictions whose outcome was due before ``known_before`` (the data's end less the
    grace period) count. Later ones are left out even when their outcome is already known:
    a renewal is known the day its successor starts, a churn only once the grace period has
    passed, so the recent ones that are known are mostly renewals, and counting them would
    make the model look pessimistic.

    The monitored model's own predictions when it has closed ones; otherwise every logged
    model's (a freshly trained model has no history yet), said in ``models``.
    """
    logged = predictions[pd.to_datetime(predictions["as_of"]) < as_of] if len(predictions) else predictions
    if logged.empty:
        return {"n": 0, "logged": 0, "models": []}
    due = logged[(outcome_due(logged) < known_before).to_numpy()] if known_before is not None else logged
    closed = closed_predictions(due.reset_index(drop=True), outcomes)
    own = closed[closed["model_version"].astype("str") == str(model_version)]
    chosen = own if len(own) else closed
    out: dict[str, object] = {
        "logged": len(logged),
        "due": len(due),
        "models": sorted(chosen["model_version"].astype("str").unique()),
    }
    out |= realized_metrics(chosen)
    if len(chosen):
        out |= renewed_arr_against_forecast(chosen)
        wide = renewed_arr_against_forecast(chosen, 0.95)
        out |= {"arr_lo95": wide["arr_lo95"], "arr_hi95": wide["arr_hi95"], "inside95": wide["inside"]}
        p = chosen["churn_risk"].to_numpy(dtype=float)
        # what the AUC should be if the risks are right: the realized AUC is judged against it, not against
        # the test window's, whose mix of horizons and cadences is not this book's
        out["expected_auc"] = _finite(expected_auc(p))
        out["expected_churned"] = float(p.sum())
        out["churned"] = int(chosen["churned"].sum())
        sd = math.sqrt(float((p * (1 - p)).sum()))
        out["churn_z"] = (out["churned"] - out["expected_churned"]) / sd if sd > 0 else 0.0
        out["scored_from"] = str(pd.to_datetime(chosen["as_of"]).min().date())
        out["scored_to"] = str(pd.to_datetime(chosen["as_of"]).max().date())
        for column in ("cadence", "segment"):
            out[f"by_{column}"] = {str(k): realized_metrics(part) for k, part in chosen.groupby(column, sort=True)}
        out["gap_drivers"] = gap_drivers(chosen, catalog)
    return out


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil's standard error of an AUC: a drop smaller than two of these is noise."""
    if positives <= 0 or negatives <= 0:
        return float("inf")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / (
        positives * negatives
    )
    return math.sqrt(max(variance, 0.0))


def verdict(
    drift: list[dict], scores: dict, estimated: dict, realized: dict, test_auc: float | None
) -> tuple[str, list[str]]:
    """ok, watch or retrain, with one sentence per reason (most serious first)."""
    retrain, watch = [], []
    alarms = [d for d in drift if d["alarm"]]
    if alarms:
        named = ", ".join(f"{d['feature']} ({'; '.join(d['why'])})" for d in alarms[:5])
        more = f" and {len(alarms) - 5} more" if len(alarms) > 5 else ""
        sentence = f"{len(alarms)} input feature(s) drifted from training: {named}{more}."
        (retrain if len(alarms) >= RETRAIN_FEATURES else watch).append(sentence)
    if scores.get("alarm"):
        watch.append(
            f"The risk distribution moved (PSI {scores['value']:.2f}): mean risk {scores['mean_now']:.1%} "
            f"against {scores['mean_reference']:.1%} in training."
        )
    drop = estimated.get("expected_auc_drop")
    if drop is not None and drop >= WATCH_AUC_DROP:
        sentence = (
            f"The expected AUC of the open renewals is {estimated['expected_auc']:.3f}, "
            f"{drop:.3f} below the training books' (the scores bunch together)."
        )
        (retrain if drop >= RETRAIN_ESTIMATED_AUC_DROP else watch).append(sentence)
    n = int(realized.get("n", 0))
    if n >= MIN_CLOSED:
        z = float(realized.get("churn_z", 0.0))
        gap = abs(float(realized["churn_rate"]) - float(realized["mean_risk"]))
        if abs(z) >= WATCH_Z and gap >= WATCH_GAP:
            drivers = realized.get("gap_drivers") or []
            follows = f"; the gap follows {', '.join(d['feature'] for d in drivers)}" if drivers else ""
            sentence = (
                f"Of {n:,} renewals closed since they were scored, {realized['churn_rate']:.1%} churned against "
                f"{realized['mean_risk']:.1%} predicted ({z:+.1f} standard deviations){follows}."
            )
            (retrain if abs(z) >= RETRAIN_Z and gap >= RETRAIN_GAP else watch).append(sentence)
        auc, expected = realized.get("auc"), realized.get("expected_auc")
        churned = int(realized.get("churned", 0))
        if (
            auc is not None
            and expected is not None
            and churned >= MIN_CHURNED_FOR_AUC_REASON
            and expected - auc >= max(RETRAIN_AUC_DROP, 2 * auc_standard_error(auc, churned, n - churned))
        ):
            retrain.append(
                f"The closed renewals' AUC is {auc:.3f}, {expected - auc:.3f} below the {expected:.3f} their "
                "risks promised: the model ranks worse than it believes."
            )
        if "inside95" in realized and not realized["inside95"]:
            watch.append(
                f"Renewed ARR {realized['arr_renewed']:,.0f} of {realized['arr_due']:,.0f} due lies outside even "
                f"the forecast's 95% band ({realized['arr_lo95']:,.0f}–{realized['arr_hi95']:,.0f})."
            )
    if retrain:
        return "retrain", retrain + watch
    if watch:
        return "watch", watch
    if n >= MIN_CLOSED:
        closed = "the closed renewals match their predictions"
    elif n:
        closed = f"only {n:,} logged renewal(s) have closed, too few to judge the predictions by yet"
    else:
        closed = "no logged prediction has closed yet, so the predictions are not judged by outcomes yet"
    return "ok", [f"No input feature drifted, the scores did not move; {closed}."]


def build_report(
    bundle,
    scores: pd.DataFrame,
    book: pd.DataFrame,
    predictions: pd.DataFrame,
    outcomes: pd.DataFrame,
    as_of: pd.Timestamp,
    retrain_command: str = "churn train --data DIR",
    known_before: pd.Timestamp | None = None,
) -> dict[str, object]:
    """The whole report as a JSON-ready dict (keys: as_of, model_version, verdict, reasons, drift, ...).

    ``known_before``: outcomes due before this day are final (``realized_section``).
    """
    reference = bundle.metadata.get("reference_distributions")
    if not reference:
        raise ValueError("the model bundle has no reference distributions: retrain it with `churn train`")
    drift = feature_drift(reference, book, bundle.catalog)
    scored = score_drift(reference, scores["churn_risk"].to_numpy(dtype=float), bundle.bands)
    estimated = estimated_section(scores, reference)
    model_version = str(scores["model_version"].iloc[0]) if len(scores) else bundle.version_label
    realized = realized_section(predictions, outcomes, as_of, model_version, bundle.catalog, known_before)
    test_auc = (bundle.metadata.get("metrics") or {}).get("test_roc_auc")
    decided, reasons = verdict(drift, scored, estimated, realized, test_auc)
    report = {
        "as_of": str(pd.Timestamp(as_of).date()),
        "model_version": model_version,
        "verdict": decided,
        "verdict_level": level(decided),
        "reasons": reasons,
        "action": f"Retrain: {retrain_command}" if decided == "retrain" else None,
        "book": {
            "accounts": len(scores),
            "reference_shape": reference.get("shape"),
            "reference": reference.get("dates"),
        },
        "drift": drift,
        "score_drift": scored,
        "estimated": estimated,
        "realized": realized,
        "test_auc": test_auc,
    }
    return _clean(report)


def to_json(report: Mapping) -> str:
    """The report as indented JSON (strict: no NaN)."""
    return json.dumps(report, indent=2, allow_nan=False)
