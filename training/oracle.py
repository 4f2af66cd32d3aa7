"""The demo truth as a score: what a model with perfect knowledge of the churn process would say.

The demo generator records, for every renewal, the probability it really used
(``_truth/renewals.parquet``: ``true_renewal_probability``, ``renewed``, ``primary_driver``;
``docs/demo-data.md``). Scored on the same rows as the model, it is the ceiling the model's
AUC is measured against. A row's risk means different things by cadence
(``features.snapshots``), and so does the oracle's:

- **A contract of at least ``RISK_WINDOW_DAYS``** (annual, multi-year): 1 − that contract's
  true renewal probability.
- **A shorter plan** (monthly): the risk that the account cancels at a renewal in
  ``[as_of, as_of + RISK_WINDOW_DAYS)``, i.e. 1 − the product of the true renewal
  probabilities of the account's contracts ending in that window. Where the chain stopped
  early (a churn), the renewals that never happened are extrapolated with the last known
  probability up to the expected number in the window (``RISK_WINDOW_DAYS / term``,
  rounded), so a churned row's oracle is not built from fewer factors (less risk) than a
  renewed one's.

The oracle is not a fair opponent at every distance. The demo decides a renewal from the
state ``RISK_WINDOW_DAYS`` days before it (a monthly plan's from the day after it starts), so
for a row observed further ahead the oracle already knows causes that have not happened yet
on ``as_of``: an annual contract seen 300 days out, or the last monthly renewal of a window
(up to 60 days after ``as_of``). Gaps there measure foresight no model can have, not
what is left to learn.
"""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.snapshots import RISK_WINDOW_DAYS
from training.peers import peer_keys

TRUTH_COLUMNS = ("contract_id", "account_id", "renewal_date", "true_renewal_probability", "renewed", "primary_driver")
NO_CAUSE = ("none", "unobservable")  # primary drivers no explanation can be expected to name
# The truth's ``causes`` lists the observable causes in play and, only when it fired, the
# unobservable one: as an input it would be the label itself.
FIRED_ONLY_CAUSE = "unobservable"
KNOWN_CAUSES_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 7,
    "min_data_in_leaf": 50,
    "verbosity": -1,
    "deterministic": True,
    "force_row_wise": True,
}
KNOWN_CAUSES_ROUNDS = 300


def expected_renewals(term_days: np.ndarray | pd.Series, window: int = RISK_WINDOW_DAYS) -> np.ndarray:
    """How many renewals a plan of ``term_days`` has in ``window`` days: window / term, rounded (at least 1)."""
    term = np.asarray(term_days, dtype=float)
    return np.maximum(np.floor(window / np.where(term > 0, term, np.nan) + 0.5), 1).astype(float)


def window_renewals(rows: pd.DataFrame, truth: pd.DataFrame, window_end: pd.Series) -> pd.DataFrame:
    """The truth of each row's account's renewals in ``[as_of, window_end)``, up to and including the first churn.

    One row per (row, renewal), keyed ``_row`` (the position of the row in ``rows``), in renewal
    order, with the truth columns and ``churn`` (this renewal did not renew). A churn ends the
    chain: a later contract in the window (a win-back) is not part of the row's outcome.
    """
    keyed = pd.DataFrame(
        {
            "_row": np.arange(len(rows)),
            "account_id": rows["account_id"].to_numpy(),
            "_from": pd.to_datetime(rows["as_of"]).to_numpy(),
            "_to": pd.to_datetime(pd.Series(window_end)).to_numpy(),
        }
    )
    columns = [c for c in TRUTH_COLUMNS if c in truth.columns]
    facts = truth[columns].rename(columns={"contract_id": "truth_contract_id"})
    pairs = keyed.merge(facts, on="account_id")
    ends = pd.to_datetime(pairs["renewal_date"])
    pairs = pairs[(ends >= pairs["_from"]) & (ends < pairs["_to"])]  # the same window as features.snapshots
    pairs = pairs.sort_values(["_row", "renewal_date", "truth_contract_id"], kind="stable")
    churn = ~pairs["renewed"].astype(bool) if "renewed" in pairs else pd.Series(False, index=pairs.index)
    churns_before = churn.groupby(pairs["_row"]).cumsum() - churn
    pairs = pairs.assign(churn=churn.to_numpy())[(churns_before == 0).to_numpy()]
    return pairs.drop(columns=["_from", "_to"]).reset_index(drop=True)


def oracle_risk(
    rows: pd.DataFrame, truth: pd.DataFrame, contracts: pd.DataFrame, window: int = RISK_WINDOW_DAYS
) -> pd.DataFrame:
    """The oracle's churn risk for each row (``account_id``, ``contract_id``, ``as_of``), with what it is made of.

    ``contracts`` (contract_id, start_date, end_date) gives each row's term, so that short and
    long contracts are told apart exactly as the snapshot grid does (term < ``window`` days).
    Returns a frame on ``rows``' index with:

    - ``oracle_risk``: see the module docstring (NaN where the truth has nothing);
    - ``true_cause``: the primary driver of the renewal the row's label is about (the
      contract itself; for a short plan the renewal that churned, else the riskiest one);
    - ``cause_contract_id``: that renewal's contract, to count renewals rather than rows;
    - ``truth_churned``: the truth's own label for the row (1 when a renewal it covers churned);
    - ``renewals``: truth renewals the product used; ``expected``: the window's expected
      number (short plans); ``extrapolated``: factors added for a chain that stopped early.
    """
    terms = contracts.drop_duplicates("contract_id").set_index("contract_id")
    term = (terms["end_date"] - terms["start_date"]).dt.days.reindex(rows["contract_id"].to_numpy()).to_numpy()
    short = term < window
    by_contract = truth.drop_duplicates("contract_id").set_index("contract_id")
    own = by_contract.reindex(rows["contract_id"].to_numpy())
    n = len(rows)
    out = pd.DataFrame(
        {
            "oracle_risk": 1.0 - own["true_renewal_probability"].to_numpy(dtype=float),
            "true_cause": own["primary_driver"].to_numpy(dtype=object),
            "cause_contract_id": rows["contract_id"].to_numpy(dtype=object),
            "truth_churned": np.where(own["renewed"].isna(), np.nan, 1.0 - own["renewed"].astype(float)),
            "renewals": np.where(own["true_renewal_probability"].notna().to_numpy(), 1.0, 0.0),
            "expected": np.where(short, np.nan, 1.0),
            "extrapolated": np.zeros(n),
        }
    )
    if short.any():
        part = rows[short]
        end = pd.to_datetime(part["as_of"]) + pd.Timedelta(days=window)
        pairs = window_renewals(part, truth, end)
        positions = np.flatnonzero(short)
        expected = expected_renewals(term[short], window)
        grouped = pairs.groupby("_row", sort=True)
        log_p = np.log(np.clip(pairs["true_renewal_probability"].to_numpy(dtype=float), 1e-12, 1.0))
        total = pd.Series(log_p).groupby(pairs["_row"].to_numpy()).sum()
        count = grouped.size()
        last = grouped.tail(1).set_index("_row")
        churned = last["churn"].astype(bool)
        missing = np.where(churned, np.maximum(expected[last.index] - count.loc[last.index].to_numpy(), 0.0), 0.0)
        last_log_p = np.log(np.clip(last["true_renewal_probability"].to_numpy(dtype=float), 1e-12, 1.0))
        risk = 1.0 - np.exp(total.loc[last.index].to_numpy() + missing * last_log_p)
        # the cause: the renewal that churned (the chain's last), else the one most likely to churn
        riskiest = pairs.loc[pairs.groupby("_row")["true_renewal_probability"].idxmin()].set_index("_row")
        cause = np.where(churned, last["primary_driver"], riskiest.loc[last.index, "primary_driver"])
        cause_contract = np.where(churned, last["truth_contract_id"], riskiest.loc[last.index, "truth_contract_id"])
        target = positions[last.index.to_numpy()]
        columns = ["oracle_risk", "true_cause", "cause_contract_id", "truth_churned", "renewals", "extrapolated"]
        out.loc[positions, columns] = np.nan
        out.loc[positions, "expected"] = expected
        out.loc[target, "oracle_risk"] = risk
        out.loc[target, "true_cause"] = cause
        out.loc[target, "cause_contract_id"] = cause_contract
        out.loc[target, "truth_churned"] = churned.to_numpy(dtype=float)
        out.loc[target, "renewals"] = count.loc[last.index].to_numpy(dtype=float)
        out.loc[target, "extrapolated"] = missing
        out["renewals"] = out["renewals"].fillna(0.0)
        out["extrapolated"] = out["extrapolated"].fillna(0.0)
    out.index = rows.index
    return out


def causes_in_play(truth: pd.DataFrame, contract_ids) -> pd.Series:
    """Per contract id, the truth's observable causes in play, ``;``-separated ("" for none or no truth).

    The cause listed only when it fired (``FIRED_ONLY_CAUSE``) is left out: it is the outcome, not a cause in play.
    """
    listed = truth.drop_duplicates("contract_id").set_index("contract_id")["causes"].fillna("").astype(str)
    own = listed.reindex(np.asarray(contract_ids, dtype=object)).fillna("").reset_index(drop=True)
    fired_only = rf"(^|;){re.escape(FIRED_ONLY_CAUSE)}(?=;|$)"
    return own.str.replace(fired_only, "", regex=True).str.strip(";").astype(str)


def known_causes_risk(frame: pd.DataFrame, truth: pd.DataFrame, fit: np.ndarray, score: np.ndarray, seed: int = 7):
    """The risk a learner that knew each row's active causes gives the ``score`` rows of ``frame``.

    Why: the oracle knows each renewal's exact probability, which no learner gets from 0/1
    labels. This ceiling learns from the same labels (the ``fit`` rows' ``churned``) as the
    model, but sees the truth's causes in play for the row's own contract (for a monthly plan,
    the renewal in force on as_of, the first of its window) beside the row's cadence, segment
    and horizon bucket. Oracle minus this is what the labels cannot teach; this minus the model
    is what the features do not show of the causes.
    """
    bits = causes_in_play(truth, frame["contract_id"]).str.get_dummies(sep=";")
    X = bits.drop(columns=[""], errors="ignore").astype(float)  # "" is "no cause", not a cause
    keys = peer_keys(frame).reset_index(drop=True)
    for column in ("cadence", "segment", "horizon"):
        X[column] = keys[column].astype("category")
    y = frame["churned"].to_numpy(dtype=float)
    data = lgb.Dataset(X.iloc[fit], y[fit])
    booster = lgb.train({**KNOWN_CAUSES_PARAMS, "seed": seed}, data, num_boost_round=KNOWN_CAUSES_ROUNDS)
    return booster.predict(X.iloc[score])
