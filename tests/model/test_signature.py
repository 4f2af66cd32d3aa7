"""The logged MLflow model's signature says what POST /score accepts (issue #11, point 7).

``account_id`` is required; every feature is optional, typed from the catalog (numeric: double,
categorical: string), never inferred from a handful of example rows. So the pyfunc scores a row
with only a few features, or an empty categorical column, as the API does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.types import DataType

from tests.conftest import synthetic_snapshots, synthetic_table
from training import track
from training.train import TrainConfig, train


@pytest.fixture
def logged(store):
    table = synthetic_table(1500, seed=11, signal=1.0)
    result = train(table, TrainConfig(seed=1))
    return result, track.log_run(result, table.frame, {"seed": 1})


def _sparse_rows(bundle) -> pd.DataFrame:
    numeric = [n for n in bundle.schema.names if n not in bundle.schema.categories]
    categorical = list(bundle.schema.categories)
    assert numeric and categorical, "the synthetic model has both kinds of feature"
    return pd.DataFrame(
        {
            "account_id": ["ACC-1", "ACC-2"],
            numeric[0]: [0.12, None],
            numeric[-1]: [4.0, 2.0],
            categorical[0]: [None, None],  # an empty categorical column
        }
    )


def test_signature_requires_the_id_and_types_every_feature_from_the_catalog(logged):
    result, tracked = logged
    bundle = result.bundle
    signature = mlflow.models.get_model_info(tracked.model_uri).signature
    specs = {spec.name: spec for spec in signature.inputs.inputs}
    assert list(specs) == ["account_id", *bundle.schema.names]
    assert specs["account_id"].required and specs["account_id"].type == DataType.string
    kinds = {f.name: f.kind for f in bundle.catalog}
    for name in bundle.schema.names:
        assert not specs[name].required, name
        expected = DataType.string if kinds[name] == "categorical" else DataType.double
        assert specs[name].type == expected, name
    assert signature.outputs.input_names() == ["account_id", "churn_risk", "renewal_probability"]


def test_pyfunc_scores_a_row_with_only_a_few_features_and_an_empty_category(logged):
    result, tracked = logged
    rows = _sparse_rows(result.bundle)
    out = mlflow.pyfunc.load_model(tracked.model_uri).predict(rows)
    assert out["account_id"].tolist() == ["ACC-1", "ACC-2"]
    np.testing.assert_allclose(out["churn_risk"], result.bundle.churn_probability(rows, warn=False), rtol=1e-12)
    np.testing.assert_allclose(out["renewal_probability"], 1.0 - out["churn_risk"])
    with pytest.raises(mlflow.exceptions.MlflowException, match="account_id"):
        mlflow.pyfunc.load_model(tracked.model_uri).predict(rows.drop(columns="account_id"))


def test_pyfunc_still_scores_full_snapshot_frames(logged):
    result, tracked = logged
    frame = synthetic_snapshots(20, seed=4)
    out = mlflow.pyfunc.load_model(tracked.model_uri).predict(frame)
    np.testing.assert_allclose(out["churn_risk"], result.bundle.churn_probability(frame), rtol=1e-9)


def test_mlflow_models_predict_takes_the_api_payload_offline(logged, tmp_path):
    result, tracked = logged
    bundle = result.bundle
    rows = _sparse_rows(bundle)
    numeric = [n for n in bundle.schema.names if n not in bundle.schema.categories]
    records = [
        {"account_id": "ACC-1", numeric[0]: 0.12, numeric[-1]: 4, next(iter(bundle.schema.categories)): None},
        {"account_id": "ACC-2", numeric[-1]: 2},  # integers, as JSON clients send them; absent features
    ]
    payload = tmp_path / "input.json"
    payload.write_text(json.dumps({"dataframe_records": records}))
    output = tmp_path / "output.json"
    command = [sys.executable, "-m", "mlflow", "models", "predict", "-m", tracked.model_uri]
    command += ["-i", str(payload), "-t", "json", "-o", str(output), "--env-manager", "local"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri()}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    predictions = pd.DataFrame(json.loads(output.read_text())["predictions"])
    assert predictions["account_id"].tolist() == ["ACC-1", "ACC-2"]
    expected = bundle.churn_probability(rows.assign(**{numeric[0]: [0.12, np.nan]}), warn=False)
    np.testing.assert_allclose(predictions["churn_risk"], expected, rtol=1e-9)
