"""What if: change some of an account's inputs and see its new churn risk and reasons.

The changed snapshot goes through the same model and explainer as the real one, so the new
probability, reasons and plays are exactly what the account would get with those values.
Only the features named change: a derived feature that would move with them in real life (say
``arr_per_seat`` when ``seats`` changes) keeps its value unless it is changed too. How much of
the difference each changed input accounts for comes from ``explain.change.explain_change``,
the same split into points the "what changed since last month" view uses.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from explain.change import explain_change
from explain.formats import money
from explain.reasons import Explainer
from explain.records import Explanation, Mover


@dataclass(frozen=True)
class WhatIf:
    """The account as it is (``before``) and with the changed inputs (``after``)."""

    before: Explanation
    after: Explanation
    changes: dict[str, tuple[object, object]]  # feature -> (value now, value in the scenario)
    movers: list[Mover]  # the changed inputs with their share of the difference, in points

    @property
    def points(self) -> float:
        """Difference in churn risk, in percentage points (negative: the change would lower the risk)."""
        return 100.0 * (self.after.churn_risk - self.before.churn_risk)

    @property
    def summary(self) -> str:
        """ "If seat utilization rose from 22% to 60%: churn risk 41% → 28% (−13 points), now low risk"."""
        phrases = [m.phrase for m in self.movers] or [f"{name} changed" for name in self.changes]
        head = "If " + (phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1])
        risk = f"churn risk {self.before.churn_risk:.0%} → {self.after.churn_risk:.0%} ({self.points:+.1f} points)"
        band = (
            f", {self.after.risk_band} risk instead of {self.before.risk_band}"
            if self.after.risk_band != self.before.risk_band
            else f", still {self.after.risk_band} risk"
        )
        return f"{head}: {risk}{band}"

    def table(self) -> pd.DataFrame:
        """Side by side: churn risk, band, ARR at risk and the top reasons, now and in the scenario."""
        rows = {
            "churn risk": (f"{self.before.churn_risk:.1%}", f"{self.after.churn_risk:.1%}"),
            "risk band": (self.before.risk_band, self.after.risk_band),
            "ARR at risk": (money(self.before.arr_at_risk), money(self.after.arr_at_risk)),
        }
        for name, (old, new) in self.changes.items():
            rows[f"input: {name}"] = (_plain(old), _plain(new))
        depth = max(len(self.before.risk_drivers), len(self.after.risk_drivers))
        for i in range(depth):
            rows[f"risk driver {i + 1}"] = (
                _sentence(self.before.risk_drivers, i),
                _sentence(self.after.risk_drivers, i),
            )
        for i in range(max(len(self.before.plays), len(self.after.plays))):
            rows[f"play {i + 1}"] = (_play(self.before, i), _play(self.after, i))
        return pd.DataFrame.from_dict(rows, orient="index", columns=["now", "what if"])


def what_if(explainer: Explainer, row: pd.DataFrame | pd.Series, changes: Mapping[str, object]) -> WhatIf:
    """Explain one snapshot row as it is and with ``changes`` ({feature: new value}) applied.

    ``row`` is one row of scoring snapshots (a one-row DataFrame or a Series). Every name in
    ``changes`` must be a model input; a misspelt one raises a ``KeyError`` that suggests the
    closest names, and a context feature (the contract's term, the days left, tenure, segment,
    plan: catalog role ``context``) a ``ValueError``: moving an enterprise account to a monthly
    plan is not a play. ``None`` makes a value missing.
    """
    frame = row.to_frame().T if isinstance(row, pd.Series) else row
    if len(frame) != 1:
        raise ValueError(f"what_if needs exactly one snapshot row, got {len(frame)}")
    if not changes:
        raise ValueError("what_if needs at least one change: {feature: new value}")
    inputs = explainer.bundle.schema.names
    for name in changes:
        if name not in inputs:
            close = difflib.get_close_matches(name, inputs, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"{name!r} is not an input of this model{hint}")
        feature = explainer.catalog.get(name)
        if feature is not None and feature.is_context:
            raise ValueError(
                f"{name!r} is context (who the account is and where its contract stands), not something the "
                "account can act on: a what-if changes actionable features only "
                f"({', '.join(explainer.catalog.actionable[:5])}, ...)"
            )
    before = frame.reset_index(drop=True)
    after = before.copy()
    for name, value in changes.items():
        if name not in after.columns:
            after[name] = pd.Series([None], dtype=object)
            before[name] = pd.Series([None], dtype=object)
        after[name] = after[name].astype(object)
        after.loc[0, name] = value
    explanations = explainer.explain(pd.concat([before, after], ignore_index=True), detail=True, warn=False)
    change = explain_change(explainer, before, after, movers=len(changes))[0]
    values = {name: (_value(before.loc[0, name]), _value(after.loc[0, name])) for name in changes}
    return WhatIf(explanations[0], explanations[1], values, change.movers)


def suggest_change(explainer: Explainer, explanation: Explanation) -> dict[str, object]:
    """A scenario worth trying: the strongest risk driver with a typical value, set to what renewing accounts have.

    "What if this account looked like a typical renewing account where it hurts most?" Uses the
    medians among renewing training rows the model carries (the numbers reason sentences quote).
    Empty when no risk driver has such a number.
    """
    for reason in explanation.risk_drivers or [r for r in explanation.features if r.points > 0]:
        typical = explainer.reference.get(reason.feature, {}).get("typical")
        feature = explainer.catalog.get(reason.feature)
        if typical is not None and reason.value != typical and feature is not None and not feature.is_context:
            return {reason.feature: typical}
    return {}


def _value(value: object) -> object:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _plain(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def _sentence(reasons: list, i: int) -> str:
    return f"{reasons[i].sentence} ({reasons[i].points:+.1f} pts)" if i < len(reasons) else ""


def _play(explanation: Explanation, i: int) -> str:
    return explanation.plays[i].title if i < len(explanation.plays) else ""
