"""Peer baselines: the risk of comparable accounts, which an account's reasons are measured from.

TreeSHAP measures every contribution from the average training row. In a book where most rows
are monthly plans with a low risk per renewal, that average is a monthly plan, so every annual
account's first "reason" would be that it is annual. Context (the contract's term, the days
left, tenure, segment, plan, size: catalog role ``context``) is who the account is, not
something it can act on. So an explanation starts from the account's **peers** instead:

    baseline raw score = bias + Σ context contributions of this account
                              + Σ actionable contributions averaged over its peer cell

A peer cell is the training rows of the same cadence, segment and horizon bucket ("annual
mid_market accounts renewing in 91-180 days"), falling back to coarser cells when a cell has
fewer than ``MIN_PEER_ROWS`` rows. The baseline keeps the account's own context (its tenure,
plan, exact days to renewal) and replaces each actionable feature by what its peers show on
average. The account's risk minus the calibrated baseline is then carried by the actionable
features alone, each by how far it is from its peers' average contribution
(``explain.reasons``), so baseline + points = risk exactly, and context is never a reason.

Fitted at training time from the training window's contributions and stored in the bundle as
plain numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalog import Catalog
from features.snapshots import RISK_WINDOW_DAYS, cadence, horizon_bucket

MIN_PEER_ROWS = 100
LEVELS: tuple[tuple[str, ...], ...] = (("cadence", "segment", "horizon"), ("cadence", "horizon"), ("cadence",), ())
_SEP = "|"


def peer_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Cadence, segment and horizon bucket of each row, from its features ('unknown' where not given).

    The horizon is the days to renewal, or the risk window of a plan shorter than it.
    """
    n = len(frame)
    term = pd.to_numeric(frame["contract_term_days"], errors="coerce") if "contract_term_days" in frame else None
    days = pd.to_numeric(frame["days_to_renewal"], errors="coerce") if "days_to_renewal" in frame else None
    cadences = cadence(term) if term is not None else np.full(n, "unknown")
    if days is not None:
        horizon = np.where(cadences == "monthly", RISK_WINDOW_DAYS, days.to_numpy(dtype=float))
        buckets = horizon_bucket(horizon)
    else:
        buckets = np.where(cadences == "monthly", horizon_bucket(np.array([RISK_WINDOW_DAYS]))[0], "unknown")
    segment = frame["segment"].astype("str").where(frame["segment"].notna(), "unknown") if "segment" in frame else None
    return pd.DataFrame(
        {
            "cadence": cadences,
            "segment": np.full(n, "unknown") if segment is None else segment.to_numpy(dtype=object),
            "horizon": buckets,
        },
        index=frame.index,
    )


def _cell_names(keys: pd.DataFrame, level: tuple[str, ...]) -> pd.Series:
    if not level:
        return pd.Series("all", index=keys.index)
    names = keys[level[0]].astype("str")
    for column in level[1:]:
        names = names + _SEP + keys[column].astype("str")
    return names


def describe(keys: Mapping[str, str]) -> str:
    """A peer cell in words: 'annual mid-market accounts renewing in 91–180 days'."""
    cadence_name, segment, horizon = (keys.get(k, "unknown") for k in ("cadence", "segment", "horizon"))
    words = [w for w in (cadence_name, segment.replace("_", "-")) if w != "unknown"]
    who = " ".join(words)
    if cadence_name == "monthly":
        return f"{who} plans (risk of cancelling within {RISK_WINDOW_DAYS} days)"
    when = f" renewing in {horizon.replace('-', '–')} days" if horizon not in ("unknown", None) else ""
    return f"{who or 'all'} accounts{when}"


@dataclass(frozen=True)
class PeerBaselines:
    """Mean contribution of every feature in each peer cell (log-odds), with the cell's size and churn rate."""

    features: list[str]
    cells: dict[str, dict[str, object]]  # name -> {"description", "n", "churn_rate", "mean_contribution"}

    @classmethod
    def fit(cls, frame: pd.DataFrame, contributions: np.ndarray, churned: np.ndarray, features: list[str]):
        """Cells from the training rows' contributions (``contributions``: rows x features, bias excluded)."""
        keys = peer_keys(frame.reset_index(drop=True))
        churned = np.asarray(churned, dtype=float)
        cells: dict[str, dict[str, object]] = {}
        for level in LEVELS:
            names = _cell_names(keys, level).to_numpy()
            for name in pd.unique(names):
                rows = names == name
                first = int(np.argmax(rows))
                if rows.sum() < MIN_PEER_ROWS and level:
                    continue
                cells[str(name)] = {
                    "description": describe({k: str(keys[k].iloc[first]) for k in level}),
                    "n": int(rows.sum()),
                    "churn_rate": round(float(churned[rows].mean()), 4) if rows.any() else None,
                    "mean_contribution": [round(float(v), 6) for v in contributions[rows].mean(axis=0)]
                    if rows.any()
                    else [0.0] * len(features),
                }
        return cls(list(features), cells)

    def assign(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per row, its cell's mean contributions (rows x features) and words (the finest cell that exists)."""
        keys = peer_keys(frame.reset_index(drop=True))
        chosen = pd.Series([None] * len(keys), dtype=object)
        for level in LEVELS:
            names = _cell_names(keys, level)
            known = names.isin(self.cells.keys()) & chosen.isna()
            chosen[known] = names[known]
        chosen = chosen.fillna("all" if "all" in self.cells else next(iter(self.cells), "all"))
        order = list(self.cells)
        table = np.array([self.cells[name]["mean_contribution"] for name in order], dtype=float).reshape(
            len(order), len(self.features)
        )
        position = chosen.map({name: i for i, name in enumerate(order)}).to_numpy(dtype=int)
        words = np.array([str(self.cells[name].get("description", name)) for name in order], dtype=object)
        return table[position], words[position]

    def to_json(self) -> dict:
        return {"features": self.features, "cells": self.cells}

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None, features: list[str]) -> PeerBaselines:
        """From a bundle's metadata; a bundle without peers gets one cell of zeros (the average training row)."""
        if not data:
            empty = {
                "description": "all accounts",
                "n": 0,
                "churn_rate": None,
                "mean_contribution": [0.0] * len(features),
            }
            return cls(list(features), {"all": empty})
        return cls(list(data["features"]), dict(data["cells"]))  # type: ignore[arg-type]


MAX_PEER_ROWS = 5_000  # cell means from a fixed sample: close enough, and pred_contrib on 1,000+ trees stays cheap


def fit_peers(bundle_like, frame: pd.DataFrame, churned: np.ndarray, catalog: Catalog, seed: int = 0) -> PeerBaselines:
    """Peer baselines for a fitted booster on (a seeded sample of at most ``MAX_PEER_ROWS``) training rows."""
    churned = np.asarray(churned)
    if len(frame) > MAX_PEER_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), MAX_PEER_ROWS, replace=False))
        frame, churned = frame.iloc[rows], churned[rows]
    contributions = bundle_like.contributions(frame, warn=False)[:, :-1]
    return PeerBaselines.fit(frame, contributions, churned, bundle_like.schema.names)
