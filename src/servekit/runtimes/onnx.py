"""ONNX graphs through onnxruntime (for example scikit-learn models converted with skl2onnx)."""

from __future__ import annotations

from typing import Any

import numpy as np

from servekit.repository.manifest import InputKind, Task
from servekit.runtimes import classes, images, tabular
from servekit.runtimes.base import Row, RowOutput, Runtime

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


class OnnxRuntime(Runtime):
    """An ``.onnx`` graph. For tabular models, one input takes all features as a matrix, or
    several take one column each; for image models, the one input takes the batch of images.

    Options: ``label_output`` and ``probabilities_output`` (output names; by default the first
    output is the prediction and a second one, when present, the probabilities; an image
    classifier's scores are its first output); for image classifiers, ``softmax`` — whether the
    scores are logits, turned into probabilities here (true), or probabilities (false, the
    default: converters such as skl2onnx end the graph with its own softmax).
    """

    def setup(self) -> None:
        """Open an inference session on the CPU."""
        self.with_image = self.manifest.input_kind is InputKind.image
        known = ["label_output", "probabilities_output"]
        self.check_options([*known, "softmax"] if self.with_image else known)
        import onnxruntime as ort  # an optional extra: imported only when an ONNX model is served

        path = self.model.artifact_path()
        if path is None:
            raise ValueError("the onnx runtime needs an artifact")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        names = [o.name for o in self.session.get_outputs()]
        if self.with_image:
            self._setup_image(names)
            return
        self.label_output = self.manifest.options.get("label_output", names[0])
        default_probs = names[1] if len(names) > 1 else None
        self.probabilities_output = self.manifest.options.get("probabilities_output", default_probs)
        for name in (self.label_output, self.probabilities_output):
            if name is not None and name not in names:
                raise ValueError(f"the graph has no output {name!r}; outputs: {', '.join(names)}")
        self.wanted = [n for n in (self.label_output, self.probabilities_output) if n is not None]
        features = {f.name for f in self.manifest.inputs}
        if len(self.inputs) == 1:
            tabular.check_numeric(self.manifest.inputs, "a single-input ONNX graph")
        elif {i.name for i in self.inputs} != features:
            raise ValueError(
                f"the graph's inputs {sorted(i.name for i in self.inputs)} do not match the "
                f"manifest's features {sorted(features)}"
            )

    def _setup_image(self, names: list[str]) -> None:
        self.spec = images.image_spec(self)
        if len(self.inputs) != 1:
            raise ValueError(
                f"an image model's graph takes one input (the batch of images), not "
                f"{len(self.inputs)}: {', '.join(i.name for i in self.inputs)}"
            )
        self.with_labels = self.manifest.task is Task.image_classification
        self.softmax = self.manifest.options.get("softmax", False)
        if not isinstance(self.softmax, bool):
            raise ValueError(f"options.softmax must be true or false, not {self.softmax!r}")
        option = "probabilities_output" if self.with_labels else "label_output"
        output = self.manifest.options.get(option, names[0])
        if output not in names:
            raise ValueError(f"the graph has no output {output!r}; outputs: {', '.join(names)}")
        self.image_output: str = output
        self.wanted = [output]
        kind = self.inputs[0].type
        if kind not in ("tensor(float)", "tensor(double)", "tensor(float16)"):
            raise ValueError(f"an image model's graph takes floats, not {kind}")
        self.image_dtype = _DTYPES[kind]
        images.trial_run(self, self.spec)

    def decode(self, rows: list[Row]) -> dict[str, Any]:
        """The batch of images for an image graph; for a tabular one, one matrix for a
        single-input graph, else one ``(rows, 1)`` column per input."""
        if self.with_image:
            batch = images.stack(rows, self.spec)
            return {self.inputs[0].name: batch.astype(self.image_dtype, copy=False)}
        if len(self.inputs) == 1:
            first = self.inputs[0]
            return {first.name: tabular.to_array(rows, self.manifest.inputs, _DTYPES[first.type])}
        return {
            i.name: np.array([[row[i.name]] for row in rows], dtype=_DTYPES[i.type])
            for i in self.inputs
        }

    def predict(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Run the graph; keep the outputs by name."""
        return dict(zip(self.wanted, self.session.run(self.wanted, batch), strict=True))

    def encode(self, output: dict[str, Any]) -> list[RowOutput]:
        """Label and probabilities for classifiers, the value for regressors."""
        if self.with_image:
            return self._encode_image(output)
        probs = output.get(self.probabilities_output) if self.probabilities_output else None
        labels = self.manifest.outputs.labels
        if self.manifest.task is Task.classification and probs is not None and labels is not None:
            if isinstance(probs, list):  # skl2onnx's ZipMap: a list of {class: probability}
                probs = [list(p.values()) for p in probs]
            return tabular.classification_outputs(probs, labels)
        return tabular.plain_outputs(output[self.label_output])

    def _encode_image(self, output: dict[str, Any]) -> list[RowOutput]:
        scores = output[self.image_output]
        if not self.with_labels:
            return tabular.plain_outputs(scores)
        probs = classes.softmax(scores) if self.softmax else scores
        labels = self.manifest.outputs.labels or []
        return classes.top_k_outputs(probs, labels, self.manifest.outputs.top_k)
