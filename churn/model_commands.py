"""Commands about models: train, backtest, promote, score and forecast."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from churn.app import (
    DEFAULT_HORIZON_DAYS,
    AllowMissingOption,
    AsOfOption,
    DataOption,
    DataOrSnapshotsOption,
    ModelUriOption,
    SnapshotsOption,
    StoreMonthsOption,
    StoreOption,
    TrackingOption,
    UsageError,
    app,
    check_output,
    check_store_option,
    checked_as_of,
    console,
    load_model,
    parse_horizons,
    reports_user_errors,
    require_features,
    scoring_snapshots,
    write_store,
)
from churn.progress import Steps
from explain.formats import money
from features.snapshots import DEFAULT_HORIZONS, DEFAULT_JITTER_DAYS
from training.names import DEFAULT_MODEL_URI

LabelOption = Annotated[str, typer.Option(help="Churn flag column of a --snapshots table (1/0, true/false, yes/no).")]
IdColOption = Annotated[str, typer.Option(help="Account id column of a --snapshots table.")]
TimeColOption = Annotated[
    str | None, typer.Option(help="Date column of a --snapshots table for the time split (ours: renewal_date).")
]
HorizonOption = Annotated[
    str,
    typer.Option(
        help="With --data: days before renewal to observe each contract of 90 days or more "
        f"(each moved by up to {DEFAULT_JITTER_DAYS} days per contract), e.g. 30,90,180."
    ),
]
GraceOption = Annotated[int, typer.Option(min=0, help="With --data: grace days for a renewal to count.")]
SeedOption = Annotated[int, typer.Option(help="Random seed: same data and seed, same model.")]


def _parse_bands(value: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in value.split(","))
    except ValueError:
        low, high = -1.0, -1.0
    if not 0 < low < high < 1:
        raise UsageError(f"--bands {value!r}: expected two churn-risk thresholds like 0.1,0.3 (0 < low < high < 1).")
    return low, high


def _default_time_col(snapshots: Path | None, time_col: str | None) -> str | None:
    """Our own snapshot files carry renewal_date; use it unless told otherwise."""
    if time_col or snapshots is None:
        return time_col
    from features.io import read_catalog

    if snapshots.exists() and snapshots.suffix == ".parquet" and read_catalog(snapshots) is not None:
        return "renewal_date"
    return None


def _windows_table(split) -> RichTable:
    table = RichTable(title="Time-based split" if split.time_based else "Random split", title_justify="left")
    for column in ("window", "from", "to", "rows", "churned", "churn rate"):
        table.add_column(column)
    for w in split.windows:
        rate = w.get("churn_rate")
        rate_text = f"{rate:.1%}" if rate is not None else "-"
        table.add_row(
            *(escape(str(w.get(k, "-"))) for k in ("window", "from", "to")),
            f"{w['rows']:,}",
            f"{w['churned']:,}",
            rate_text,
        )
    return table


def _calibration_line(method: str, metrics: dict[str, float]) -> str:
    """Which calibration the held-out halves chose, what each candidate scored there, and the test ECE before/after."""
    from training.calibrate import METHOD_NAMES

    held_out = ", ".join(
        f"{name} {metrics[f'calib_held_out_log_loss_{key}']:.4f}"
        for key, name in METHOD_NAMES.items()
        if f"calib_held_out_log_loss_{key}" in metrics
    )
    chosen = f"Calibration: {METHOD_NAMES.get(method, method)}"
    if held_out:
        chosen += f" (held-out log loss: {held_out})"
    return f"{chosen}; test ECE {metrics['test_ece_uncalibrated']:.4f} uncalibrated → {metrics['test_ece']:.4f}."


def _strata_table(predictions) -> RichTable:
    """The test window within each cadence and horizon bucket: a pooled number is only as good as its parts."""
    from training.evaluate import stratum_table

    table = RichTable(
        title="Test window by cadence and horizon",
        title_justify="left",
        caption="ece floor: the ECE a perfectly calibrated model would show on these rows (sampling noise)",
        caption_justify="left",
    )
    columns = ("stratum", "rows", "churned", "churn rate", "mean risk", "roc auc", "ece", "ece floor", "logreg auc")
    for column in columns:
        table.add_column(column, justify="left" if column == "stratum" else "right", no_wrap=column == "stratum")
    strata = stratum_table(predictions, ("cadence", "horizon"), crossed=False)
    for row in strata.itertuples(index=False):

        def number(value: float) -> str:
            return "-" if value != value else f"{value:.3f}"

        table.add_row(
            escape(str(row.stratum)),
            f"{row.n:,}",
            f"{row.churned:,}",
            f"{row.churn_rate:.1%}",
            f"{row.mean_risk:.1%}",
            number(row.roc_auc),
            number(row.ece),
            number(row.ece_floor),
            number(row.logreg_roc_auc),
        )
    return table


def _metrics_table(metrics: dict[str, float]) -> RichTable:
    table = RichTable(title="Test window: model vs baselines", title_justify="left")
    for column in ("metric", "model", "logistic regression", "rules health score"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for key in ("roc_auc", "pr_auc", "brier", "ece", "lift_at_10", "arr_capture_at_20"):
        row = [
            metrics.get(f"test_{key}"),
            metrics.get(f"baseline_logreg_test_{key}"),
            metrics.get(f"baseline_rules_test_{key}"),
        ]
        table.add_row(key.replace("_", " "), *("-" if v is None else f"{v:.3f}" for v in row))
    return table


@app.command("train")
@reports_user_errors
def train_command(
    data: DataOrSnapshotsOption = None,
    snapshots: SnapshotsOption = None,
    label: LabelOption = "churned",
    id_col: IdColOption = "account_id",
    time_col: TimeColOption = None,
    horizon_days: HorizonOption = DEFAULT_HORIZON_DAYS,
    grace_days: GraceOption = 30,
    tune: Annotated[int, typer.Option(min=0, help="Optuna trials (0 = sound defaults).")] = 0,
    seed: SeedOption = 7,
    calibration: Annotated[str, typer.Option(help="auto, sigmoid or isotonic.")] = "auto",
    bands: Annotated[str, typer.Option(help="Churn-risk thresholds for the low/medium/high bands.")] = "0.1,0.3",
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "renewal-risk",
    tracking_uri: TrackingOption = None,
) -> None:
    """Train, calibrate and evaluate a renewal-risk model; log it to MLflow and register it."""
    from training.train import TrainConfig
    from workflow.training import TrainingSource, run_training

    if calibration not in ("auto", "sigmoid", "isotonic"):
        raise UsageError(f"--calibration {calibration!r}: expected auto, sigmoid or isotonic.")
    config = TrainConfig(seed=seed, tune_trials=tune, calibration=calibration, bands=_parse_bands(bands))
    horizons = parse_horizons(horizon_days) if data is not None else DEFAULT_HORIZONS
    try:
        source = TrainingSource(
            data, snapshots, label, id_col, _default_time_col(snapshots, time_col), horizons, grace_days
        )
    except ValueError as err:
        raise UsageError(str(err)) from None
    with Steps(console) as steps:
        try:
            run = run_training(source, config, experiment=experiment, tracking_uri=tracking_uri, progress=steps)
        except ValueError as err:
            raise UsageError(str(err)) from None
    result, tracked = run.result, run.tracked
    console.print(_windows_table(result.split))
    console.print(_metrics_table(result.metrics))
    if {"cadence", "horizon"} <= set(result.predictions.columns):
        console.print(_strata_table(result.predictions))
    console.print(_calibration_line(result.bundle.calibrator.method, result.metrics))
    if "test_explanation_hit_rate" in result.metrics:
        m = result.metrics
        console.print(
            f"Explanations: the known cause is among the top 3 reasons for "
            f"{m['test_explanation_hit_rate_reasons']:.0%} of {m['test_explanation_hit_rate_rows']:.0f} churned test "
            f"snapshots; a constant guess of the commonest causes gets "
            f"{m['test_explanation_hit_rate_constant_guess']:.0%}, "
            f"the globally most important groups {m['test_explanation_hit_rate_importance_guess']:.0%}."
        )
    console.print(escape(f"Model v{tracked.model_version} ({tracked.model_uri}): {tracked.decision}"))
    print(
        json.dumps(
            {
                "run_id": tracked.run_id,
                "model_uri": tracked.model_uri,
                "model_version": tracked.model_version,
                "promoted": tracked.promoted,
                "metrics": {k: round(v, 6) for k, v in result.test_metrics.items()},
            }
        )
    )


@app.command("backtest")
@reports_user_errors
def backtest_command(
    data: DataOrSnapshotsOption = None,
    snapshots: SnapshotsOption = None,
    folds: Annotated[
        int, typer.Option(min=3, help="Rolling cutoffs: each fold trains on everything before its test window.")
    ] = 3,
    label: LabelOption = "churned",
    id_col: IdColOption = "account_id",
    time_col: TimeColOption = None,
    horizon_days: HorizonOption = DEFAULT_HORIZON_DAYS,
    grace_days: GraceOption = 30,
    seed: SeedOption = 7,
    out: Annotated[Path | None, typer.Option(help="Write the per-fold metrics to this .csv or .parquet.")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "renewal-risk-backtest",
    tracking_uri: TrackingOption = None,
) -> None:
    """Retrain at rolling cutoffs and report each fold's test metrics and their spread."""
    from features.io import write_table
    from training import track
    from training.backtest import rolling_backtest
    from workflow.training import TrainingSource, training_table

    if out is not None:
        check_output(out)
    time_col = "renewal_date" if data is not None else _default_time_col(snapshots, time_col)
    if time_col is None:
        raise UsageError("a backtest needs time: pass --time-col (or use --data).")
    horizons = parse_horizons(horizon_days) if data is not None else DEFAULT_HORIZONS
    try:
        source = TrainingSource(data, snapshots, label, id_col, time_col, horizons, grace_days)
    except ValueError as err:
        raise UsageError(str(err)) from None
    with Steps(console) as steps:
        table = training_table(source, steps)[0]
        with steps.bar(f"Backtesting over {folds} rolling cutoffs", total=folds) as update:
            try:
                report = rolling_backtest(table, folds, seed, on_fold=update)
            except ValueError as err:
                raise UsageError(str(err)) from None
        with steps.step(f"Logging to MLflow ({track.configure(tracking_uri)})"):
            track.log_backtest(report, experiment)
        if out is not None:
            write_table(report, out)
    console.print(_folds_table(report))


def _folds_table(report) -> RichTable:
    table = RichTable(title="Backtest: one row per rolling cutoff", title_justify="left")
    headers = {
        "fold": "fold",
        "window": "tested from",
        "test_rows": "rows",
        "test_roc_auc": "AUC",
        "test_pr_auc": "PR AUC",
        "test_ece": "ECE",
        "test_arr_capture_at_20": "ARR@20%",
        "baseline_logreg_test_roc_auc": "logreg AUC",
        "baseline_rules_test_roc_auc": "rules AUC",
    }
    for header in headers.values():
        table.add_column(header, justify="right", no_wrap=header == "tested from")
    for _, row in report.iterrows():
        window = row["test_from"] if isinstance(row["test_from"], str) else ""  # windows follow each other
        cells = [str(row["fold"]), window, f"{row['test_rows']:,.0f}" if row["test_rows"] == row["test_rows"] else ""]
        cells += [f"{row[c]:.3f}" for c in list(headers)[3:]]
        table.add_row(*cells)
    return table


@app.command("export-model")
@reports_user_errors
def export_model_command(
    out: Annotated[Path, typer.Option(help="Folder to write the bundle to (model.txt + bundle.json).")] = Path(
        "models/renewal-risk"
    ),
    model_uri: ModelUriOption = DEFAULT_MODEL_URI,
    tracking_uri: TrackingOption = None,
) -> None:
    """Copy a model out of the registry as a plain bundle, to serve it without MLflow (churn serve --model-uri)."""
    with Steps(console) as steps:
        bundle = load_model(model_uri, tracking_uri, steps)
        with steps.step(f"Writing {out}"):
            bundle.save(out)
    console.print(escape(f"Model {bundle.version_label} written to {out}/ (serve it: churn serve --model-uri {out})"))


@app.command("promote")
@reports_user_errors
def promote_command(
    version: Annotated[str, typer.Argument(help="Registered model version to make the champion.")],
    tracking_uri: TrackingOption = None,
) -> None:
    """Make a model version the champion by hand (the registry alias serving uses)."""
    import mlflow

    from training import track

    track.configure(tracking_uri)
    try:
        track.promote(version)
    except mlflow.exceptions.MlflowException as err:
        raise UsageError(f"cannot promote version {version} of {track.MODEL_NAME}: {err.message}") from None
    console.print(f"Version {version} of {track.MODEL_NAME} is now the champion.")


@app.command("score")
@reports_user_errors
def score_command(
    out: Annotated[Path, typer.Option(help="Output file, .parquet or .csv.")],
    data: DataOrSnapshotsOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="With --data: score the accounts in force on this date (default: the day after the data ends).",
            callback=checked_as_of,
        ),
    ] = None,
    snapshots: SnapshotsOption = None,
    model_uri: ModelUriOption = DEFAULT_MODEL_URI,
    bands: Annotated[
        str | None, typer.Option(help="Risk band thresholds (default: those the model was trained with).")
    ] = None,
    tracking_uri: TrackingOption = None,
    top: Annotated[int, typer.Option(min=0, help="Show this many accounts with the most ARR at risk.")] = 10,
    reasons: Annotated[
        int, typer.Option(min=0, max=10, help="Add the top K reason sentences and driver groups per account.")
    ] = 0,
    id_col: Annotated[
        str | None,
        typer.Option(
            help="With --snapshots: the account id column (default: the one the model records, else account_id, "
            "else the one column that is not a feature, the label or a date and differs on every row, which is "
            "said). It is written under its own name, first, and also as account_id."
        ),
    ] = None,
    keep: Annotated[
        str | None, typer.Option(help="Columns of the table to copy into the scores, e.g. region,owner.")
    ] = None,
    store: StoreOption = None,
    store_months: StoreMonthsOption = 6,
    allow_missing_features: AllowMissingOption = False,
) -> None:
    """Score the book: renewal probability, churn risk, risk band and ARR at risk per account.

    Columns: the id (a --snapshots table's own id column first, when it is not account_id),
    account_id, as_of, renewal_date, days_to_renewal, arr, renewal_probability, churn_risk,
    risk_band, arr_at_risk, model_version, cadence (monthly: risk of cancelling within 90 days;
    annual/multi-year: risk of not renewing at the renewal date), horizon_bucket and
    beyond_trained_range (renewal further ahead than any training row, at most 365 days: scored at
    the edge of the range the model was trained on), unknown_categories (categorical values never
    seen in training, scored as unknown); then --keep columns and --reasons columns.
    """
    from features.io import write_table
    from training.score import id_column, score, trained_range_days, unknown_category_note

    check_output(out)
    if store is not None and data is None:
        raise UsageError("--store needs --data: the store keeps monthly snapshots and charts built from the tables.")
    check_store_option(store)
    if id_col is not None and snapshots is None:
        raise UsageError("--id-col is for a --snapshots table; tables built from --data use account_id.")
    keep_columns = [c.strip() for c in keep.split(",") if c.strip()] if keep else []
    with Steps(console) as steps:
        frame, tables, when = scoring_snapshots(data, snapshots, as_of, steps)
        bundle = load_model(model_uri, tracking_uri, steps)
        require_features(bundle, frame, allow_missing_features, steps)
        id_name = "account_id"
        if snapshots is not None:
            try:
                id_name, note = id_column(bundle, frame, id_col)
            except ValueError as err:
                raise UsageError(str(err)) from None
            if note:
                steps.note(note)
            frame = _ids_as_text(frame, snapshots, id_name)
        with steps.step(f"Scoring {len(frame):,} accounts"), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            extra = _reason_columns(bundle, frame, reasons) if reasons else None
            try:
                scores = score(bundle, frame, _parse_bands(bands) if bands else None, extra, id_name, keep_columns)
            except ValueError as err:
                raise UsageError(str(err)) from None
        for warning in caught:
            steps.note(str(warning.message))
        unseen = unknown_category_note(bundle, frame)
        if unseen:
            steps.note(unseen)
        with steps.step(f"Writing {out}"):
            write_table(scores, out)
        if store is not None:
            write_store(store, tables, frame, when, store_months, steps, bundle=bundle)
        _log_predictions(scores, frame, bundle, out, store, steps)
    has_arr = "arr" in frame.columns and scores["arr"].notna().any()
    console.print(_top_table(scores, top, has_arr))
    console.print(_arr_at_risk_line(scores, "arr" in frame.columns))
    if scores["days_to_renewal"].notna().any():
        furthest = round(trained_range_days(bundle))
        console.print(_beyond_range_line(scores, furthest, top))


def _log_predictions(scores, frame, bundle, out: Path, store: Path | None, steps) -> None:
    """Append this run to the prediction log (the store's, else the Parquet file beside --out).

    Monitoring reads it, but scoring is what the user asked for: a log that cannot be
    written is said once, as a warning, and the scores already written stay.
    """
    import sqlite3

    from monitor.predictions import append_log, default_path, prediction_log
    from serving.store import StoreError, write_predictions

    target = store if store is not None else default_path(out)
    try:
        with steps.step(f"Logging {len(scores):,} predictions to {target}"):
            log = prediction_log(scores, frame, bundle.schema.names)
            (write_predictions if store is not None else append_log)(target, log)
    except (OSError, ValueError, KeyError, sqlite3.Error, StoreError) as error:
        steps.note(f"the prediction log was not written ({target}: {error}); the scores are written.")


def _beyond_range_line(scores, furthest: int, top: int) -> str:
    """How many renewals lie beyond the trained range; the table's ``*`` is mentioned only when it shows one."""
    flagged = int(scores["beyond_trained_range"].sum())
    if not flagged:
        return f"No renewal is more than {furthest} days ahead (the trained range)."
    shown = int(scores["beyond_trained_range"].head(top).sum())
    marker = f"marked * in the table ({shown:,} of them)" if shown else f"none of them in the top {top:,} above"
    noun = "renewal, scored" if flagged == 1 else "renewals, scored"
    return (
        f"Beyond the trained range (renewal more than {furthest} days ahead): {flagged:,} {noun} at the edge "
        f"of that range and flagged in the beyond_trained_range column; {marker}."
    )


def _ids_as_text(frame, snapshots: Path, id_name: str):
    """A CSV's id column as written ("00042" stays "00042", not the number 42)."""
    if snapshots.suffix.lower() != ".csv" or id_name not in frame.columns:
        return frame
    import pandas as pd

    text = pd.read_csv(snapshots, usecols=[id_name], dtype=str, keep_default_na=False)[id_name]
    return frame.assign(**{id_name: text.to_numpy()})


def _arr_at_risk_line(scores, has_arr_column: bool) -> str:
    high = f"{(scores['risk_band'] == 'high').sum():,} accounts in the high band"
    arr = scores["arr"]
    if scores.empty:
        return "No account to score: no ARR at risk."
    if not has_arr_column:
        return f"ARR at risk cannot be computed (no ARR column); {high}."
    if arr.isna().all():
        return f"ARR at risk cannot be computed (the ARR column is empty); {high}."
    missing = int(arr.isna().sum())
    without = f"; {missing:,} accounts without ARR are not in these sums" if missing else ""
    return f"Total ARR at risk: {money(scores['arr_at_risk'].sum())} of {money(arr.sum())} ({high}{without})."


def _reason_columns(bundle, frame, k: int):
    from explain.reasons import Explainer, reason_columns

    return reason_columns(Explainer(bundle).explain(frame, risk_reasons=k, protective_reasons=0, warn=False), k)


def _top_table(scores, top: int, has_arr: bool = True) -> RichTable:
    title = f"Top {top} accounts by ARR at risk" if has_arr else f"Top {top} accounts by churn risk (no ARR)"
    table = RichTable(title=title, title_justify="left")
    columns = ("account", "renewal", "days", "ARR", "churn risk", "band", "ARR at risk")
    for column in columns if has_arr else [c for c in columns if "ARR" not in c]:
        table.add_column(column, justify="left" if column in ("account", "band") else "right")
    for _, row in scores.head(top).iterrows():
        days = row["days_to_renewal"]
        cells = [
            escape(str(row["account_id"])),
            str(row["renewal_date"])[:10] if row["renewal_date"] == row["renewal_date"] else "-",
            f"{days:.0f}" + ("*" if row["beyond_trained_range"] else "") if days == days else "-",
            money(row["arr"]),
            f"{row['churn_risk']:.1%}",
            escape(str(row["risk_band"])),
            money(row["arr_at_risk"]),
        ]
        table.add_row(*(cells if has_arr else [c for c, name in zip(cells, columns, strict=True) if "ARR" not in name]))
    return table


@app.command("forecast")
@reports_user_errors
def forecast_command(
    data: DataOption,
    as_of: AsOfOption = None,
    months: Annotated[int, typer.Option(min=1, max=36, help="Months ahead to forecast.")] = 12,
    model_uri: ModelUriOption = DEFAULT_MODEL_URI,
    out: Annotated[Path | None, typer.Option(help="Write the forecast to this .csv or .parquet.")] = None,
    backtest_cutoffs: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also backtest the forecast out of sample at this many rolling monthly cutoffs (8 or more for a "
            "coverage figure): at each, refit on the outcomes known then, score the book, forecast the next month "
            "and quarter and compare with what renewed. Each cutoff costs one training run.",
        ),
    ] = 0,
    backtest_out: Annotated[
        Path | None, typer.Option(help="With --backtest-cutoffs: write the per-cutoff rows to this .csv or .parquet.")
    ] = None,
    grace_days: Annotated[
        int, typer.Option(min=0, help="With --backtest-cutoffs: grace days for a renewal to count as known.")
    ] = 30,
    seed: Annotated[int, typer.Option(help="With --backtest-cutoffs: random seed of the refits.")] = 7,
    backtest_quarters: Annotated[int | None, typer.Option(hidden=True)] = None,
    tracking_uri: TrackingOption = None,
    allow_missing_features: AllowMissingOption = False,
) -> None:
    """Expected renewing ARR per month and quarter with 80% and 95% intervals; optionally an out-of-sample backtest.

    Annual and multi-year contracts count once, in their renewal month; a monthly plan's ARR is up
    for renewal every month, renewing with its survival to that month (its 90-day risk read as a
    constant hazard). Renewals further ahead than the model was trained for (at most 365 days) are
    left out and counted separately.
    """
    from features.io import write_table
    from training.forecast_run import forecast_backtest, forecast_book
    from training.score import trained_range_days

    if backtest_quarters is not None:
        raise UsageError(
            "--backtest-quarters is gone: it judged the champion on quarters it may have been trained on. "
            "Use --backtest-cutoffs N, which refits the model at each cutoff (out of sample)."
        )
    for path in (out, backtest_out):
        if path is not None:
            check_output(path)
    if backtest_out is not None and not backtest_cutoffs:
        raise UsageError("--backtest-out needs --backtest-cutoffs N.")
    with Steps(console) as steps:
        frame, tables, when = scoring_snapshots(data, None, as_of, steps)
        bundle = load_model(model_uri, tracking_uri, steps)
        require_features(bundle, frame, allow_missing_features, steps)
        with steps.step(f"Forecasting {months} months of renewals"):
            forecast = forecast_book(bundle, frame, when, months)
        beyond = forecast[forecast["period_type"] == "total"].iloc[0]
        furthest = trained_range_days(bundle)
        if beyond["beyond_range_renewals"]:
            steps.note(
                f"{beyond['beyond_range_renewals']:,.0f} renewals ({money(beyond['beyond_range_arr'])} ARR) more than "
                f"{furthest:.0f} days ahead are left out of the forecast: the model is trained up to {furthest:.0f} "
                "days ahead (beyond_range_renewals and beyond_range_arr per period)."
            )
        backtest = None
        if backtest_cutoffs:
            with steps.bar(
                f"Backtesting the forecast out of sample at {backtest_cutoffs} monthly cutoffs (one refit each)",
                total=backtest_cutoffs,
            ) as update:
                try:
                    backtest = forecast_backtest(tables, backtest_cutoffs, grace_days, seed, on_cutoff=update)
                except ValueError as err:
                    raise UsageError(f"the forecast backtest cannot run: {err}") from None
            for note in backtest.notes:
                steps.note(note)
        if out is not None:
            with steps.step(f"Writing {out}"):
                write_table(forecast, out)
        if backtest is not None and backtest_out is not None:
            with steps.step(f"Writing {backtest_out}"):
                write_table(backtest.rows, backtest_out)
    console.print(_forecast_table(forecast, furthest))
    if backtest is not None:
        console.print(_backtest_table(backtest.rows))
        console.print(_coverage_line(backtest.coverage))


def _forecast_table(forecast, furthest: float) -> RichTable:
    table = RichTable(title="Renewal forecast (ARR)", title_justify="left")
    columns = ["period", "contracts", "renewals", "up for renewal", "expected renewing", "80% range", "95% range"]
    left_out = bool(forecast["beyond_range_renewals"].any())
    for column in [*columns, f"left out (> {furthest:.0f} days)"] if left_out else columns:
        table.add_column(column, justify="right")
    for _, row in forecast[forecast["period_type"] != "month"].iterrows():
        cells = [
            f"{row['period']} (part)" if row.get("partial") and row["period_type"] != "total" else str(row["period"]),
            f"{row['contracts']:,}",
            f"{row['renewals']:,}",
            money(row["arr_up_for_renewal"]),
            money(row["expected_renewing_arr"]),
            f"{money(row['renewing_arr_p10'])} – {money(row['renewing_arr_p90'])}",
            f"{money(row['renewing_arr_p2_5'])} – {money(row['renewing_arr_p97_5'])}",
        ]
        if left_out:
            cells.append(money(row["beyond_range_arr"]) if row["beyond_range_renewals"] else "")
        table.add_row(*cells)
    if forecast["partial"].any():
        table.caption = "(part): the horizon covers only part of this quarter."
        table.caption_justify = "left"
    return table


def _backtest_table(rows) -> RichTable:
    table = RichTable(
        title="Forecast backtest, out of sample: refitted at each cutoff, forecast vs what renewed",
        title_justify="left",
    )
    for column in ("cutoff", "horizon", "forecast", "actual", "error", "80% range", "in 80%", "in 95%"):
        table.add_column(column, justify="left" if column in ("cutoff", "horizon") else "right")
    for _, row in rows.iterrows():
        table.add_row(
            str(row["cutoff"].date()),
            str(row["horizon"]),
            money(row["forecast"]),
            money(row["actual"]),
            f"{row['error_pct']:+.1%}" if row["error_pct"] == row["error_pct"] else "-",
            f"{money(row['low_80'])} – {money(row['high_80'])}",
            "yes" if row["inside_80"] else "no",
            "yes" if row["inside_95"] else "no",
        )
    return table


def _coverage_line(coverage) -> str:
    from training.forecast import COVERAGE_TARGET

    low, high = COVERAGE_TARGET
    parts = [
        f"{row['horizon']}: 80% interval held at {row['inside_80']}/{row['cutoffs']} cutoffs "
        f"({row['coverage_80']:.0%}), "
        f"95% at {row['inside_95']}/{row['cutoffs']} ({row['coverage_95']:.0%}), "
        f"mean |error| {row['mean_abs_error_pct']:.1%}, bias {row['bias_pct']:+.1%}"
        for _, row in coverage.iterrows()
    ]
    return f"Coverage (target for the 80% interval: {low:.0%}–{high:.0%} of cutoffs): " + "; ".join(parts) + "."
