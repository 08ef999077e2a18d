"""Tiny image models for the runtime tests: a linear classifier on 8x8 grey images, as a
``torch.export`` program or an ONNX graph with the same weights, in a hand-written model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import yaml
from onnx import TensorProto, helper, numpy_helper

from servekit.repository.manifest import MANIFEST_FILE

LABELS = ["bright", "dark", "mid"]
SHAPE = (1, 8, 8)


def weights(pixels: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A (pixels, 3) matrix and bias: ``bright`` wins on bright images, ``dark`` on dark ones, and
    ``mid`` at a level of 0.25."""
    w = np.zeros((pixels, 3), dtype=np.float32)
    w[:, 0], w[:, 1] = 0.25, -0.25
    return w, np.array([0.0, 8.0, 5.0], dtype=np.float32)


class Linear(torch.nn.Module):
    """Flatten, then ``x @ w + b``: logits of the three labels."""

    def __init__(self) -> None:
        super().__init__()
        w, b = weights()
        self.linear = torch.nn.Linear(64, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.from_numpy(w.T.copy()))
            self.linear.bias.copy_(torch.from_numpy(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))  # type: ignore[no-any-return]


class BatchSize(torch.nn.Module):
    """Answers each row with the number of rows in its call: one call per batch gives len(rows)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_ones(x.shape[0]) * x.shape[0]


def export(module: torch.nn.Module, path: Path, shape: tuple[int, ...] = SHAPE) -> Path:
    """Save ``module`` as a ``torch.export`` program with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.export.export(
        module.eval(), (torch.zeros(2, *shape),), dynamic_shapes=({0: batch},)
    )
    torch.export.save(program, path)
    return path


def onnx_graph(path: Path, *, with_softmax: bool, height: int = 8, width: int = 8) -> Path:
    """The linear classifier as an ONNX graph: ``pixels`` (N, 1, h, w) to ``scores`` (N, 3),
    which are probabilities when the graph ends ``with_softmax``, logits otherwise."""
    w, b = weights(height * width)
    nodes = [
        helper.make_node("Flatten", ["pixels"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits" if with_softmax else "scores"]),
    ]
    if with_softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=1))
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 1, height, width])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 3])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # read by every onnxruntime servekit supports
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def image_folder(folder: Path, runtime: str, artifact: str, **changes: Any) -> Path:
    """A model folder around ``folder/artifact``: an 8x8 grey image classifier of LABELS."""
    manifest: dict[str, Any] = {
        "name": "linear",
        "runtime": runtime,
        "task": "image_classification",
        "artifact": artifact,
        "image": {"mode": "L", "size": [8, 8], "resample": "box"},
        "outputs": {"labels": LABELS},
    }
    manifest.update(changes)
    (folder / MANIFEST_FILE).write_text(yaml.safe_dump(manifest, sort_keys=False))
    return folder


def rows(*levels: float) -> list[dict[str, Any]]:
    """One row per level: an 8x8 image of that value everywhere, as the image codec hands it."""
    return [
        {"image": np.full(SHAPE, level, dtype=np.float32), "sha256": "0" * 64} for level in levels
    ]


def expected_probabilities(level: float) -> np.ndarray:
    """The linear classifier's probabilities for an image of ``level`` everywhere."""
    w, b = weights()
    logits = np.full(64, level, dtype=np.float64) @ w + b
    exp = np.exp(logits - logits.max())
    return np.asarray(exp / exp.sum())
