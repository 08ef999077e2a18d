"""scikit-learn (and anything joblib-pickled with the same API): estimators and pipelines."""

from __future__ import annotations

import logging
from typing import Any

import joblib

from servekit.exceptions import ModelLoadError
from servekit.repository.manifest import Task
from servekit.runtimes import folder_modules, tabular
from servekit.runtimes.base import Row, RowOutput, Runtime

log = logging.getLogger("servekit.runtimes")


class SklearnRuntime(Runtime):
    """A fitted estimator or pipeline saved with joblib.

    Options: ``input_format`` — ``dataframe`` (the default when the model saw column names in
    training) or ``array`` (the default otherwise, and what a model fitted without column names
    is always given).
    """

    def setup(self) -> None:
        """Load the pickled estimator and decide how to shape its input."""
        self.check_options(["input_format"])
        # NOTE: scikit-learn is imported here, with the model (as unpickling it would), not when
        # the app is built: a second's import before a server process says it has started.
        from sklearn import config_context

        self._finite = config_context
        path = self.model.artifact_path()
        if path is None:
            raise ValueError("the sklearn runtime needs an artifact")
        with folder_modules.importable(self.model.path):
            try:
                self.estimator = joblib.load(path)
            except (AttributeError, ModuleNotFoundError) as exc:
                said = folder_modules.unpickling_help(exc, path)
                if said is None:
                    raise
                raise ModelLoadError(said) from None
        named = hasattr(self.estimator, "feature_names_in_")
        self.input_format = self.manifest.options.get(
            "input_format", "dataframe" if named else "array"
        )
        if self.input_format not in ("dataframe", "array"):
            raise ValueError(
                f"options.input_format must be dataframe or array, not {self.input_format!r}"
            )
        if (
            self.input_format == "dataframe"
            and not named
            and hasattr(self.estimator, "n_features_in_")
        ):
            # NOTE: fitted on an array, fed a frame, scikit-learn warns on every call and each call
            # is 3 to 6 times slower: what the model was fitted on decides (an older servekit
            # packaged such models as dataframe).
            log.warning(
                "%s was fitted without feature names: it is given arrays, not the manifest's "
                "input_format: dataframe",
                self.manifest.key,
            )
            self.input_format = "array"
        if self.input_format == "array":
            tabular.check_numeric(self.manifest.inputs, "this model")
        self.with_probabilities = self.manifest.task is Task.classification and hasattr(
            self.estimator, "predict_proba"
        )
        classes = getattr(self.estimator, "classes_", None)
        self.labels = self.manifest.outputs.labels or (
            [str(c) for c in classes] if classes is not None else None
        )

    def decode(self, rows: list[Row]) -> Any:
        """A frame shaped exactly as in training, or a float array."""
        if self.input_format == "dataframe":
            return tabular.to_frame(rows, self.manifest.inputs)
        return tabular.to_array(rows, self.manifest.inputs)

    def predict(self, batch: Any) -> Any:
        """Probabilities for classifiers that have them, predictions otherwise."""
        # Every input is finite (the request models refuse NaN and infinity), so scikit-learn's
        # own check is redundant; and an intermediate value that overflows (1e308 scaled up)
        # then gives a non-finite output, refused for its row, not an error for the whole batch.
        with self._finite(assume_finite=True):
            if self.with_probabilities:
                return self.estimator.predict_proba(batch)
            return self.estimator.predict(batch)

    def encode(self, output: Any) -> list[RowOutput]:
        """Label and probabilities per row, or the plain prediction."""
        if self.with_probabilities and self.labels is not None:
            return tabular.classification_outputs(output, self.labels)
        return tabular.plain_outputs(output)
