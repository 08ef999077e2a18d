"""ONNX graphs of image models: the stacked batch in their one input, the top labels out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from servekit.exceptions import ModelLoadError
from servekit.runtimes.onnx import OnnxRuntime
from tests.runtimes.conftest import Start
from tests.runtimes.image_models import (
    LABELS,
    Linear,
    expected_probabilities,
    export,
    image_folder,
    onnx_graph,
    rows,
)

LEVELS = (1.0, 0.0, 0.25, 0.6)


def test_a_graph_ending_in_softmax_answers_its_top_labels(tmp_path: Path, start: Start) -> None:
    onnx_graph(tmp_path / "model.onnx", with_softmax=True)
    runtime = start(image_folder(tmp_path, "onnx", "model.onnx"))
    outputs = runtime(rows(*LEVELS))

    assert isinstance(runtime, OnnxRuntime)
    assert [o.prediction for o in outputs] == ["bright", "dark", "mid", "bright"]
    for out, level in zip(outputs, LEVELS, strict=True):
        assert out.probabilities is None
        assert out.extra is not None
        probs = [t["probability"] for t in out.extra["top_k"]]
        assert probs == pytest.approx(sorted(expected_probabilities(level), reverse=True), abs=1e-6)
        assert out.extra["score"] == probs[0]


def test_logits_are_turned_into_probabilities_with_the_softmax_option(
    tmp_path: Path, start: Start
) -> None:
    onnx_graph(tmp_path / "model.onnx", with_softmax=False)
    plain = start(image_folder(tmp_path, "onnx", "model.onnx"))
    softened = start(image_folder(tmp_path, "onnx", "model.onnx", options={"softmax": True}))

    (raw,) = plain(rows(1.0))
    (out,) = softened(rows(1.0))
    assert raw.extra is not None
    assert out.extra is not None
    assert raw.extra["score"] == pytest.approx(16.0)  # without the option: the logit as given
    assert out.extra["score"] == pytest.approx(expected_probabilities(1.0).max(), abs=1e-6)


def test_onnx_and_torch_agree_on_the_same_weights(tmp_path: Path, start: Start) -> None:
    onnx_graph(tmp_path / "model.onnx", with_softmax=True)
    export(Linear(), tmp_path / "model.pt2")
    graph = start(image_folder(tmp_path, "onnx", "model.onnx"))
    program = start(image_folder(tmp_path, "torch", "model.pt2"))
    levels = np.linspace(0, 1, 41).tolist()

    for a, b in zip(graph(rows(*levels)), program(rows(*levels)), strict=True):
        assert a.prediction == b.prediction
        assert a.extra is not None
        assert b.extra is not None
        assert [t["label"] for t in a.extra["top_k"]] == [t["label"] for t in b.extra["top_k"]]
        assert a.extra["score"] == pytest.approx(b.extra["score"], abs=1e-5)


def test_top_k_is_capped_at_the_number_of_labels(tmp_path: Path, start: Start) -> None:
    onnx_graph(tmp_path / "model.onnx", with_softmax=True)
    runtime = start(
        image_folder(tmp_path, "onnx", "model.onnx", outputs={"labels": LABELS, "top_k": 10})
    )
    (out,) = runtime(rows(0.5))

    assert out.extra is not None
    assert len(out.extra["top_k"]) == len(LABELS)


def test_a_graph_for_another_image_size_fails_at_load(tmp_path: Path, start: Start) -> None:
    onnx_graph(tmp_path / "model.onnx", with_softmax=True, height=16, width=16)
    with pytest.raises(ModelLoadError, match=r"tried a blank one of shape \(1, 8, 8\)"):
        start(image_folder(tmp_path, "onnx", "model.onnx"))


def test_an_image_graph_names_its_scores_output(tmp_path: Path, start: Start) -> None:
    onnx_graph(tmp_path / "model.onnx", with_softmax=True)
    folder = image_folder(
        tmp_path, "onnx", "model.onnx", options={"probabilities_output": "logits"}
    )
    with pytest.raises(ValueError, match="the graph has no output 'logits'; outputs: scores"):
        start(folder)


def test_softmax_is_no_option_of_a_tabular_graph(tmp_path: Path, start: Start) -> None:
    onnx_graph(tmp_path / "model.onnx", with_softmax=True)
    folder = image_folder(
        tmp_path,
        "onnx",
        "model.onnx",
        task="regression",
        image=None,
        inputs=[{"name": "x", "type": "float"}],
        options={"softmax": True},
    )
    with pytest.raises(ValueError, match=r"unknown option\(s\) softmax for the onnx runtime"):
        start(folder)
