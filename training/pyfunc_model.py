"""The MLflow pyfunc wrapper, logged as *model code* rather than a pickled object.

MLflow stores this file with the model and runs it at load time; the model itself is read
from the bundle artifact (LightGBM text + JSON) by ``ModelBundle.load``. So
``mlflow.pyfunc.load_model`` unpickles nothing, and the wrapper stays a few lines that
anyone can audit.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class RenewalRiskModel(PythonModel):
    """Input: snapshot rows (feature columns; others ignored). Output: churn risk and renewal probability."""

    def load_context(self, context) -> None:
        from training.bundle import ModelBundle

        self.bundle = ModelBundle.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        churn_risk = self.bundle.churn_probability(pd.DataFrame(model_input), warn=False)
        return pd.DataFrame({"churn_risk": churn_risk, "renewal_probability": 1.0 - churn_risk})


mlflow.models.set_model(RenewalRiskModel())
