"""Packaging an image classifier: the exported or copied artifact, the statistics of its
training images as the server prepares them, its samples, and never a lost served model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from servekit.exceptions import ManifestError, ModelLoadError
from servekit.inputs import pixels
from servekit.repository.images import ImageInput
from servekit.repository.loader import ModelFolder
from servekit.repository.manifest import InputKind, Task
from servekit.repository.package_image import package_image_model
from servekit.runtimes.registry import runtime_class
from tests.runtimes.image_models import LABELS, Linear, export, onnx_graph

SPEC: dict[str, Any] = {"mode": "L", "size": [8, 8], "resample": "box"}


def pictures(*levels: int, side: int = 16) -> list[np.ndarray]:
    """Grey uint8 pictures, each of one level on its left half and black on its right."""
    out = []
    for level in levels:
        picture = np.zeros((side, side), dtype=np.uint8)
        picture[:, : side // 2] = level
        out.append(picture)
    return out


def serve(folder: ModelFolder, arrays: list[Any]) -> list[Any]:
    """The folder's runtime, set up, run on the prepared images (as the server would)."""
    runtime = runtime_class(folder.manifest.runtime)(folder)
    runtime.setup()
    assert folder.manifest.image is not None
    return runtime([{"image": a} for a in arrays])


def test_a_module_is_exported_and_its_folder_serves(tmp_path: Path) -> None:
    training = pictures(255, 0, 100, 200)
    folder = package_image_model(
        Linear(), training, tmp_path / "linear", name="linear", labels=LABELS, image=SPEC
    )
    manifest = folder.manifest

    assert (manifest.runtime, manifest.artifact) == ("torch", "model.pt2")
    assert manifest.task is Task.image_classification
    assert manifest.input_kind is InputKind.image
    assert manifest.image == ImageInput.model_validate(SPEC)
    assert manifest.outputs.labels == LABELS
    assert manifest.training_stats is not None
    assert manifest.training_stats.rows == 4
    spec = manifest.image
    prepared = [pixels.prepare(Image.fromarray(p), spec).array for p in pictures(255, 0)]
    assert [o.prediction for o in serve(folder, prepared)] == ["bright", "dark"]


def test_the_statistics_are_what_the_server_computes(tmp_path: Path) -> None:
    training = pictures(255, 0, 60, 120, 180, side=40)
    folder = package_image_model(
        Linear(), training, tmp_path / "linear", name="linear", labels=LABELS, image=SPEC
    )
    spec = folder.manifest.image
    assert spec is not None
    assert folder.manifest.training_stats is not None
    stats = folder.manifest.training_stats.image
    assert stats is not None
    prepared = [pixels.prepare(Image.fromarray(p), spec) for p in training]
    scores = [o.extra["score"] for o in serve(folder, [p.array for p in prepared])]

    assert stats.count == 5
    assert stats.mean.mean == pytest.approx(np.mean([p.mean for p in prepared]))
    assert stats.mean.max == pytest.approx(255 / 255 / 2)
    assert stats.std.min == pytest.approx(0.0)  # the black picture has no contrast
    assert stats.std.max == pytest.approx(np.max([p.std for p in prepared]))
    assert stats.confidence is not None
    assert stats.confidence.count == 5
    assert stats.confidence.mean == pytest.approx(np.mean(scores))
    assert stats.confidence.min == pytest.approx(min(scores))


def test_images_may_be_files_pillow_images_or_arrays(tmp_path: Path) -> None:
    arrays = pictures(255, 30, 140)
    path = tmp_path / "one.png"
    Image.fromarray(arrays[0]).save(path)
    mixed: list[Any] = [path, str(path), Image.fromarray(arrays[1]), arrays[2]]
    same: list[Any] = [arrays[0], arrays[0], arrays[1], arrays[2]]
    a = package_image_model(Linear(), mixed, tmp_path / "a", name="a", labels=LABELS, image=SPEC)
    b = package_image_model(Linear(), same, tmp_path / "b", name="b", labels=LABELS, image=SPEC)

    assert a.manifest.training_stats == b.manifest.training_stats


def test_rgb_and_rgba_arrays_are_taken_too(tmp_path: Path) -> None:
    rgb = np.full((8, 8, 3), 200, dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((8, 8), 255, dtype=np.uint8)])
    folder = package_image_model(
        Linear(), [rgb, rgba], tmp_path / "m", name="m", labels=LABELS, image=SPEC
    )

    assert folder.manifest.training_stats is not None
    stats = folder.manifest.training_stats.image
    assert stats is not None
    assert stats.mean.min == pytest.approx(stats.mean.max)  # an opaque RGBA is its RGB


def test_samples_are_kept_as_pngs(tmp_path: Path) -> None:
    training = pictures(255, 0, 100, 200, 50)
    folder = package_image_model(
        Linear(), training, tmp_path / "m", name="m", labels=LABELS, image=SPEC, samples=2
    )
    kept = sorted((folder.path / "samples").iterdir())

    assert [p.name for p in kept] == ["001.png", "002.png"]
    for path, picture in zip(kept, training, strict=False):
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert np.array_equal(np.asarray(image), picture)


def test_an_exported_program_file_is_copied(tmp_path: Path) -> None:
    program = export(Linear(), tmp_path / "linear.pt2")
    folder = package_image_model(
        program, pictures(255), tmp_path / "m", name="m", labels=LABELS, image=SPEC
    )

    assert folder.manifest.runtime == "torch"
    assert (folder.path / "model.pt2").read_bytes() == program.read_bytes()


def test_an_onnx_file_is_copied_and_served_by_onnx(tmp_path: Path) -> None:
    graph = onnx_graph(tmp_path / "linear.onnx", with_softmax=True)
    folder = package_image_model(
        graph, pictures(255, 0), tmp_path / "m", name="m", labels=LABELS, image=SPEC
    )

    assert (folder.manifest.runtime, folder.manifest.artifact) == ("onnx", "model.onnx")
    assert folder.manifest.training_stats is not None
    assert folder.manifest.training_stats.image is not None
    confidence = folder.manifest.training_stats.image.confidence
    assert confidence is not None
    assert confidence.max <= 1.0  # probabilities: the graph ends in a softmax


def test_a_module_in_training_mode_is_exported_for_inference_and_put_back(
    tmp_path: Path,
) -> None:
    module = torch.nn.Sequential(torch.nn.Dropout(0.9), Linear())
    module.train()
    folder = package_image_model(
        module, pictures(255), tmp_path / "m", name="m", labels=LABELS, image=SPEC
    )
    same = [np.full((1, 8, 8), 0.5, dtype=np.float32)] * 8

    assert module.training
    scores = {o.extra["score"] for o in serve(folder, same)}
    assert len(scores) == 1  # no dropout in the served program


def test_a_bad_manifest_never_replaces_a_served_model(tmp_path: Path) -> None:
    target = tmp_path / "m"
    served = package_image_model(
        Linear(), pictures(255), target, name="m", labels=LABELS, image=SPEC
    )
    before = sorted(p.name for p in target.rglob("*"))
    with pytest.raises(ManifestError, match="would be invalid"):
        package_image_model(
            Linear(),
            pictures(255),
            target,
            name="m",
            labels=LABELS,
            image={**SPEC, "layout": "WHC"},
            overwrite=True,
        )

    assert sorted(p.name for p in target.rglob("*")) == before
    assert served.manifest.image is not None


def test_a_model_that_cannot_take_the_images_never_replaces_a_served_one(
    tmp_path: Path,
) -> None:
    target = tmp_path / "m"
    package_image_model(Linear(), pictures(255), target, name="m", labels=LABELS, image=SPEC)
    manifest = (target / "servekit.yaml").read_text()
    with pytest.raises(ModelLoadError, match="does not run on the manifest's images"):
        package_image_model(
            export(Linear(), tmp_path / "linear.pt2"),
            pictures(255),
            target,
            name="m",
            labels=LABELS,
            image={**SPEC, "size": [16, 16]},
            overwrite=True,
        )

    assert (target / "servekit.yaml").read_text() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linear.pt2", "m"]  # nothing staged left


def test_a_folder_that_is_not_empty_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        package_image_model(
            Linear(), pictures(255), tmp_path / "m", name="m", labels=LABELS, image=SPEC
        )


@pytest.mark.parametrize(
    ("images", "error"),
    [
        ([], "needs training images"),
        ([np.zeros((8, 8), dtype=np.float32)], "must be uint8"),
        ([np.zeros((8, 8, 2), dtype=np.uint8)], r"not \(8, 8, 2\)"),
        ([42], "a PIL image, a file path or a uint8 array"),
    ],
)
def test_bad_training_images_are_refused(tmp_path: Path, images: list[Any], error: str) -> None:
    with pytest.raises((ValueError, TypeError), match=error):
        package_image_model(Linear(), images, tmp_path / "m", name="m", labels=LABELS, image=SPEC)
    assert not (tmp_path / "m").exists()


def test_a_file_that_is_not_an_image_is_named(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match=r"training image 1 \(.*notes\.png\): cannot identify"):
        package_image_model(
            Linear(), [pictures(9)[0], text], tmp_path / "m", name="m", labels=LABELS, image=SPEC
        )


def test_a_model_is_a_module_or_a_model_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.pt2\) or an ONNX graph \(\.onnx\)"):
        package_image_model(
            tmp_path / "model.joblib",
            pictures(255),
            tmp_path / "m",
            name="m",
            labels=LABELS,
            image=SPEC,
        )
    with pytest.raises(TypeError, match=r"must be a torch\.nn\.Module"):
        package_image_model(
            object(), pictures(255), tmp_path / "m", name="m", labels=LABELS, image=SPEC
        )
