"""ONNX graphs through onnxruntime (for example scikit-learn models converted with skl2onnx)."""

from __future__ import annotations

from typing import Any

import numpy as np

from servekit.repository.manifest import Task
from servekit.runtimes import tabular
from servekit.runtimes.base import Row, RowOutput, Runtime

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


class OnnxRuntime(Runtime):
    """An ``.onnx`` graph. One input takes all features as a matrix; several take one column each.

    Options: ``label_output`` and ``probabilities_output`` (output names; by default the first
    output is the prediction and a second one, when present, the probabilities).
    """

    def setup(self) -> None:
        """Open an inference session on the CPU."""
        self.check_options(["label_output", "probabilities_output"])
        import onnxruntime as ort  # an optional extra: imported only when an ONNX model is served

        path = self.model.artifact_path()
        if path is None:
            raise ValueError("the onnx runtime needs an artifact")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        names = [o.name for o in self.session.get_outputs()]
        self.label_output = self.manifest.options.get("label_output", names[0])
        default_probs = names[1] if len(names) > 1 else None
        self.probabilities_output = self.manifest.options.get("probabilities_output", default_probs)
        for name in (self.label_output, self.probabilities_output):
            if name is not None and name not in names:
                raise ValueError(f"the graph has no output {name!r}; outputs: {', '.join(names)}")
        features = {f.name for f in self.manifest.inputs}
        if len(self.inputs) == 1:
            tabular.check_numeric(self.manifest.inputs, "a single-input ONNX graph")
        elif {i.name for i in self.inputs} != features:
            raise ValueError(
                f"the graph's inputs {sorted(i.name for i in self.inputs)} do not match the "
                f"manifest's features {sorted(features)}"
            )

    def decode(self, rows: list[Row]) -> dict[str, Any]:
        """One matrix for a single-input graph, else one ``(rows, 1)`` column per input."""
        if len(self.inputs) == 1:
            first = self.inputs[0]
            return {first.name: tabular.to_array(rows, self.manifest.inputs, _DTYPES[first.type])}
        return {
            i.name: np.array([[row[i.name]] for row in rows], dtype=_DTYPES[i.type])
            for i in self.inputs
        }

    def predict(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Run the graph; keep the outputs by name."""
        wanted = [n for n in (self.label_output, self.probabilities_output) if n is not None]
        return dict(zip(wanted, self.session.run(wanted, batch), strict=True))

    def encode(self, output: dict[str, Any]) -> list[RowOutput]:
        """Label and probabilities for classifiers, the value for regressors."""
        probs = output.get(self.probabilities_output) if self.probabilities_output else None
        labels = self.manifest.outputs.labels
        if self.manifest.task is Task.classification and probs is not None and labels is not None:
            if isinstance(probs, list):  # skl2onnx's ZipMap: a list of {class: probability}
                probs = [list(p.values()) for p in probs]
            return tabular.classification_outputs(probs, labels)
        return tabular.plain_outputs(output[self.label_output])
