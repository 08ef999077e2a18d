"""The torch runtime: ``torch.export`` programs of image models, one stacked call per batch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from servekit.exceptions import ModelLoadError, PredictionError
from servekit.runtimes.torch import TorchRuntime, usable_cores
from tests.runtimes.conftest import Start
from tests.runtimes.image_models import (
    LABELS,
    BatchSize,
    Linear,
    expected_probabilities,
    export,
    image_folder,
    rows,
)


@pytest.fixture(scope="module")
def linear_pt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The linear classifier, exported once for the module."""
    return export(Linear(), tmp_path_factory.mktemp("torch") / "model.pt2")


@pytest.fixture
def linear(tmp_path: Path, linear_pt2: Path) -> Path:
    """A folder for the exported classifier, whose manifest a test may change."""
    (tmp_path / "model.pt2").write_bytes(linear_pt2.read_bytes())
    return tmp_path


@pytest.fixture
def restore_threads() -> Iterator[None]:
    """Put torch's intra-op thread count back as the test found it (it is the process's)."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_classifier_answers_its_top_label_score_and_top_k(linear: Path, start: Start) -> None:
    runtime = start(image_folder(linear, "torch", "model.pt2"))
    outputs = runtime(rows(1.0, 0.0, 0.25))

    assert isinstance(runtime, TorchRuntime)
    assert [o.prediction for o in outputs] == ["bright", "dark", "mid"]
    for out, level in zip(outputs, (1.0, 0.0, 0.25), strict=True):
        expected = expected_probabilities(level)
        assert out.probabilities is None
        assert out.extra is not None
        top = out.extra["top_k"]
        assert [t["label"] for t in top] == [LABELS[i] for i in np.argsort(-expected)]
        assert [t["probability"] for t in top] == pytest.approx(
            sorted(expected, reverse=True), abs=1e-6
        )
        assert out.extra["score"] == top[0]["probability"]
        assert all(type(t["probability"]) is float for t in top)  # JSON-ready, not numpy


def test_top_k_lists_as_many_labels_as_asked(linear: Path, start: Start) -> None:
    runtime = start(
        image_folder(linear, "torch", "model.pt2", outputs={"labels": LABELS, "top_k": 2})
    )
    (out,) = runtime(rows(1.0))

    assert out.extra is not None
    assert [t["label"] for t in out.extra["top_k"]] == ["bright", "mid"]


def test_softmax_false_takes_the_output_as_probabilities(linear: Path, start: Start) -> None:
    runtime = start(image_folder(linear, "torch", "model.pt2", options={"softmax": False}))
    (out,) = runtime(rows(1.0))

    assert out.extra is not None
    assert out.extra["score"] == pytest.approx(16.0)  # the logit itself, untouched


def test_a_batch_is_one_call_of_the_model(tmp_path: Path, start: Start) -> None:
    export(BatchSize(), tmp_path / "model.pt2")
    runtime = start(image_folder(tmp_path, "torch", "model.pt2", task="regression", outputs={}))

    assert [o.prediction for o in runtime(rows(*[0.5] * 7))] == [7.0] * 7
    assert [o.prediction for o in runtime(rows(0.5))] == [1.0]


def test_an_image_of_another_size_fails_at_load(linear: Path, start: Start) -> None:
    folder = image_folder(
        linear, "torch", "model.pt2", image={"mode": "L", "size": [9, 8], "resample": "box"}
    )
    with pytest.raises(
        ModelLoadError,
        match=r"does not run on the manifest's images \(tried a blank one of shape \(1, 8, 9\)",
    ):
        start(folder)


def test_labels_that_do_not_match_the_outputs_fail_at_load(linear: Path, start: Start) -> None:
    folder = image_folder(linear, "torch", "model.pt2", outputs={"labels": ["a", "b"]})
    with pytest.raises(ModelLoadError, match=r"shape \(rows, 2\), got \(1, 3\)"):
        start(folder)


def test_a_classifier_without_labels_is_refused(linear: Path, start: Start) -> None:
    with pytest.raises(ValueError, match=r"needs its labels \(outputs.labels\)"):
        start(image_folder(linear, "torch", "model.pt2", outputs={}))


def test_a_tabular_manifest_is_refused(linear: Path, start: Start) -> None:
    folder = image_folder(
        linear,
        "torch",
        "model.pt2",
        task="regression",
        image=None,
        inputs=[{"name": "x", "type": "float"}],
    )
    with pytest.raises(ValueError, match="the torch runtime takes image models"):
        start(folder)


def test_a_file_that_is_not_an_exported_program_fails_load(tmp_path: Path, start: Start) -> None:
    (tmp_path / "model.pt2").write_bytes(b"not a program")
    with pytest.raises(ModelLoadError, match=r"not a program saved with torch\.export\.save"):
        start(image_folder(tmp_path, "torch", "model.pt2"))


def test_unknown_options_are_refused(linear: Path, start: Start) -> None:
    with pytest.raises(ValueError, match=r"unknown option.*devise.*known options: device"):
        start(image_folder(linear, "torch", "model.pt2", options={"devise": "cpu"}))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_a_gpu_device_without_a_gpu_fails_load_clearly(
    linear: Path, start: Start, device: str
) -> None:
    folder = image_folder(linear, "torch", "model.pt2", options={"device": device})
    with pytest.raises(
        ModelLoadError, match=f"asks for device {device}, but this machine has no GPU"
    ):
        start(folder)


def test_auto_takes_the_cpu_when_there_is_no_gpu(linear: Path, start: Start) -> None:
    runtime = start(image_folder(linear, "torch", "model.pt2", options={"device": "auto"}))

    assert isinstance(runtime, TorchRuntime)
    assert runtime.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert runtime(rows(1.0))[0].prediction == "bright"


def test_an_unknown_device_is_refused(linear: Path, start: Start) -> None:
    with pytest.raises(ValueError, match=r"options\.device must be cpu, cuda, cuda:N or auto"):
        start(image_folder(linear, "torch", "model.pt2", options={"device": "tpu"}))


THREADS_SCRIPT = """
import sys
from pathlib import Path

import torch

from servekit.repository.loader import read_manifest
from servekit.runtimes.torch import TorchRuntime

TorchRuntime(read_manifest(Path(sys.argv[1]))).setup()
print(torch.get_num_threads(), torch.get_num_interop_threads())
"""


def test_threads_share_the_cores_among_concurrent_calls(linear: Path) -> None:
    # In a process of its own: torch lets its inter-op threads be set only before its first
    # parallel work, which other tests of this run may have done.
    folder = image_folder(linear, "torch", "model.pt2", batching={"concurrency": 2})
    done = subprocess.run(
        [sys.executable, "-c", THREADS_SCRIPT, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert done.stdout.split() == [str(max(1, usable_cores() // 2)), "1"]


@pytest.mark.usefixtures("restore_threads")
def test_the_threads_option_sets_them(linear: Path, start: Start) -> None:
    start(image_folder(linear, "torch", "model.pt2", options={"threads": 3}))

    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("threads", [0, "two", True])
def test_a_bad_threads_option_is_refused(linear: Path, start: Start, threads: object) -> None:
    with pytest.raises(ValueError, match=r"options\.threads must be a positive whole number"):
        start(image_folder(linear, "torch", "model.pt2", options={"threads": threads}))


def test_an_image_of_the_wrong_shape_fails_its_batch(linear: Path, start: Start) -> None:
    runtime = start(image_folder(linear, "torch", "model.pt2"))
    bad = [{"image": np.zeros((1, 4, 4), dtype=np.float32)}]
    with pytest.raises(PredictionError, match=r"expected images of shape \(1, 8, 8\)"):
        runtime(bad)
