"""Load a model bundle by URI without starting MLflow when the registry cannot have changed.

A registry URI (``models:/renewal-risk@champion``) names whatever version the alias points at
now, so it has to be resolved in the registry: importing MLflow and opening its store takes
about 2.5 s, longer than a one-account command has. With a SQLite registry (the default,
``./mlflow.db``) nothing in the registry can change without the database file (or its
write-ahead log) changing too. So the first load through MLflow keeps a copy of the bundle and
the version it resolved to beside the database, stamped with the file's size and modification
time, and a later load with the same stamp reads that copy. Any write to the registry (a new
run, a promotion) changes the stamp, and the next load asks MLflow again. A folder is read as
it is; any other tracking store always goes through MLflow.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from training.bundle import BoosterFile, ModelBundle
from training.names import tracking_uri_in_force

CACHE_FOLDER = ".model-cache"  # beside the SQLite registry; safe to delete at any time
BUNDLE_FILES = ("model.txt", "bundle.json")


def load_bundle(model_uri: str, tracking_uri: str | None = None) -> ModelBundle:
    """The bundle at ``model_uri`` (registry URI, a run's model, or a folder), from the local copy when valid."""
    if Path(model_uri).exists():
        return bundle_folder(Path(model_uri))
    database = sqlite_file(tracking_uri_in_force(tracking_uri))
    if database is not None and model_uri.startswith("models:/"):
        cached = _cached(model_uri, database)
        if cached is not None:
            return cached
    from training import track

    track.configure(tracking_uri)
    bundle = track.load_bundle(model_uri)
    if database is not None and model_uri.startswith("models:/"):
        _remember(model_uri, database, bundle)
    return bundle


def bundle_folder(path: Path) -> ModelBundle:
    """A bundle folder (``churn export-model``), or a run's model folder holding one."""
    for candidate in (path, path / "artifacts" / "bundle"):
        if (candidate / "bundle.json").exists():
            return ModelBundle.load(candidate)
    raise FileNotFoundError(f"{path}: no model bundle in this folder (expected bundle.json and model.txt)")


def sqlite_file(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI (None for any other store)."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    return Path(unquote(urlparse(tracking_uri).path))


def _stamp(database: Path) -> list[int]:
    """Size and modification time (ns) of the database and of its journal or write-ahead log, if any."""
    stamp = []
    for suffix in ("", "-wal", "-journal"):
        file = database.with_name(database.name + suffix)
        if file.exists():
            info = file.stat()
            stamp += [info.st_size, info.st_mtime_ns]
        else:
            stamp += [-1, -1]
    return stamp


def _entry(model_uri: str, database: Path) -> Path:
    digest = hashlib.sha256(f"{database.resolve()}|{model_uri}".encode()).hexdigest()[:16]
    return database.parent / CACHE_FOLDER / digest


def _cached(model_uri: str, database: Path) -> ModelBundle | None:
    entry = _entry(model_uri, database)
    try:
        pointer = json.loads((entry / "pointer.json").read_text())
    except (OSError, ValueError):
        return None
    if pointer.get("uri") != model_uri or pointer.get("stamp") != _stamp(database):
        return None
    try:
        bundle = ModelBundle.load(entry)
    except (OSError, ValueError, KeyError):
        return None
    if pointer.get("version"):
        bundle.metadata["model_version"] = pointer["version"]
    return bundle


def _remember(model_uri: str, database: Path, bundle: ModelBundle) -> None:
    """Keep the bundle MLflow resolved, atomically (a new folder renamed into place); never fail the load."""
    if not isinstance(bundle.booster, BoosterFile) or not database.exists():
        return
    entry, staging = _entry(model_uri, database), None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".new-"))
        source = bundle.booster.path.parent
        for name in BUNDLE_FILES:
            shutil.copyfile(source / name, staging / name)
        pointer = {"uri": model_uri, "version": bundle.metadata.get("model_version"), "stamp": _stamp(database)}
        (staging / "pointer.json").write_text(json.dumps(pointer))
        old = entry.with_name(entry.name + ".old")
        if entry.exists():
            os.replace(entry, old)
        os.replace(staging, entry)
        shutil.rmtree(old, ignore_errors=True)
    except OSError:  # a read-only folder, a full disk: the next load asks MLflow again
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
