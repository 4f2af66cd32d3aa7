"""``churn monitor``: is the model still right? Score today's book, compare with training, read the closed renewals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from churn.app import (
    AsOfOption,
    DataOption,
    ModelUriOption,
    TrackingOption,
    UsageError,
    app,
    console,
    load_model,
    reports_user_errors,
    require_features,
    scoring_snapshots,
)
from churn.progress import Steps
from training.names import DEFAULT_MODEL_URI

EXIT_VERDICT = 3  # --fail-on reached: distinct from 2 (bad input) and 1 (a bug)
_COLOURS = {"ok": "green", "watch": "yellow", "retrain": "red"}


def _check_paths(data: Path, store: Path | None, predictions: Path | None, out: Path, html: Path | None) -> None:
    """Every path problem in one sentence, before any work."""
    if not data.is_dir():
        raise UsageError(f"--data {data}: no such directory. Expected the directory of input tables.")
    if store is not None and predictions is not None:
        raise UsageError("give at most one prediction log: --store PATH (SQLite) or --predictions FILE (Parquet).")
    if store is not None and not store.is_file():
        raise UsageError(f"--store {store}: no such snapshot store. Write one with `churn score --store {store}`.")
    if predictions is not None and not predictions.is_file():
        raise UsageError(
            f"--predictions {predictions}: no such file. `churn score --out X.csv` writes X.predictions.parquet."
        )
    if out.suffix.lower() != ".json":
        raise UsageError(f"--out {out}: expected a path ending in .json.")
    if html is not None and html.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--html {html}: expected a path ending in .html.")


def _prediction_log(store: Path | None, predictions: Path | None, steps):
    """The prediction log from the store or the Parquet file, or an empty one (realized results need it)."""
    import pandas as pd

    from monitor.predictions import LOG_COLUMNS, read_log
    from serving.store import StoreError, read_predictions

    if store is None and predictions is None:
        steps.note("no prediction log given (--store or --predictions): realized performance is not measured.")
        return pd.DataFrame(columns=LOG_COLUMNS)
    source = store or predictions
    with steps.step(f"Reading the prediction log {source}"):
        try:
            return read_predictions(store) if store is not None else read_log(predictions)
        except StoreError as error:
            raise UsageError(str(error)) from None
        except (OSError, ValueError) as error:
            raise UsageError(f"--predictions {predictions}: cannot read it as a prediction log ({error}).") from None


def _write_atomically(path: Path, text: str) -> None:
    from features.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _log_to_mlflow(report: dict, experiment: str, tracking_uri: str | None, out: Path, html: Path | None) -> str:
    """One MLflow run per monitoring pass, tagged with the model version: the verdict and headline figures."""
    from training import track

    track.configure(tracking_uri)
    metrics = {"verdict_level": report["verdict_level"], "feature_alarms": sum(d["alarm"] for d in report["drift"])}
    for d in sorted(report["drift"], key=lambda d: -(d["value"] or 0))[:10]:
        metrics[f"psi__{d['feature']}"] = d["value"]
    metrics["score_psi"] = report["score_drift"]["value"]
    for section in ("estimated", "realized"):
        for key, value in report[section].items():
            if isinstance(value, int | float) and not isinstance(value, bool) and value is not None:
                metrics[f"{section}_{key}"] = value
    tags = {"model_version": report["model_version"], "verdict": report["verdict"], "as_of": report["as_of"]}
    files = [out] if html is None else [out, html]
    return track.log_monitoring(experiment, f"monitor {report['as_of']}", tags, metrics, files)


def _drift_table(drift: list[dict], top: int = 8) -> RichTable:
    table = RichTable(title="Input drift (largest PSI first; clocks never alarm)", title_justify="left")
    for column in ("feature", "PSI", "threshold", "missing now", "alarm", "why"):
        table.add_column(column, justify="left" if column in ("feature", "why") else "right", no_wrap=column != "why")
    shown = sorted(drift, key=lambda d: (not d["alarm"], -(d["value"] or 0)))[:top]
    for d in shown:
        table.add_row(
            escape(d["feature"]),
            f"{d['value']:.3f}",
            f"{d['threshold']:.3f}",
            f"{d['missing_now']:.0%}",
            "[red]yes[/]" if d["alarm"] else ("clock" if d["clock"] else "no"),
            escape("; ".join(d["why"])) if d["alarm"] else "",
        )
    return table


def _summary(report: dict) -> str:
    est, real = report["estimated"], report["realized"]
    parts = [f"{est.get('open_renewals', 0):,} open renewals, expected churn {est.get('expected_churn', 0):.1f}"]
    if est.get("expected_auc") is not None:
        parts.append(f"expected AUC {est['expected_auc']:.3f}")
    if real.get("n"):
        auc = f", AUC {real['auc']:.3f}" if real.get("auc") is not None else ""
        parts.append(
            f"{real['n']:,} closed since scored: churn {real['churn_rate']:.1%} "
            f"vs {real['mean_risk']:.1%} predicted{auc}"
        )
    return "; ".join(parts) + "."


@app.command("monitor")
@reports_user_errors
def monitor_command(
    data: DataOption,
    as_of: AsOfOption = None,
    store: Annotated[
        Path | None, typer.Option(help="Snapshot store whose prediction log `churn score --store` wrote.")
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(help="A Parquet prediction log (`churn score --out X.csv` writes X.predictions.parquet)."),
    ] = None,
    model_uri: ModelUriOption = DEFAULT_MODEL_URI,
    out: Annotated[Path, typer.Option(help="Write the report as JSON here.")] = Path("monitor.json"),
    html: Annotated[Path | None, typer.Option(help="Also write the report as a self-contained HTML page.")] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(help=f"Exit with code {EXIT_VERDICT} when the verdict reaches this level: watch or retrain."),
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment of the monitoring runs.")] = "monitoring",
    tracking_uri: TrackingOption = None,
) -> None:
    """Compare today's book with the model's training reference: input and score drift, estimated and realized
    performance, and a verdict (ok, watch or retrain) with its reasons."""
    import pandas as pd

    from features.outcomes import DEFAULT_GRACE_DAYS, renewal_outcomes
    from monitor.report import build_report, level, to_json
    from training.score import score

    if fail_on is not None and fail_on not in ("watch", "retrain"):
        raise UsageError(f"--fail-on {fail_on!r}: expected watch or retrain.")
    _check_paths(data, store, predictions, out, html)
    with Steps(console) as steps:
        frame, tables, as_of_date = scoring_snapshots(data, None, as_of, steps)
        bundle = load_model(model_uri, tracking_uri, steps)
        require_features(bundle, frame, False, steps)
        log = _prediction_log(store, predictions, steps)
        with steps.step(f"Comparing {len(frame):,} accounts with the training reference"):
            scores = score(bundle, frame)
            outcomes = renewal_outcomes(tables.contracts, tables.data_end, DEFAULT_GRACE_DAYS)
            known_before = tables.data_end - pd.Timedelta(days=DEFAULT_GRACE_DAYS)
            command = f"churn train --data {data}"
            try:
                report = build_report(bundle, scores, frame, log, outcomes, as_of_date, command, known_before)
            except ValueError as error:
                raise UsageError(str(error)) from None
        with steps.step(f"Writing {out}" + (f" and {html}" if html else "")):
            _write_atomically(out, to_json(report))
            if html is not None:
                from monitor.page import render

                _write_atomically(html, render(report))
        with steps.step(f"Logging the monitoring run to MLflow (experiment {experiment})"):
            _log_to_mlflow(report, experiment, tracking_uri, out, html)
    console.print(_drift_table(report["drift"]))
    colour = _COLOURS[report["verdict"]]
    console.print(
        f"Verdict: [bold {colour}]{report['verdict']}[/] (model {escape(report['model_version'])}, {report['as_of']})"
    )
    for reason in report["reasons"]:
        console.print(f"  - {escape(reason)}", soft_wrap=True)
    if report.get("action"):
        console.print(escape(report["action"]))
    console.print(escape(_summary(report)), soft_wrap=True)
    if fail_on is not None and level(report["verdict"]) >= level(fail_on):
        raise typer.Exit(EXIT_VERDICT)
