"""Are the explanations right? The hit rate against a known cause of churn, beside two naive guesses.

Where the true reason an account left is known (the demo generator records it; a team can
record it from exit interviews in a table of its own), an explanation is right when the true
driver group is among the groups of the account's top reasons. The *explanation hit rate* is
the share of churned renewals, among those with a known observable cause, that it gets right.

A hit rate means little alone: when a third of all churn is adoption, "adoption, relationship,
commercial" for everyone already names the cause of most churners. So it is reported beside
two answers that know nothing about the account:

- the **constant guess**: the ``top`` most common true causes among churned renewals whose
  outcome was known before the rows being explained (the training side of the split), the
  same for everyone;
- the **global-importance guess**: the ``top`` driver groups with the largest mean positive
  points over all explained rows, the same for everyone.

An explanation earns its keep by beating both. Everything here reads explanations
(``explain.records.Explanation``) only: ``risk_drivers[i].group`` for the reasons a CSM reads,
``groups`` (points summed per driver group) for the group ranking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from explain.reasons import Explainer
from explain.records import Explanation
from features.catalog import DRIVER_GROUPS
from training.bundle import ModelBundle
from training.oracle import window_renewals

TRUTH_FILE = Path("_truth") / "renewals.parquet"
TOP_GROUPS = 3
_EPS = 1e-9

Guess = Sequence[str] | Sequence[Sequence[str]]  # one list for everyone, or one per row


def load_truth(data: Path) -> pd.DataFrame | None:
    """``DIR/_truth/renewals.parquet`` (contract_id, primary_driver) when the data comes with one."""
    path = Path(data) / TRUTH_FILE
    if not path.exists():
        return None
    truth = pd.read_parquet(path)
    return truth if {"contract_id", "primary_driver"} <= set(truth.columns) else None


def true_causes(snapshots: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per snapshot row, the true cause of the outcome its label is about, and that renewal's contract.

    A row of a monthly plan is labelled by the renewals in its window (``as_of``,
    ``outcome_date``], so its cause is the one of the renewal in that window that churned, not
    of the contract in force on ``as_of`` (which may have renewed). A long contract's window ends
    at its own renewal, so its cause is its own. Rows whose window has no churn, and truth
    tables without ``account_id``, ``renewal_date`` and ``renewed`` (or snapshots without
    ``outcome_date``), fall back to the row's own contract. Returns ``true_cause`` and
    ``cause_contract_id`` on ``snapshots``' index (NaN where the truth has nothing).
    """
    own = truth.drop_duplicates("contract_id").set_index("contract_id")["primary_driver"]
    out = pd.DataFrame(
        {
            "true_cause": own.reindex(snapshots["contract_id"].to_numpy()).to_numpy(dtype=object),
            "cause_contract_id": snapshots["contract_id"].to_numpy(dtype=object),
        }
    )
    windowed = {"account_id", "renewal_date", "renewed"} <= set(truth.columns) and {
        "account_id",
        "as_of",
        "outcome_date",
    } <= set(snapshots.columns)
    if windowed and len(snapshots):
        pairs = window_renewals(snapshots, truth, snapshots["outcome_date"])
        churned = pairs[pairs["churn"]].drop_duplicates("_row")
        rows = churned["_row"].to_numpy()
        out.loc[rows, "true_cause"] = churned["primary_driver"].to_numpy(dtype=object)
        out.loc[rows, "cause_contract_id"] = churned["truth_contract_id"].to_numpy(dtype=object)
    out.index = snapshots.index
    return out


def reason_groups(explanations: Sequence[Explanation], top: int = TOP_GROUPS) -> list[list[str]]:
    """Per explanation, the driver groups of its first ``top`` risk drivers (each once, strongest first)."""
    return [list(dict.fromkeys(r.group for r in e.risk_drivers[:top])) for e in explanations]


def driver_groups(explanations: Sequence[Explanation], top: int = TOP_GROUPS) -> list[list[str]]:
    """Per explanation, the up to ``top`` driver groups that add the most risk (points summed per group)."""
    return [[g.group for g in sorted(e.groups, key=lambda s: -s.points) if g.points > _EPS][:top] for e in explanations]


def constant_guess(causes: Iterable[str], top: int = TOP_GROUPS) -> list[str]:
    """The ``top`` most common observable causes (driver groups), ties in ``DRIVER_GROUPS`` order.

    Unobservable and 'none' are left out: no explanation is judged on them, so guessing them
    would only weaken the guess.
    """
    counts = Counter(c for c in causes if c in DRIVER_GROUPS)
    return sorted(counts, key=lambda g: (-counts[g], DRIVER_GROUPS.index(g)))[:top]


def importance_guess(explanations: Sequence[Explanation], top: int = TOP_GROUPS) -> list[str]:
    """The ``top`` driver groups with the largest mean positive points over ``explanations`` (global importance)."""
    if not explanations:
        return []
    position = {g: j for j, g in enumerate(DRIVER_GROUPS)}
    points = np.zeros((len(explanations), len(DRIVER_GROUPS)))
    for i, e in enumerate(explanations):
        for share in e.groups:
            if share.group in position:
                points[i, position[share.group]] += share.points
    mean = np.clip(points, 0.0, None).mean(axis=0)
    order = np.argsort(-mean, kind="stable")
    return [DRIVER_GROUPS[j] for j in order[:top] if mean[j] > _EPS]


def hits(true_cause: Sequence[str], guess: Guess) -> np.ndarray:
    """Per row, whether the true cause is in the guess (one list for every row, or one list per row)."""
    causes = list(true_cause)
    if len(guess) and not isinstance(guess[0], str):  # one list per row
        return np.array([c in set(g) for c, g in zip(causes, guess, strict=True)], dtype=bool)
    chosen = set(guess)
    return np.array([c in chosen for c in causes], dtype=bool)


def hit_rates(true_cause: Sequence[str], guesses: Mapping[str, Guess]) -> dict[str, float]:
    """Each guess's hit rate overall (``<name>``) and per true cause (``<name>__<cause>``), plus ``rows``."""
    causes = np.asarray(list(true_cause), dtype=object)
    out: dict[str, float] = {"rows": float(len(causes))}
    if len(causes) == 0:
        return out
    present = [g for g in DRIVER_GROUPS if (causes == g).any()]
    present += sorted({str(c) for c in causes} - set(present))
    for name, guess in guesses.items():
        hit = hits(causes, guess)
        out[name] = float(hit.mean())
        out |= {f"{name}__{cause}": float(hit[causes == cause].mean()) for cause in present}
    return out


def known_churn(snapshots: pd.DataFrame, causes: pd.DataFrame) -> np.ndarray:
    """Positions of churned rows whose true cause is one of the driver groups (observable)."""
    churned = snapshots["churned"].astype(bool).to_numpy()
    return np.flatnonzero(churned & causes["true_cause"].isin(DRIVER_GROUPS).to_numpy())


def training_causes(truth: pd.DataFrame, before: pd.Timestamp) -> list[str]:
    """True causes of the churned renewals whose outcome was known before ``before`` (one per renewal)."""
    if not {"renewal_date", "renewed"} <= set(truth.columns):
        return []
    known = truth[(pd.to_datetime(truth["renewal_date"]) < pd.Timestamp(before)) & ~truth["renewed"].astype(bool)]
    return known["primary_driver"].astype(str).tolist()


def explanation_hit_rate(
    bundle: ModelBundle,
    snapshots: pd.DataFrame,
    truth: pd.DataFrame,
    top: int = TOP_GROUPS,
    *,
    constant: Sequence[str] | None = None,
) -> dict[str, float]:
    """Hit rates on the churned ``snapshots`` whose true cause is one of the six driver groups.

    Every row of ``snapshots`` (a test window) is explained; the churned ones with an observable
    cause are judged. Keys:

    - ``explanation_hit_rate_reasons``: the true group is the group of one of the first ``top``
      reasons (risk drivers), what a CSM reads first; ``explanation_hit_rate_features`` is the
      same number under its older name;
    - ``explanation_hit_rate``: it is among the top ``top`` driver groups, points summed per group;
    - ``explanation_hit_rate_constant_guess``: the same ``top`` causes for everyone, the most
      common among churned renewals known before the first row's ``as_of`` (from ``truth``,
      which needs ``renewal_date`` and ``renewed``), or ``constant`` when given;
    - ``explanation_hit_rate_importance_guess``: the same ``top`` groups for everyone, by mean
      positive points over all rows;
    - ``explanation_hit_rate_rows`` and, per true cause, ``explanation_hit_rate__<g>`` (groups)
      and ``explanation_hit_rate_reasons__<g>``.

    Empty when no churned row has a known observable cause.
    """
    snapshots = snapshots.reset_index(drop=True)
    causes = true_causes(snapshots, truth)
    judged = known_churn(snapshots, causes)
    if len(judged) == 0:
        return {}
    explanations = Explainer(bundle).explain(snapshots, risk_reasons=top, protective_reasons=0, warn=False)
    picked = [explanations[i] for i in judged]
    if constant is None and "as_of" in snapshots:
        constant = constant_guess(training_causes(truth, pd.to_datetime(snapshots["as_of"]).min()), top)
    guesses: dict[str, Guess] = {"reasons": reason_groups(picked, top), "groups": driver_groups(picked, top)}
    if constant:
        guesses["constant_guess"] = list(constant)
    guesses["importance_guess"] = importance_guess(explanations, top)
    rates = hit_rates(causes["true_cause"].iloc[judged].tolist(), guesses)
    out = {
        "explanation_hit_rate": rates["groups"],
        "explanation_hit_rate_features": rates["reasons"],
        "explanation_hit_rate_reasons": rates["reasons"],
        "explanation_hit_rate_rows": rates["rows"],
    }
    for name in ("constant_guess", "importance_guess"):
        if name in rates:
            out[f"explanation_hit_rate_{name}"] = rates[name]
    for group in DRIVER_GROUPS:
        if f"groups__{group}" in rates:
            out[f"explanation_hit_rate__{group}"] = rates[f"groups__{group}"]
            out[f"explanation_hit_rate_reasons__{group}"] = rates[f"reasons__{group}"]
    return out
