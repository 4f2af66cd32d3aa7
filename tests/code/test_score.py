"""Scores say what they are about: the id the table named, cadence, horizon, the trained range, no fake ARR."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from training.bundle import FeatureSchema
from training.score import SCORE_COLUMNS, id_column, score, unknown_category_note


def model(
    risks: list[float],
    metadata: dict | None = None,
    features: tuple[str, ...] = ("usage",),
    categories: dict[str, list[str]] | None = None,
):
    """A stand-in bundle: fixed risks, the metadata and the (real) feature schema the scorer reads."""
    metadata = {"bands": [0.1, 0.3], "label": "churned", "time_col": "renewal_date"} | (metadata or {})
    return SimpleNamespace(
        churn_probability=lambda frame, warn=True: np.asarray(risks[: len(frame)], dtype=float),
        metadata=metadata,
        bands=tuple(metadata["bands"]),
        version_label="7",
        schema=FeatureSchema(list(features), categories or {}),
    )


def book() -> pd.DataFrame:
    """A monthly plan, an annual contract 200 days out and a multi-year one 400 days out."""
    return pd.DataFrame(
        {
            "account_id": ["M", "A", "X"],
            "as_of": pd.Timestamp("2026-11-01"),
            "renewal_date": pd.to_datetime(["2026-11-20", "2027-05-20", "2027-12-06"]),
            "horizon_days": [90, 200, 400],
            "days_to_renewal": [19.0, 200.0, 400.0],
            "contract_term_days": [30.0, 365.0, 1095.0],
            "arr": [1_000.0, 10_000.0, 5_000.0],
            "usage": [0.1, 0.2, 0.3],
            "owner": ["ann", "bob", "cy"],
        }
    )


def test_scores_carry_cadence_horizon_and_the_trained_range_flag():
    scores = score(model([0.5, 0.2, 0.1]), book()).set_index("account_id")
    assert scores.loc[["M", "A", "X"], "cadence"].tolist() == ["monthly", "annual", "multi-year"]
    assert scores.loc[["M", "A", "X"], "horizon_bucket"].tolist() == ["1-90", "181-365", "over 365"]
    assert scores.loc[["M", "A", "X"], "beyond_trained_range"].tolist() == [False, False, True]
    assert scores.loc["A", "arr_at_risk"] == pytest.approx(2_000.0)
    assert list(scores.reset_index().columns) == SCORE_COLUMNS


def test_a_tables_own_id_is_kept_under_its_name_and_as_account_id_with_columns_asked_for():
    frame = book().rename(columns={"account_id": "customerid"})
    scores = score(model([0.5, 0.2, 0.1]), frame, id_col="customerid", keep=["owner"])
    assert list(scores.columns[:2]) == ["customerid", "account_id"]
    assert (scores["customerid"] == scores["account_id"]).all()
    assert list(scores.columns[-1:]) == ["owner"]
    assert dict(zip(scores["customerid"], scores["owner"], strict=True)) == {"M": "ann", "A": "bob", "X": "cy"}


def test_values_unseen_in_training_are_named_per_account_and_summed_up_once():
    frame = book().assign(segment=["smb", "Enterprise ", None], plan=["pro", "legacy", "gold"])
    bundle = model([0.5, 0.2, 0.1], features=("usage", "segment", "plan"), categories=_CATEGORIES)
    scores = score(bundle, frame).set_index("account_id")
    assert scores.loc[["M", "A", "X"], "unknown_categories"].tolist() == [
        "",
        'segment "Enterprise "; plan "legacy"',
        'plan "gold"',
    ]
    note = unknown_category_note(bundle, frame)
    assert note.startswith("2 accounts have values the model never saw in training")
    assert 'plan "gold" (1)' in note and 'segment "Enterprise " (1)' in note
    assert unknown_category_note(bundle, book().assign(segment="smb", plan="pro")) is None


_CATEGORIES = {"segment": ["enterprise", "smb"], "plan": ["basic", "pro"]}


@pytest.mark.parametrize(("keep", "message"), [(["nope"], "nope not in the table"), (["arr"], "already in the scores")])
def test_keep_refuses_what_it_cannot_keep(keep, message):
    with pytest.raises(ValueError, match=message):
        score(model([0.5, 0.2, 0.1]), book(), keep=keep)


def test_without_arr_the_riskiest_come_first_and_arr_at_risk_is_missing_not_zero():
    scores = score(model([0.2, 0.5, 0.1]), book().drop(columns="arr"))
    assert scores["account_id"].tolist() == ["A", "M", "X"]
    assert scores["arr_at_risk"].isna().all() and scores["arr"].isna().all()


def test_without_days_the_scores_say_unknown_and_flag_nothing():
    frame = book().drop(columns=["days_to_renewal", "horizon_days", "renewal_date", "contract_term_days"])
    scores = score(model([0.5, 0.2, 0.1]), frame)
    assert set(scores["horizon_bucket"]) == {"unknown"} and set(scores["cadence"]) == {"unknown"}
    assert not scores["beyond_trained_range"].any()


def test_the_id_column_comes_from_the_option_the_model_account_id_or_the_one_candidate():
    frame = book().rename(columns={"account_id": "customerid"}).drop(columns="owner")
    assert id_column(model([]), frame, "customerid") == ("customerid", None)
    assert id_column(model([], {"id_col": "customerid"}), frame) == ("customerid", None)
    assert id_column(model([]), book().drop(columns="owner")) == ("account_id", None)
    name, note = id_column(model([]), frame.assign(churned=[0, 1, 0]))  # label and dates are never the id
    assert name == "customerid" and "does not record its id column" in note
    with pytest.raises(ValueError, match="candidates: customerid, owner"):
        id_column(model([]), frame.assign(owner=["ann", "bob", "cy"]))
    with pytest.raises(ValueError, match="not in the table"):
        id_column(model([]), frame, "custid")


def test_the_model_matrix_reads_any_table_the_same_way():
    """Numbers as text, booleans, nullable integers, absent columns and unseen categories, in model column order."""
    schema = FeatureSchema(["seats", "segment", "arr", "auto_renew", "missing", "plan"], _CATEGORIES)
    frame = pd.DataFrame(
        {
            "plan": ["pro", "legacy", None],
            "arr": ["12.5", "n/a", None],
            "seats": pd.array([3, None, 7], dtype="Int64"),
            "segment": ["smb", "Enterprise ", "enterprise"],
            "auto_renew": [True, False, True],
            "extra": [1, 2, 3],
        }
    )
    with pytest.warns(UserWarning, match="missing"):
        matrix = schema.matrix(frame)
    assert list(matrix.columns) == schema.names
    np.testing.assert_array_equal(matrix["seats"], [3.0, np.nan, 7.0])
    np.testing.assert_array_equal(matrix["arr"], [12.5, np.nan, np.nan])
    np.testing.assert_array_equal(matrix["auto_renew"], [1.0, 0.0, 1.0])
    assert matrix["missing"].isna().all() and all(matrix[c].dtype == "float64" for c in ("seats", "arr", "missing"))
    assert matrix["segment"].tolist()[::2] == ["smb", "enterprise"] and pd.isna(matrix["segment"][1])
    assert list(matrix["segment"].cat.categories) == ["enterprise", "smb"]
    assert matrix["plan"][0] == "pro" and matrix["plan"][1:].isna().all()
    assert schema.unseen(frame).to_dict("records") == [
        {"row": 1, "field": "segment", "value": "Enterprise "},
        {"row": 1, "field": "plan", "value": "legacy"},
    ]
