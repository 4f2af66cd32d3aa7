"""The model bundle: everything needed to score and explain, as data, never as a pickle.

A bundle is a folder with LightGBM's own text model (``model.txt``) and one JSON file
(``bundle.json``) holding the feature schema (names, kinds, categories), the calibrator's
parameters, the feature catalog and the training metadata. Anything that loads a model (the
CLI, MLflow's pyfunc wrapper, the service) goes through ``ModelBundle.load`` and therefore
feeds and explains it the same way, without executing a byte of stored code.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.catalog import Catalog, records_version
from features.io import atomic_path
from training.calibrate import Calibrator
from training.names import DEFAULT_BANDS
from training.peers import PeerBaselines

if TYPE_CHECKING:
    import lightgbm as lgb

BUNDLE_FORMAT = 1


def numeric_block(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """``names`` of ``frame`` as one float matrix (absent columns and text that is no number: NaN).

    Columns already numeric are converted in one block, not one by one: a one-account request
    spent most of its time converting 77 single values (the model matrix and the reasons' sides
    both read numbers through this).
    """
    values = np.full((len(frame), len(names)), np.nan)
    dtypes = frame.dtypes.to_dict()
    present = [(i, n) for i, n in enumerate(names) if n in dtypes]
    is_number = {n: pd.api.types.is_numeric_dtype(dtypes[n]) for _, n in present}
    fast = [(i, n) for i, n in present if is_number[n]]
    if fast:
        block = frame[[n for _, n in fast]].to_numpy(dtype="float64", na_value=np.nan)
        values[:, [i for i, _ in fast]] = block
    for i, n in present:
        if not is_number[n]:
            values[:, i] = pd.to_numeric(frame[n], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return values


@dataclass(frozen=True)
class FeatureSchema:
    """The model's input columns, in order, and the categories each categorical column was trained with."""

    names: list[str]
    categories: dict[str, list[str]]

    @classmethod
    def fit(cls, frame: pd.DataFrame, names: list[str], categorical: list[str]) -> FeatureSchema:
        categories = {}
        for name in categorical:
            values = frame[name].astype("str").where(frame[name].notna())
            categories[name] = sorted(values.dropna().unique().tolist())
        return cls(list(names), categories)

    def matrix(self, frame: pd.DataFrame, warn: bool = True) -> pd.DataFrame:
        """The model matrix for any table: columns in order, numbers as float, categories as trained.

        A column the model needs but the table lacks is treated as missing (one warning names
        them); extra columns are ignored; a category never seen in training becomes missing.
        """
        absent = [n for n in self.names if n not in frame.columns]
        if absent and warn:
            warnings.warn(
                f"{len(absent)} feature(s) the model uses are not in the table and are treated as missing: "
                + ", ".join(absent[:10])
                + (" …" if len(absent) > 10 else ""),
                stacklevel=2,
            )
        numeric = [n for n in self.names if n not in self.categories]
        out = pd.DataFrame(numeric_block(frame, numeric), columns=numeric, index=frame.index)
        if not self.categories:
            return out
        categorical = pd.DataFrame(
            {
                name: pd.Categorical(self._text(frame, name), categories=known)  # an unseen category is missing
                for name, known in self.categories.items()
            },
            index=frame.index,
        )
        return pd.concat([out, categorical], axis=1)[self.names]

    @staticmethod
    def _text(frame: pd.DataFrame, name: str) -> np.ndarray:
        """A column as text, as the categories were fitted (``str(value)``), None where missing or absent."""
        if name not in frame.columns:
            return np.full(len(frame), None, dtype=object)
        values = frame[name].to_numpy(dtype=object)
        missing = pd.isna(values)
        text = values.astype(str).astype(object)
        text[missing] = None
        return text

    def unseen(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The categorical values the model never saw in training, one row each: row, field, value.

        ``matrix`` scores them as missing; this says which they were, so that scores files and
        API answers can report them. ``row`` is the position in ``frame``. Surrounding spaces and
        case are not forgiven: ``"smb "`` is not ``"smb"`` to the model, so it is reported as is.
        """
        found = []
        for name, known in self.categories.items():
            if name not in frame.columns:
                continue
            text = self._text(frame, name)
            given = np.flatnonzero(pd.notna(text))
            rows = given[~np.isin(text[given].astype(str), np.asarray(known, dtype=str))]
            if len(rows):
                found.append(pd.DataFrame({"row": rows, "field": name, "value": text[rows].astype(str)}))
        if not found:
            return pd.DataFrame(
                {"row": pd.Series(dtype="int64"), "field": pd.Series(dtype="str"), "value": pd.Series(dtype="str")}
            )
        return pd.concat(found, ignore_index=True).sort_values("row", kind="stable", ignore_index=True)

    def to_json(self) -> dict:
        return {"names": self.names, "categories": self.categories}

    @classmethod
    def from_json(cls, data: dict) -> FeatureSchema:
        return cls(list(data["names"]), {k: list(v) for k, v in data["categories"].items()})


class BoosterFile:
    """A LightGBM booster read from ``model.txt`` on first use.

    A command that only reads answers already stored for this model (``churn explain --store``)
    needs the model's text to know which answers are its own, never its trees: it then never
    imports LightGBM (and scikit-learn with it), about 1.3 s of a two-second command. Anything
    else (``predict``, ``save_model``) loads the booster, once.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._booster: lgb.Booster | None = None

    def model_to_string(self, *args, **kwargs) -> str:
        """The model's text; without arguments, the file itself (LightGBM writes ``model_to_string()`` to it)."""
        if args or kwargs or self._booster is not None:
            return self.load().model_to_string(*args, **kwargs)
        return self.path.read_text()

    def load(self) -> lgb.Booster:
        if self._booster is None:
            import lightgbm

            self._booster = lightgbm.Booster(model_file=str(self.path))
        return self._booster

    def __getattr__(self, name: str):
        if name.startswith("_"):  # not set yet (a copy made without __init__): never recurse into load()
            raise AttributeError(name)
        return getattr(self.load(), name)


@dataclass
class ModelBundle:
    """A trained renewal-risk model: booster + calibrator + schema + catalog + metadata."""

    booster: lgb.Booster  # or a BoosterFile, which reads model.txt into one on first use
    schema: FeatureSchema
    calibrator: Calibrator
    catalog: Catalog
    metadata: dict = field(default_factory=dict)

    @property
    def bands(self) -> tuple[float, float]:
        """The risk band thresholds the model was trained with (older bundles: the defaults)."""
        low, high = self.metadata.get("bands") or DEFAULT_BANDS
        return float(low), float(high)

    @functools.cached_property
    def peers(self) -> PeerBaselines:
        """The peer baselines explanations start from (read once from the metadata ``train`` stores them in)."""
        return PeerBaselines.from_json(self.metadata.get("peers"), self.schema.names)

    def matrix(self, frame: pd.DataFrame, warn: bool = True) -> pd.DataFrame:
        """The model matrix; a renewal further ahead than any training row is scored at the furthest trained distance.

        Trees treat any value past their last split alike, so this states exactly what the model
        does anyway; callers flag such rows (``beyond_trained_horizon``) so it is never silent.
        """
        matrix = self.schema.matrix(frame, warn=warn)
        furthest = self.metadata.get("max_horizon_days")
        if furthest is not None and "days_to_renewal" in matrix:
            matrix["days_to_renewal"] = matrix["days_to_renewal"].clip(upper=float(furthest))
        return matrix

    def beyond_trained_horizon(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows whose renewal is further ahead than any row the model was trained on."""
        furthest = self.metadata.get("max_horizon_days")
        if furthest is None or "days_to_renewal" not in frame:
            return np.zeros(len(frame), dtype=bool)
        return (pd.to_numeric(frame["days_to_renewal"], errors="coerce") > float(furthest)).to_numpy()

    def raw_score(self, frame: pd.DataFrame, warn: bool = True) -> np.ndarray:
        """The booster's log-odds of churn, before calibration (LightGBM refuses an empty table; we don't)."""
        if len(frame) == 0:
            return np.zeros(0)
        return self.booster.predict(self.matrix(frame, warn), raw_score=True)

    def churn_probability(self, frame: pd.DataFrame, warn: bool = True) -> np.ndarray:
        """Calibrated probability that the contract does not renew."""
        return self.calibrator.apply(self.raw_score(frame, warn))

    def contributions(self, frame: pd.DataFrame, warn: bool = True) -> np.ndarray:
        """Exact TreeSHAP contributions in log-odds, one column per feature plus the bias last."""
        if len(frame) == 0:
            return np.zeros((0, len(self.schema.names) + 1))
        return self.booster.predict(self.matrix(frame, warn), pred_contrib=True)

    @property
    def version_label(self) -> str:
        return str(self.metadata.get("model_version") or self.metadata.get("run_id") or "local")

    def save(self, folder: Path | str) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "model.txt") as tmp:
            self.booster.save_model(str(tmp))
        document = {
            "format": BUNDLE_FORMAT,
            "schema": self.schema.to_json(),
            "calibrator": self.calibrator.to_json(),
            "catalog": self.catalog.to_records(),
            "catalog_version": self.catalog.version,
            "metadata": self.metadata,
        }
        with atomic_path(folder / "bundle.json") as tmp:
            tmp.write_text(json.dumps(document, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> ModelBundle:
        folder = Path(folder)
        if not (folder / "bundle.json").exists() or not (folder / "model.txt").exists():
            raise FileNotFoundError(f"{folder}: not a model bundle (expected model.txt and bundle.json)")
        document = json.loads((folder / "bundle.json").read_text())
        if document.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"{folder}: bundle format {document.get('format')} is not {BUNDLE_FORMAT}")
        catalog = Catalog.from_records(document["catalog"])
        if records_version(document["catalog"]) != document["catalog_version"]:
            raise ValueError(f"{folder}: the catalog does not match its recorded version; the bundle was edited")
        return cls(
            booster=BoosterFile(folder / "model.txt"),  # type: ignore[arg-type]
            schema=FeatureSchema.from_json(document["schema"]),
            calibrator=Calibrator.from_json(document["calibrator"]),
            catalog=catalog,
            metadata=document.get("metadata", {}),
        )
