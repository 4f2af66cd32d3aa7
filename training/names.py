"""Names and defaults that the registry, the CLI and the service share, in a module light enough to import anywhere.

The CLI reads ``DEFAULT_MODEL_URI`` for its option defaults before any command runs, so this
module imports nothing (not LightGBM, not MLflow): ``churn --help`` stays instant.
"""

MODEL_NAME = "renewal-risk"  # the registered model every command and the service read by default
CHAMPION = "champion"  # the registry alias of the model in service
DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@{CHAMPION}"
DEFAULT_BANDS = (0.10, 0.30)  # churn risk below 10% is low, below 30% medium, else high


def tracking_uri_in_force(explicit: str | None = None) -> str:
    """The MLflow store commands use: ``explicit``, else ``$MLFLOW_TRACKING_URI``, else ./mlflow.db (SQLite)."""
    if explicit:
        return explicit
    import os
    from pathlib import Path

    import settings  # light: pydantic-settings only

    return settings.current().tracking_uri or f"sqlite:///{Path(os.getcwd()) / 'mlflow.db'}"
