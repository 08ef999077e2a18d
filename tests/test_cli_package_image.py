"""``servekit package`` for image classifiers: a .pt2 or .onnx model and a folder of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from servekit.cli import app
from servekit.repository.loader import read_manifest
from tests.runtimes.image_models import LABELS, Linear, export, onnx_graph

LEVELS = {"bright": 250, "dark": 5, "mid": 64}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def by_label(tmp_path: Path) -> Path:
    """Training images in one sub-folder per label, two grey PNGs each (and a stray text file)."""
    root = tmp_path / "images"
    for label, level in LEVELS.items():
        (root / label).mkdir(parents=True)
        for i in range(2):
            picture = np.full((16, 16), level + i, dtype=np.uint8)
            Image.fromarray(picture).save(root / label / f"{i}.png")
    (root / "bright" / "README.txt").write_text("not an image")
    return root


GREY_8 = ("--image-size", "8x8", "--mode", "L", "--resample", "box")


def test_a_pt2_model_is_packaged_with_its_labels_from_the_folders(
    tmp_path: Path, by_label: Path
) -> None:
    model = export(Linear(), tmp_path / "linear.pt2")
    out = tmp_path / "out"
    result = run(
        "package", "--model", str(model), "--images", str(by_label), "--name", "linear",
        "--out", str(out), *GREY_8,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "3 labels, 6 training images" in result.stdout
    manifest = read_manifest(out).manifest
    assert manifest.runtime == "torch"
    assert manifest.outputs.labels == sorted(LEVELS) == LABELS
    assert manifest.image is not None
    assert (manifest.image.mode, manifest.image.size) == ("L", (8, 8))
    assert manifest.training_stats is not None
    assert manifest.training_stats.rows == 6


def test_an_onnx_model_in_a_flat_folder_takes_labels(tmp_path: Path) -> None:
    model = onnx_graph(tmp_path / "linear.onnx", with_softmax=False)
    root = tmp_path / "images"
    root.mkdir()
    Image.new("L", (8, 8), 200).save(root / "a.png")
    out = tmp_path / "out"
    result = run(
        "package", "--model", str(model), "--images", str(root), "--name", "linear",
        "--out", str(out), "--labels", ",".join(LABELS), "--softmax", *GREY_8,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    manifest = read_manifest(out).manifest
    assert (manifest.runtime, manifest.options) == ("onnx", {"softmax": True})
    assert manifest.training_stats is not None
    assert manifest.training_stats.image is not None
    assert manifest.training_stats.image.confidence is not None
    assert manifest.training_stats.image.confidence.max <= 1.0


def test_a_flat_folder_without_labels_is_refused(tmp_path: Path) -> None:
    model = export(Linear(), tmp_path / "linear.pt2")
    root = tmp_path / "images"
    root.mkdir()
    Image.new("L", (8, 8)).save(root / "a.png")
    result = run(
        "package", "--model", str(model), "--images", str(root), "--name", "x",
        "--out", str(tmp_path / "out"), *GREY_8,
    )  # fmt: skip

    assert result.exit_code == 2
    assert "give the model's labels with --labels" in result.stderr


def test_a_pt2_model_needs_images(tmp_path: Path) -> None:
    model = export(Linear(), tmp_path / "linear.pt2")
    result = run("package", "--model", str(model), "--name", "x", "--out", str(tmp_path / "o"))

    assert result.exit_code == 2
    assert "give its training images (--images)" in result.stderr


def test_a_tabular_model_needs_data(tmp_path: Path) -> None:
    result = run(
        "package", "--model", str(tmp_path / "m.joblib"), "--name", "x", "--out", str(tmp_path)
    )

    assert result.exit_code == 2
    assert "give the training data (--data)" in result.stderr


def test_a_model_that_cannot_take_the_images_is_a_clear_error(
    tmp_path: Path, by_label: Path
) -> None:
    model = export(Linear(), tmp_path / "linear.pt2")
    result = run(
        "package", "--model", str(model), "--images", str(by_label), "--name", "linear",
        "--out", str(tmp_path / "out"), "--image-size", "16x16", "--mode", "L",
    )  # fmt: skip

    assert result.exit_code == 2
    assert "does not run on the manifest's images" in result.stderr
    assert not (tmp_path / "out").exists()
