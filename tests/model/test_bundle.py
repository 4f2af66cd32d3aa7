"""The model bundle: data, not pickles; same predictions after a round trip; exact explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

from tests.conftest import synthetic_table
from training.bundle import ModelBundle
from training.train import TrainConfig, train


@pytest.fixture(scope="module")
def result():
    return train(synthetic_table(6000, seed=2), TrainConfig(seed=3))


def test_bundle_round_trips_without_pickles(result, tmp_path):
    folder = result.bundle.save(tmp_path / "bundle")
    assert sorted(p.name for p in folder.iterdir()) == ["bundle.json", "model.txt"]
    for path in folder.iterdir():
        assert not path.read_bytes().startswith(b"\x80"), f"{path.name} looks like a pickle"
    loaded = ModelBundle.load(folder)
    frame = synthetic_table(200, seed=9).frame
    np.testing.assert_allclose(loaded.churn_probability(frame), result.bundle.churn_probability(frame))


def test_missing_feature_is_treated_as_missing_with_one_warning(result):
    frame = synthetic_table(50, seed=5).frame.drop(columns=["tickets_high_30d"])
    with pytest.warns(UserWarning, match="tickets_high_30d") as caught:
        p = result.bundle.churn_probability(frame)
    assert len(caught) == 1
    assert np.isfinite(p).all()


def test_unknown_category_and_extra_columns_are_harmless(result):
    frame = synthetic_table(50, seed=6).frame.assign(segment="galactic", note="ignore me", churned=1)
    assert np.isfinite(result.bundle.churn_probability(frame)).all()


def test_contributions_sum_to_the_raw_score_and_equal_tree_shap(result):
    frame = synthetic_table(300, seed=7).frame
    contributions = result.bundle.contributions(frame)
    np.testing.assert_allclose(contributions.sum(axis=1), result.bundle.raw_score(frame), rtol=1e-6, atol=1e-6)
    X = result.bundle.matrix(frame)
    numeric = [c for c in X.columns if c not in result.bundle.schema.categories]
    explainer = shap.TreeExplainer(result.bundle.booster)
    values = explainer.shap_values(X)
    values = values[1] if isinstance(values, list) else values
    np.testing.assert_allclose(contributions[:, :-1], values, rtol=1e-5, atol=1e-6)
    assert len(numeric) == 4


def test_calibrated_model_is_calibrated_and_beats_chance(result):
    assert result.metrics["test_roc_auc"] > 0.7
    assert result.metrics["test_ece"] < 0.05
    assert "baseline_logreg_test_roc_auc" in result.metrics and "baseline_rules_test_roc_auc" in result.metrics


def test_same_data_and_seed_same_model(result):
    again = train(synthetic_table(6000, seed=2), TrainConfig(seed=3))
    frame = synthetic_table(100, seed=8).frame
    np.testing.assert_array_equal(again.bundle.churn_probability(frame), result.bundle.churn_probability(frame))


def test_test_predictions_hold_what_error_analysis_needs(result):
    columns = set(result.predictions.columns)
    assert {"contract_id", "account_id", "as_of", "renewal_date", "churned", "renewal_probability"} <= columns
    assert isinstance(result.predictions, pd.DataFrame) and len(result.predictions) == len(result.split["test"])
