"""A small demo world trained the way ``churn train --data`` trains (book-shaped reference), for the monitor tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

ACCOUNTS = 400
SEED = 11


def train_world(root, accounts: int = ACCOUNTS, seed: int = SEED, **plant):
    """Demo tables (optionally with a planted change) and a model trained on them with a book-shaped reference."""
    from demo import simulator
    from features.build import build_training_snapshots
    from features.load import load_tables
    from training.dataset import from_snapshots
    from training.reference import book_builder
    from training.train import TrainConfig, train

    simulator.write(simulator.generate(accounts, years=3, seed=seed, **plant), root / "data")
    tables = load_tables(root / "data")
    snapshots = build_training_snapshots(tables)
    table = from_snapshots(snapshots.frame, snapshots.catalog)
    result = train(table, TrainConfig(seed=3), reference_book=book_builder(tables))
    return SimpleNamespace(
        data=root / "data",
        tables=tables,
        table=table,
        result=result,
        bundle=result.bundle,
        model=result.bundle.save(root / "model"),
    )


@pytest.fixture(scope="session")
def book_world(tmp_path_factory):
    """400 accounts over three years, unchanged, with a model trained on all of it."""
    return train_world(tmp_path_factory.mktemp("book_world"))
