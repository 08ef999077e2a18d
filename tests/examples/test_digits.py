"""The digits example: a PyTorch network on scikit-learn's 8x8 digits, served through the torch
runtime from images prepared as uploads are, and the sample pictures the repository ships."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from servekit.examples import digits
from servekit.inputs import pixels
from servekit.repository.images import ImageInput
from servekit.repository.loader import ModelFolder, read_manifest
from servekit.runtimes.base import Runtime
from servekit.runtimes.registry import runtime_class

SHIPPED = Path(__file__).parents[2] / "examples" / "digits"


@pytest.fixture(scope="session")
def digits_folder(digits_dir: Path) -> ModelFolder:
    """The digits model as ``servekit examples train`` writes it (trained once per run)."""
    return read_manifest(digits_dir / "digits")


@pytest.fixture(scope="session")
def runtime(digits_folder: ModelFolder) -> Runtime:
    """The digits model's runtime, set up."""
    loaded = runtime_class(digits_folder.manifest.runtime)(digits_folder)
    loaded.setup()
    return loaded


def spec_of(folder: ModelFolder) -> ImageInput:
    assert folder.manifest.image is not None
    return folder.manifest.image


def test_held_out_digits_are_read_with_at_least_95_percent_accuracy(
    digits_folder: ModelFolder, runtime: Runtime
) -> None:
    images, labels = digits.dataset()
    _, held_out = digits.split(len(images))
    spec = spec_of(digits_folder)
    # As a client would send them: pictures larger than 8x8, shrunk by the server's box resize.
    prepared = [
        pixels.prepare(Image.fromarray(digits.upscaled(images[i], 5)), spec).array for i in held_out
    ]
    outputs = runtime([{"image": a} for a in prepared])
    accuracy = np.mean(
        [o.prediction == str(labels[i]) for o, i in zip(outputs, held_out, strict=True)]
    )

    assert len(held_out) == 359
    assert accuracy >= 0.95


def test_the_folder_describes_its_images_and_statistics(digits_folder: ModelFolder) -> None:
    manifest = digits_folder.manifest
    spec = spec_of(digits_folder)

    assert (manifest.runtime, manifest.task.value) == ("torch", "image_classification")
    assert (spec.mode, spec.size, spec.resample, spec.layout) == ("L", (8, 8), "box", "CHW")
    assert [f.value for f in spec.formats] == ["png", "jpeg", "webp"]
    assert manifest.outputs.labels == [str(d) for d in range(10)]
    assert manifest.training_stats is not None
    stats = manifest.training_stats.image
    assert stats is not None
    assert stats.count == manifest.training_stats.rows == 1438
    assert stats.confidence is not None
    assert stats.confidence.q50 > 0.99
    assert len(list((digits_folder.path / "samples").glob("*.png"))) == 8


@pytest.mark.parametrize(("name", "digit"), [("seven", "7"), ("three", "3"), ("zero", "0")])
def test_the_shipped_digit_pictures_are_read_as_their_digit(
    digits_folder: ModelFolder, runtime: Runtime, name: str, digit: str
) -> None:
    with (SHIPPED / f"{name}.png").open("rb") as file:
        prepared = pixels.read(file, spec_of(digits_folder))
    (out,) = runtime([{"image": prepared.array, "sha256": "0" * 64}])

    assert (prepared.width, prepared.height, prepared.format) == (64, 64, "png")
    assert out.prediction == digit
    assert out.extra is not None
    assert out.extra["score"] > 0.9


def test_the_shipped_noise_has_far_less_contrast_than_any_training_digit(
    digits_folder: ModelFolder,
) -> None:
    with (SHIPPED / "noise.png").open("rb") as file:
        prepared = pixels.read(file, spec_of(digits_folder))
    assert digits_folder.manifest.training_stats is not None
    stats = digits_folder.manifest.training_stats.image
    assert stats is not None

    assert (prepared.width, prepared.height) == (256, 256)
    assert prepared.std < stats.std.min / 10


def test_the_shipped_pictures_are_what_write_samples_makes(
    digits_folder: ModelFolder, tmp_path: Path
) -> None:
    written = digits.write_samples(tmp_path, digits_folder)

    assert [p.name for p in written] == ["seven.png", "three.png", "zero.png", "noise.png"]
    for path in written:
        with Image.open(path) as made, Image.open(SHIPPED / path.name) as shipped:
            assert made.mode == shipped.mode
            assert np.array_equal(np.asarray(made), np.asarray(shipped))


def test_training_is_the_same_on_every_run() -> None:
    images, labels = digits.dataset()
    first = digits.fit(images[:200], labels[:200], epochs=1)
    second = digits.fit(images[:200], labels[:200], epochs=1)

    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


TRAIN_WITHOUT_TORCH = """
import sys


class NoTorch:
    \"\"\"Fails every import of torch and spaCy, as on a machine without those extras.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "spacy"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTorch())
from servekit.cli import main

sys.argv = ["servekit", "examples", "train", "--out", sys.argv[1], *sys.argv[2:]]
main()
"""


def without_torch(out: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TRAIN_WITHOUT_TORCH, str(out), *names],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_torch_or_spacy_digits_and_ner_are_skipped_in_a_line_each(
    tmp_path: Path,
) -> None:
    done = without_torch(tmp_path / "models")

    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "digits skipped: PyTorch is not installed (pip install 'servekit[torch]')",
        "ner skipped: spaCy or its English pipeline is not installed (pip install 'servekit[text]')",
    ]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "forecast",
        "iris",
        "taxifare",
    ]


def test_without_torch_digits_by_name_is_an_error(tmp_path: Path) -> None:
    done = without_torch(tmp_path / "models", "digits")

    assert done.returncode != 0
    assert "digits: PyTorch is not installed (pip install 'servekit[torch]')" in done.stderr
