"""The reference is book-shaped: an unchanged book scored again raises no feature alarm, where training rows would."""

from __future__ import annotations

import json

import pandas as pd

from features.build import build_scoring_snapshots
from monitor.drift import feature_drift, score_drift
from training.reference import REFERENCE_BOOKS, book_dates, fit_reference


def test_book_dates_end_at_the_last_snapshot_and_never_start_before_the_first():
    dates = book_dates(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-12-31"), count=8, spacing=52)
    assert dates[-1] == pd.Timestamp("2025-12-31") and len(dates) == 8
    assert len({d.day_of_week for d in dates}) == 7  # seven weekdays: a 30-day window's weekends differ by date
    assert book_dates(pd.Timestamp("2025-11-01"), pd.Timestamp("2025-12-31"), count=8, spacing=52) == [
        pd.Timestamp("2025-11-09"),
        pd.Timestamp("2025-12-31"),
    ]


def test_the_bundle_keeps_one_book_per_date_as_json(book_world):
    reference = book_world.bundle.metadata["reference_distributions"]
    assert reference["shape"] == "book" and len(reference["dates"]) == REFERENCE_BOOKS
    assert max(reference["dates"]) < str(book_world.tables.data_end.date())
    feature = next(iter(reference["features"].values()))
    assert len(feature["books"]) == REFERENCE_BOOKS and len(reference["score"]["books"]) == REFERENCE_BOOKS
    assert json.loads(json.dumps(reference)) == reference


def test_an_unchanged_book_scored_again_raises_no_alarm(book_world):
    bundle = book_world.bundle
    as_of = book_world.tables.data_end + pd.Timedelta(days=1)
    book = build_scoring_snapshots(book_world.tables, as_of).frame
    reference = bundle.metadata["reference_distributions"]
    drift = feature_drift(reference, book, bundle.catalog)
    assert [d["feature"] for d in drift if d["alarm"]] == []
    assert not score_drift(reference, bundle.churn_probability(book, warn=False), bundle.bands)["alarm"]
    # the same book against a reference binned from the training rows cries wolf: the test can fail
    table, rows = book_world.table, book_world.result.split["train"]
    naive = fit_reference(
        table.frame.iloc[rows],
        bundle.schema.names,
        table.catalog.categorical,
        bundle.churn_probability(table.frame.iloc[rows], warn=False),
        bundle.bands,
    )
    assert sum(d["alarm"] for d in feature_drift(naive, book, bundle.catalog)) >= 3
