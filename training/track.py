"""Tracking and the registry: every run logged to MLflow, every model version judged before it serves.

By default MLflow runs embedded on SQLite (``mlflow.db``) with artifacts in ``mlartifacts/``
in the working directory, so nothing needs a server; ``MLFLOW_TRACKING_URI`` points it at a
real one. Each new version of ``renewal-risk`` becomes the ``challenger``; it becomes the
``champion`` only if there is none yet, or it beats the champion on the *same* test window
(ROC AUC by default) without making calibration worse than a tolerance.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.models import ModelSignature
from mlflow.types import DataType
from mlflow.types.schema import ColSpec, Schema

from training import evaluate, plots
from training.bundle import ModelBundle
from training.loading import bundle_folder
from training.names import CHAMPION, MODEL_NAME, tracking_uri_in_force
from training.train import TrainResult

EXPERIMENT = "renewal-risk"
CHALLENGER = "challenger"
ECE_TOLERANCE = 0.005
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def configure(tracking_uri: str | None = None) -> str:
    """Point MLflow at ``tracking_uri``, ``$MLFLOW_TRACKING_URI``, or a SQLite file in the working directory."""
    uri = tracking_uri_in_force(tracking_uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # our own progress is shown
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _experiment_id(name: str) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if mlflow.get_tracking_uri().startswith("sqlite:"):
        location = (Path.cwd() / "mlartifacts").as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def _start_run(experiment: str):
    """A new run in ``experiment``, or the run ``mlflow run`` already opened for this process."""
    if os.environ.get("MLFLOW_RUN_ID"):
        return mlflow.start_run()
    return mlflow.start_run(experiment_id=_experiment_id(experiment))


def log_monitoring(
    experiment: str, run_name: str, tags: dict[str, str], metrics: dict[str, float | None], files: list[Path]
) -> str:
    """One run per ``churn monitor`` pass in ``experiment``; its id.

    By experiment id, never ``mlflow.set_experiment``: that also sets ``MLFLOW_EXPERIMENT_ID`` in
    this process's environment, which leaks into every later ``mlflow run`` it starts."""
    with mlflow.start_run(experiment_id=_experiment_id(experiment), run_name=run_name) as run:
        mlflow.set_tags(tags)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        for file in files:
            mlflow.log_artifact(str(file))
    return run.info.run_id


@dataclass(frozen=True)
class Tracked:
    run_id: str
    model_uri: str
    model_version: str
    promoted: bool
    decision: str


def _log_artifacts(result: TrainResult, folder: Path) -> None:
    """Plots, tables and JSON documents of one run."""
    test = result.predictions
    y, p = test["churned"].to_numpy(), test["churn_risk"].to_numpy()
    baselines = {
        "logistic regression": test["baseline_logreg"].to_numpy(),
        "rules health score": test["baseline_rules"].to_numpy(),
    }
    plots.save(plots.plot_roc_pr(y, p, baselines=baselines), folder / "roc_pr.png")
    uncalibrated = test["churn_risk_uncalibrated"].to_numpy()
    plots.save(plots.plot_calibration(y, p, p_uncalibrated=uncalibrated), folder / "calibration.png")
    plots.save(plots.plot_lift_gain(y, p), folder / "lift_gain.png")
    evaluate.lift_table(y, p, test["arr"].to_numpy() if "arr" in test else None).to_csv(
        folder / "lift_table.csv", index=False
    )
    test.to_parquet(folder / "test_predictions.parquet", index=False)
    evaluate.stratum_table(test).to_csv(folder / "metrics_by_stratum.csv", index=False)
    (folder / "split_windows.json").write_text(json.dumps(result.split.windows, indent=2))
    (folder / "feature_catalog.json").write_text(json.dumps(result.bundle.catalog.to_records(), indent=2))
    (folder / "fingerprint.json").write_text(json.dumps(result.bundle.metadata.get("fingerprint", {}), indent=2))


def shap_summary(result: TrainResult, frame: pd.DataFrame, max_rows: int = 5000) -> tuple[Figure, pd.DataFrame]:
    """The global SHAP beeswarm and importance table on a sample of the test window (exact TreeSHAP, pred_contrib).

    ``frame`` is the table the model was trained on; the table has one row per feature, most
    important first: mean |contribution| and its driver group."""
    rows = frame.iloc[result.split["test"]]
    rows = rows.sample(min(max_rows, len(rows)), random_state=0) if len(rows) > max_rows else rows
    contributions = result.bundle.contributions(rows, warn=False)[:, :-1]
    figure = plots.plot_shap_summary(contributions, result.bundle.matrix(rows, warn=False))
    importance = pd.DataFrame(
        {"feature": result.bundle.schema.names, "mean_abs_shap": np.abs(contributions).mean(axis=0)}
    ).sort_values("mean_abs_shap", ascending=False, kind="stable", ignore_index=True)
    importance["group"] = importance["feature"].map(lambda n: result.bundle.catalog[n].group)
    return figure, importance


def log_shap_summary(result: TrainResult, frame: pd.DataFrame, folder: Path, max_rows: int = 5000) -> None:
    """``shap_summary`` written into a run's artifact folder (shap_summary.png, shap_importance.csv)."""
    figure, importance = shap_summary(result, frame, max_rows)
    plots.save(figure, folder / "shap_summary.png")
    importance.to_csv(folder / "shap_importance.csv", index=False)


def id_column(bundle: ModelBundle) -> str:
    """The account id column the model was trained with (``account_id`` unless ``--id-col`` said otherwise)."""
    return str(bundle.metadata.get("id_col") or "account_id")


def model_signature(bundle: ModelBundle) -> ModelSignature:
    """The signature of the logged model, stated from the catalog rather than inferred from example rows.

    It says what ``POST /score`` accepts: the account id is required, every feature is optional
    (missing means unknown), numeric features are doubles and categorical ones strings. Inferring
    it from five rows would make a column required, or a type narrower, by accident.
    """
    kinds = {feature.name: feature.kind for feature in bundle.catalog}
    identity = id_column(bundle)
    inputs = [ColSpec(DataType.string, identity, required=True)]
    for name in bundle.schema.names:
        categorical = name in bundle.schema.categories or kinds.get(name) == "categorical"
        inputs.append(ColSpec(DataType.string if categorical else DataType.double, name, required=False))
    outputs = [
        ColSpec(DataType.string, identity),
        ColSpec(DataType.double, "churn_risk"),
        ColSpec(DataType.double, "renewal_probability"),
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def _input_example(bundle: ModelBundle, frame: pd.DataFrame) -> pd.DataFrame:
    """Three rows in the signature's types: two full snapshots and one with only a few features."""
    identity = id_column(bundle)
    rows = frame.head(2)
    ids = rows[identity].astype("str") if identity in rows else pd.Series([f"ACC-{k}" for k in range(len(rows))])
    example = pd.DataFrame({identity: ids.to_numpy().astype(object)})
    for name in bundle.schema.names:
        values = rows[name].reset_index(drop=True)
        if name in bundle.schema.categories:
            example[name] = values.astype("str").where(values.notna(), None).astype(object)
        else:
            example[name] = pd.to_numeric(values, errors="coerce").astype("float64")
    sparse = {identity: "ACC-sparse"}
    for name in [n for n in bundle.schema.names if n not in bundle.schema.categories][:2]:
        sparse[name] = example[name].iloc[0] if len(example) else None
    return pd.concat([example, pd.DataFrame([sparse])], ignore_index=True)


def log_run(
    result: TrainResult, frame: pd.DataFrame, params: dict[str, object], experiment: str = EXPERIMENT
) -> Tracked:
    """Log one training run and register its model; then judge it against the champion."""
    with _start_run(experiment) as run:
        mlflow.log_params({k: v for k, v in {**params, **result.params}.items() if v is not None})
        mlflow.log_params(
            {
                f"window_{w['window']}": f"{w.get('from', '')}..{w.get('to', '')} ({w['rows']} rows)"
                for w in result.split.windows
            }
        )
        fingerprint = result.bundle.metadata.get("fingerprint", {})
        mlflow.set_tags({f"data.{k}": str(v)[:5000] for k, v in fingerprint.items() if not isinstance(v, dict)})
        mlflow.log_metrics({k: float(v) for k, v in result.metrics.items() if np.isfinite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _log_artifacts(result, folder)
            log_shap_summary(result, frame, folder)
            mlflow.log_artifacts(str(folder))
            bundle_dir = result.bundle.save(folder / "bundle")
            example = _input_example(result.bundle, frame)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(Path(__file__).with_name("pyfunc_model.py")),
                artifacts={"bundle": str(bundle_dir)},
                code_paths=[str(_PACKAGE_ROOT / name) for name in ("features", "training", "explain")],
                signature=model_signature(result.bundle),
                input_example=example,
                pip_requirements=_requirements(),
                registered_model_name=MODEL_NAME,
            )
        version = str(info.registered_model_version)
        client = MlflowClient()
        client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
        promoted, decision, champion_metrics = judge(result, frame, version)
        mlflow.log_metrics({f"champion_{k}": v for k, v in champion_metrics.items()})
        mlflow.set_tags({"promotion.decision": decision, "promotion.promoted": str(promoted)})
        return Tracked(run.info.run_id, f"models:/{MODEL_NAME}/{version}", version, promoted, decision)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn", "pyarrow")]


def judge(
    result: TrainResult, frame: pd.DataFrame, version: str, metric: str = "test_roc_auc"
) -> tuple[bool, str, dict]:
    """Promote ``version`` to champion if there is none, or if it beats the champion on this test window."""
    client = MlflowClient()
    try:
        champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except mlflow.exceptions.MlflowException:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
        return True, "promoted: there was no champion yet", {}
    incumbent = load_bundle(f"models:/{MODEL_NAME}/{champion.version}")
    test = frame.iloc[result.split["test"]]
    y = result.predictions["churned"].to_numpy()
    theirs = evaluate.risk_metrics(y, incumbent.churn_probability(test, warn=False), prefix="test_")
    ours = result.metrics
    better = ours[metric] > theirs[metric]
    calibrated = ours["test_ece"] <= theirs["test_ece"] + ECE_TOLERANCE
    summary = (
        f"{metric} {ours[metric]:.4f} vs champion v{champion.version} {theirs[metric]:.4f}; "
        f"ECE {ours['test_ece']:.4f} vs {theirs['test_ece']:.4f} (tolerance {ECE_TOLERANCE})"
    )
    if better and calibrated:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
        return True, f"promoted: {summary}", theirs
    return False, f"kept champion v{champion.version}: {summary}", theirs


def promote(version: str) -> None:
    """Make ``version`` the champion by hand."""
    client = MlflowClient()
    client.get_model_version(MODEL_NAME, version)  # fails clearly if it does not exist
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)


def load_bundle(model_uri: str) -> ModelBundle:
    """A bundle from a registry URI (``models:/renewal-risk@champion``), a run's model, or a local folder."""
    if Path(model_uri).exists():
        return bundle_folder(Path(model_uri))
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    bundle = ModelBundle.load(local / "artifacts" / "bundle")
    version = _version_of(model_uri)
    if version:
        bundle.metadata["model_version"] = version
    return bundle


def _version_of(model_uri: str) -> str | None:
    if not model_uri.startswith("models:/"):
        return None
    name_and_ref = model_uri.removeprefix("models:/")
    client = MlflowClient()
    if "@" in name_and_ref:
        name, alias = name_and_ref.split("@", 1)
        return str(client.get_model_version_by_alias(name, alias).version)
    return name_and_ref.split("/", 1)[1] if "/" in name_and_ref else None


def log_backtest(report: pd.DataFrame, experiment: str = EXPERIMENT + "-backtest") -> str:
    """One run per backtest: each fold's metrics as ``fold<k>_<metric>``, plus their mean and spread."""
    with _start_run(experiment) as run:
        for _, row in report.iterrows():
            prefix = f"fold{row['fold']}" if str(row["fold"]).isdigit() else str(row["fold"])
            mlflow.log_metrics(
                {f"{prefix}_{k}": float(v) for k, v in row.items() if isinstance(v, float) and np.isfinite(v)}
            )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "backtest.csv"
            report.to_csv(path, index=False)
            mlflow.log_artifact(str(path))
        return run.info.run_id
