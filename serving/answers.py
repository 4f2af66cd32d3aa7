"""What the service answers about an account, computed from snapshots: per request, or once when the store is written.

``POST /score``, ``POST /score_accounts`` and ``GET /accounts/{id}[/page]`` all answer from
the functions here, so a precomputed answer and one computed on the spot are the same thing.
``churn score --store`` runs ``records`` for each account's newest stored date and keeps the
result in the store (``serving/store.py``, table ``records``) as JSON, keyed by ``model_key``
(a fingerprint of the model bundle, the playbook and this module's record format) and the
date; the service reads them back when its own model has the same key, and otherwise
computes, so a service running another model never serves another model's words.

Why precompute: an account's page needs its explanation (one ``pred_contrib`` call), the
change since its previous snapshot (two more) and its risk at each past snapshot; done per
request that is ~100 ms of model work on this project's machine, while reading a stored
record is a primary-key look-up and a JSON parse.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from datetime import date

import pandas as pd

from explain.pages import TREND_MONTHS, pages_from_snapshots
from explain.reasons import Explainer
from explain.records import AccountPage, Explanation, MetricSeries, TrendPoint
from serving.schemas import MAX_REASONS, AccountScore, ScoreReason, UnknownCategory
from training.score import unseen_message

RECORDS_FORMAT = 1  # bump when what a record holds, or how it is worded, changes: old records are then recomputed
HISTORY_DATES = TREND_MONTHS  # stored dates a page reads: its risk trend, and the previous one for "what changed"


def model_key(explainer: Explainer) -> str:
    """Which model (and playbook) an answer comes from: a digest of everything that shapes it.

    The booster's own text, the feature schema, calibrator, catalog and metadata (bands,
    peers, reference values), the playbook's rules and ``RECORDS_FORMAT``. Computed once per
    process; a retrained model, a new playbook or a new record format gives a new key.
    """
    cached = getattr(explainer, "_model_key", None)
    if cached is not None:
        return cached
    bundle = explainer.bundle
    digest = hashlib.sha256(bundle.booster.model_to_string().encode())
    parts = {
        "format": RECORDS_FORMAT,
        "schema": bundle.schema.to_json(),
        "calibrator": bundle.calibrator.to_json(),
        "catalog": bundle.catalog.to_records(),
        "metadata": bundle.metadata,
        "playbook": [rule.model_dump(mode="json") for rule in explainer.playbook.rules] if explainer.playbook else None,
    }
    digest.update(json.dumps(parts, sort_keys=True, default=str).encode())
    key = digest.hexdigest()[:32]
    explainer._model_key = key  # type: ignore[attr-defined]
    return key


# scores ---------------------------------------------------------------------------------------


def unknown_categories(bundle, frame: pd.DataFrame) -> list[list[UnknownCategory]]:
    """Per row, the categorical values the model never saw in training (it scores them as missing).

    ``FeatureSchema.unseen`` finds them in one vectorized pass; only those rows are put into words.
    """
    found: list[list[UnknownCategory]] = [[] for _ in range(len(frame))]
    for row, name, value in bundle.schema.unseen(frame).itertuples(index=False):
        known = bundle.schema.categories[name]
        found[row].append(
            UnknownCategory(
                field=name, value=value, known_values=list(known), message=unseen_message(name, value, known)
            )
        )
    return found


def score_frame(explainer: Explainer, frame: pd.DataFrame, reasons: int) -> list[AccountScore]:
    """Scores with the top ``reasons`` risk reasons for snapshot rows, in row order (one model pass)."""
    frame = frame.reset_index(drop=True)
    explanations = explainer.explain(frame, risk_reasons=reasons, protective_reasons=0, warn=False)
    warnings = unknown_categories(explainer.bundle, frame)
    return [_score(e, reasons, w) for e, w in zip(explanations, warnings, strict=True)]


def _score(e: Explanation, reasons: int, warnings: list[UnknownCategory]) -> AccountScore:
    return AccountScore(
        account_id=e.account_id,
        renewal_probability=e.renewal_probability,
        churn_risk=e.churn_risk,
        risk_band=e.risk_band,  # type: ignore[arg-type]
        risk_meaning=e.risk_meaning,
        peer_churn_risk=e.peer_churn_risk,
        peer_group=e.peer_group,
        horizon_note=e.horizon_note or None,
        reasons=[
            ScoreReason(**{name: getattr(r, name) for name in ScoreReason.model_fields})
            for r in e.risk_drivers[:reasons]
        ],
        model_version=e.model_version,
        as_of=e.as_of,
        warnings=warnings,
    )


def stored_score(record: str, reasons: int) -> AccountScore:
    """A precomputed score (kept with ``MAX_REASONS`` reasons) cut to the ``reasons`` asked for.

    The top ``k`` reasons are the first ``k`` of the top ``MAX_REASONS`` (one stable ranking),
    so this equals scoring with ``reasons`` directly."""
    score = AccountScore.model_validate_json(record)
    return score.model_copy(update={"reasons": score.reasons[:reasons]})


# pages ----------------------------------------------------------------------------------------


def newest_pages(
    explainer: Explainer, history: pd.DataFrame, series: Mapping[str, list[MetricSeries]] | None = None
) -> dict[str, AccountPage]:
    """Each account's page at its newest date in ``history``; "what changed" is against its previous date.

    Accounts are grouped by their (newest, previous) dates, a handful in any store, so each
    group is one batched call of ``pages_from_snapshots``: no model call per account.
    """
    if history.empty:
        return {}
    dates = history[["account_id", "as_of"]]
    newest = dates.groupby("account_id")["as_of"].max()
    earlier = dates[dates["as_of"] < dates["account_id"].map(newest)]
    previous = earlier.groupby("account_id")["as_of"].max().reindex(newest.index)
    pairs = pd.DataFrame({"now": newest, "then": previous})
    pages: dict[str, AccountPage] = {}
    for (now, then), part in pairs.groupby(["now", "then"], dropna=False, sort=False):
        ids = part.index.astype("str").tolist()
        rows = history[history["account_id"].isin(ids)]
        pages.update(pages_from_snapshots(explainer, rows, series or {}, ids, now, None if pd.isna(then) else then))
    return pages


def records(explainer: Explainer, history: pd.DataFrame) -> list[tuple[str, str, str, str, str]]:
    """Rows of the store's ``records`` table for every account in ``history`` (its newest ``HISTORY_DATES``
    snapshots): (model, account, newest date, score JSON with ``MAX_REASONS`` reasons, page JSON)."""
    if history.empty:
        return []
    key = model_key(explainer)
    pages = newest_pages(explainer, history)
    newest = history.loc[history.groupby("account_id")["as_of"].idxmax()].reset_index(drop=True)
    scores = score_frame(explainer, newest, MAX_REASONS)
    return [
        (key, s.account_id, s.as_of.isoformat(), s.model_dump_json(), page_json(pages[s.account_id])) for s in scores
    ]


def page_json(page: AccountPage) -> str:
    """The stored form of a page: the explanation with every feature (the waterfall) and the risk trend.

    Charts and the generation time are not part of it: charts have their own table and rule
    (never replaced by an older date's), and a page is stamped when it is served."""
    trend = [{"as_of": p.as_of.isoformat(), "churn_risk": p.churn_risk} for p in page.trend]
    return json.dumps({"explanation": page.explanation.to_dict(all_features=True), "trend": trend})


def account_json(record: str) -> dict:
    """``GET /accounts/{id}`` from a stored page: the explanation without the per-feature list, and the trend."""
    data = json.loads(record)
    explanation = data["explanation"]
    explanation.pop("features", None)
    explanation["trend"] = data["trend"]
    return explanation


def page_from_json(
    record: str, series: list[MetricSeries], bands: tuple[float, float], generated_at: str
) -> AccountPage:
    """A stored page as the ``AccountPage`` the HTML renderer takes, with its charts and stamp added."""
    data = json.loads(record)
    explanation = _decode(Explanation, data["explanation"])
    trend = [TrendPoint(date.fromisoformat(p["as_of"]), float(p["churn_risk"])) for p in data["trend"]]
    return AccountPage(explanation, trend, series, bands, generated_at)


def _decode(kind, value):
    """JSON (as ``Explanation.to_dict`` wrote it) back into the typed records of ``explain.records``.

    Driven by the dataclasses' own type hints, so a field added to a record needs no change here."""
    if value is None:
        return None
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        fields = {f.name for f in dataclasses.fields(kind)}
        return kind(**{name: _decode(hints[name], v) for name, v in value.items() if name in fields})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        for option in options:
            if option is date or dataclasses.is_dataclass(option):
                return _decode(option, value)
        return value
    if origin is list:
        return [_decode(args[0], v) for v in value]
    if origin is tuple:
        return tuple(_decode(args[0], v) for v in value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is float:
        return float(value)
    return value
