"""Writing a model folder from a fitted model and its training data (``servekit package``)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import yaml

from servekit.drift.stats import compute_stats
from servekit.exceptions import ManifestError
from servekit.repository.loader import ModelFolder, read_manifest
from servekit.repository.manifest import MANIFEST_FILE, Feature, FeatureType, Manifest, Task
from servekit.runtimes import tabular

# An object column with at most this many distinct values is a category; with more, free text.
CATEGORY_LIMIT = 50


def _feature_type(series: pd.Series) -> FeatureType:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return FeatureType.bool
    if pd.api.types.is_integer_dtype(dtype):
        return FeatureType.int
    if pd.api.types.is_float_dtype(dtype):
        return FeatureType.float
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return FeatureType.datetime
    if isinstance(dtype, pd.CategoricalDtype) or series.nunique() <= CATEGORY_LIMIT:
        return FeatureType.category
    return FeatureType.string


def _json_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def infer_features(
    frame: pd.DataFrame, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Feature]:
    """One feature per column, typed from its dtype, with the first row as example."""
    overrides = overrides or {}
    unknown = set(overrides) - set(frame.columns)
    if unknown:
        raise ValueError(f"overrides name unknown column(s): {', '.join(sorted(unknown))}")
    features = []
    for column in frame.columns:
        series = frame[column]
        first = series.dropna()
        spec: dict[str, Any] = {
            "name": str(column),
            "type": _feature_type(series),
            "dtype": str(series.dtype),
            "example": _json_value(first.iloc[0]) if len(first) else None,
        }
        spec.update(overrides.get(str(column), {}))
        features.append(Feature.model_validate(spec))
    return features


def _as_frame(
    data: Any, feature_names: Sequence[str] | None, model: Any
) -> tuple[pd.DataFrame, bool]:
    if isinstance(data, pd.DataFrame):
        return data, True
    array = np.asarray(data)
    if array.ndim != 2:
        raise ValueError(f"training data must be 2-D (rows, features), got shape {array.shape}")
    names = feature_names or getattr(model, "feature_names_in_", None)
    names = (
        [str(n) for n in names] if names is not None else [f"f{i}" for i in range(array.shape[1])]
    )
    if len(names) != array.shape[1]:
        raise ValueError(f"{len(names)} feature names for {array.shape[1]} columns")
    return pd.DataFrame(array, columns=names), False


def _infer_task(model: Any, labels: Sequence[str] | None) -> Task:
    # NOTE: an ONNX graph has no predict_proba or classes_; the labels given for it say it classifies.
    if labels is not None or (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        return Task.classification
    return Task.regression


# The artifact's file name in the model folder, per runtime package_model writes.
ARTIFACTS = {"onnx": "model.onnx", "sklearn": "model.joblib"}


def _artifact_name(runtime: str) -> str:
    if runtime not in ARTIFACTS:
        raise ValueError(
            f"package_model writes sklearn and onnx models; for {runtime!r}, write the folder yourself"
        )
    return ARTIFACTS[runtime]


def _write_artifact(model: Any, runtime: str, target: Path) -> None:
    if runtime == "sklearn":
        joblib.dump(model, target)
    elif isinstance(model, str | Path):  # an .onnx file
        shutil.copyfile(model, target)
    else:  # an onnx.ModelProto
        target.write_bytes(model.SerializeToString())


def package_model(
    model: Any,
    data: Any,
    out_dir: str | Path,
    *,
    name: str,
    version: str = "1",
    runtime: str = "sklearn",
    task: Task | str | None = None,
    labels: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    modules: Sequence[str | Path] = (),
) -> ModelFolder:
    """Write ``out_dir`` with the artifact, its manifest, input schema and training statistics.

    ``data`` is the training input (a DataFrame, or a 2-D array with ``feature_names``);
    ``overrides`` adds to the inferred feature specs, e.g. ``{"passenger_count": {"minimum": 1}}``;
    ``extra`` adds manifest fields (``outputs``, ``batching``, ``ood``, ``options``...).
    ``modules`` are Python files the model's pickle imports (a function of the training code):
    copied into the folder, where the server finds them without ``PYTHONPATH``.
    """
    folder = Path(out_dir)
    replace = folder.exists() and any(folder.iterdir())
    if replace and not overwrite:
        raise FileExistsError(f"{folder} is not empty (pass overwrite=True to replace it)")
    artifact = _artifact_name(runtime)
    frame, is_frame = _as_frame(data, feature_names, model)
    features = infer_features(frame, overrides)
    if not is_frame:
        features = [f.model_copy(update={"dtype": None}) for f in features]
    task = Task(task) if task is not None else _infer_task(model, labels)
    if labels is None and task is Task.classification and hasattr(model, "classes_"):
        labels = [str(c) for c in model.classes_]
    manifest: dict[str, Any] = {
        "name": name,
        "version": version,
        "runtime": runtime,
        "task": task.value,
        "description": description,
        "artifact": artifact,
        "inputs": [f.model_dump(mode="json", exclude_none=True) for f in features],
        "outputs": {"labels": list(labels)} if labels is not None else {},
        "training_stats": compute_stats(frame, features).model_dump(mode="json", exclude_none=True),
    }
    if runtime == "sklearn":
        # What the model was fitted on, not what the data came in: a model fitted on an array
        # and given a frame warns on every call, and runs several times slower.
        frame_in = is_frame and not tabular.fitted_on_array(model, features)
        manifest["options"] = {"input_format": "dataframe" if frame_in else "array"}
    for key, value in (extra or {}).items():
        manifest[key] = {**manifest.get(key, {}), **value} if isinstance(value, Mapping) else value
    try:
        Manifest.model_validate(manifest)
    except Exception as exc:
        raise ManifestError(f"the manifest for {name} would be invalid: {exc}") from exc
    # NOTE: the old folder goes only now, so that bad data or a bad manifest never costs a served model.
    if replace:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_artifact(model, runtime, folder / artifact)
    for module in map(Path, modules):
        shutil.copyfile(module, folder / module.name)
    (folder / MANIFEST_FILE).write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return read_manifest(folder)
