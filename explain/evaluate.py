"""Are the explanations right? The hit rate against a known cause of churn.

Where the true reason an account left is known (the demo generator records it; a team can
record it from exit interviews in a table of its own), an explanation is right when the true
driver group is among the account's top risk driver groups. The *explanation hit rate* is the
share of churned renewals, among those with a known observable cause, that it gets right.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from explain.reasons import attribute, top_risk_groups
from features.catalog import DRIVER_GROUPS
from training.bundle import ModelBundle

TRUTH_FILE = Path("_truth") / "renewals.parquet"
TOP_GROUPS = 3


def load_truth(data: Path) -> pd.DataFrame | None:
    """``DIR/_truth/renewals.parquet`` (contract_id, primary_driver) when the data comes with one."""
    path = Path(data) / TRUTH_FILE
    if not path.exists():
        return None
    truth = pd.read_parquet(path)
    return truth if {"contract_id", "primary_driver"} <= set(truth.columns) else None


def explanation_hit_rate(
    bundle: ModelBundle, snapshots: pd.DataFrame, truth: pd.DataFrame, top: int = TOP_GROUPS
) -> dict[str, float]:
    """Hit rates on the churned ``snapshots`` whose true driver is one of the six groups.

    ``explanation_hit_rate``: the true group is among the top ``top`` driver groups (contributions
    summed per group). ``explanation_hit_rate_features``: it is the group of one of the top
    ``top`` single-feature reasons, the stricter reading of what a CSM sees first.
    """
    known = truth.loc[truth["primary_driver"].isin(DRIVER_GROUPS), ["contract_id", "primary_driver"]]
    rows = snapshots[snapshots["churned"].astype(bool)].merge(known, on="contract_id", how="inner")
    if rows.empty:
        return {}
    attribution = attribute(bundle, rows, warn=False)
    true_group = rows["primary_driver"].to_numpy()
    by_group = np.array([g in tops for g, tops in zip(true_group, top_risk_groups(attribution, top), strict=True)])
    order = np.argsort(-attribution.points, axis=1, kind="stable")[:, :top]
    groups = np.asarray(attribution.groups)[order]
    positive = np.take_along_axis(attribution.points, order, axis=1) > 0
    by_feature = ((groups == true_group[:, None]) & positive).any(axis=1)
    return {
        "explanation_hit_rate": float(by_group.mean()),
        "explanation_hit_rate_features": float(by_feature.mean()),
        "explanation_hit_rate_rows": float(len(rows)),
        **{
            f"explanation_hit_rate__{g}": float(by_group[true_group == g].mean())
            for g in DRIVER_GROUPS
            if (true_group == g).any()
        },
    }
