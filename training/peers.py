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

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalog import Catalog
from features.snapshots import RISK_WINDOW_DAYS, cadence, horizon_bucket

MIN_PEER_ROWS = 100
LEVELS: tuple[tuple[str, ...], ...] = (("cadence", "segment", "horizon"), ("cadence", "horizon"), ("cadence",), ())
_SEP = "|"


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray | None:
    if column not in frame:
        return None
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def peer_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Cadence, segment and horizon bucket of each row, from its features ('unknown' where not given).

    The horizon is the days to renewal, or the risk window of a plan shorter than it.
    """
    n = len(frame)
    term, days = _numbers(frame, "contract_term_days"), _numbers(frame, "days_to_renewal")
    cadences = cadence(term) if term is not None else np.full(n, "unknown")
    horizon = np.where(cadences == "monthly", RISK_WINDOW_DAYS, np.nan if days is None else days)
    segment = np.full(n, "unknown", dtype=object)
    if "segment" in frame:
        given = frame["segment"].to_numpy(dtype=object)
        known = pd.notna(given)
        segment[known] = given[known].astype(str)
    return pd.DataFrame(
        {"cadence": cadences, "segment": segment, "horizon": horizon_bucket(horizon)}, index=frame.index
    )


def _combinations(keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code among the distinct (cadence, segment, horizon) combinations, and those combinations.

    Cell names are made once per combination (a few dozen), not once per row.
    """
    combined = np.empty(len(keys), dtype=object)
    combined[:] = list(zip(keys["cadence"], keys["segment"], keys["horizon"], strict=True))
    return pd.factorize(combined)


def _name(combo: tuple[str, str, str], level: tuple[str, ...]) -> str:
    """The cell name of one (cadence, segment, horizon) combination at one level of detail."""
    values = dict(zip(("cadence", "segment", "horizon"), combo, strict=True))
    return _SEP.join(values[column] for column in level) if level else "all"


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
        codes, combos = _combinations(keys)
        cells: dict[str, dict[str, object]] = {}
        for level in LEVELS:
            names = np.array([_name(combo, level) for combo in combos], dtype=object)[codes]
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
        """Per row, its cell's mean contributions (rows x features) and words (the finest cell that exists).

        Rows are grouped by their (cadence, segment, horizon) first, so the look-up runs once per
        distinct combination (a few dozen), not once per row.
        """
        keys = peer_keys(frame)
        table, words, cells = self._stacked
        codes, combos = _combinations(keys)
        fallback = cells.get("all", 0)
        cell_of_combo = np.array(
            [
                next((cells[name] for level in LEVELS if (name := _name(combo, level)) in cells), fallback)
                for combo in combos
            ],
            dtype=int,
        )
        index = cell_of_combo[codes] if len(codes) else np.zeros(0, dtype=int)
        return table[index], words[index]

    @functools.cached_property
    def _stacked(self) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """Cells as one matrix, their words and their positions by name: built once, every batch reads them."""
        order = list(self.cells)
        table = np.array([self.cells[name]["mean_contribution"] for name in order], dtype=float).reshape(
            len(order), len(self.features)
        )
        words = np.array([str(self.cells[name].get("description", name)) for name in order], dtype=object)
        return table, words, {name: i for i, name in enumerate(order)}

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
