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
    """Input: snapshot rows, as ``POST /score`` takes them: the account id and any of the features
    (a missing column or value is unknown; other columns are ignored). Output: the account id,
    churn risk and renewal probability, in row order."""

    def load_context(self, context) -> None:
        from training.bundle import ModelBundle

        self.bundle = ModelBundle.load(context.artifacts["bundle"])
        self.id_col = str(self.bundle.metadata.get("id_col") or "account_id")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        churn_risk = self.bundle.churn_probability(frame, warn=False)
        ids = frame[self.id_col].to_numpy() if self.id_col in frame else [None] * len(frame)
        return pd.DataFrame({self.id_col: ids, "churn_risk": churn_risk, "renewal_probability": 1.0 - churn_risk})


mlflow.models.set_model(RenewalRiskModel())
