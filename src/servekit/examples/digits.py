"""A small convolutional network (PyTorch) that reads handwritten digits from grey images.

Trained on the digits bundled with scikit-learn: 1,797 images of 8x8 pixels (values 0-16), of
which a fifth is held out. The server takes a PNG, JPEG or WebP of any size, converts it to
grey and box-resizes it to 8x8: each of the model's pixels is the mean of the picture's pixels
in its cell. A digit is light on dark, as in the training images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torch import nn

from servekit.repository.loader import ModelFolder
from servekit.repository.package_image import package_image_model
from servekit.runtimes.base import RowOutput
from servekit.runtimes.registry import runtime_class

LABELS = [str(d) for d in range(10)]
IMAGE: dict[str, Any] = {
    "formats": ["png", "jpeg", "webp"],
    "mode": "L",
    "size": [8, 8],
    "resample": "box",
    "scale": 1 / 255,
    "layout": "CHW",
}
# The training images are 8x8 blown up to 32x32 by repeating each pixel: the box resize the
# server does gives back the exact 8x8, so the statistics describe what the model was fed.
UPSCALE = 4
HELD_OUT = 0.2
EPOCHS = 12
BATCH = 128
SAMPLE_DIGITS = {"seven": 7, "three": 3, "zero": 0}
CONFIDENT = 0.99


def dataset() -> tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 images (n, 8, 8) of 0-255 (from 0-16), and each one's digit."""
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the training images and of the held-out ones, the same on every call."""
    order = np.random.default_rng(0).permutation(n)
    cut = round(n * (1 - HELD_OUT))
    return np.sort(order[:cut]), np.sort(order[cut:])


def as_input(images: np.ndarray) -> torch.Tensor:
    """uint8 images (n, 8, 8) as the server hands them to the model: float32 (n, 1, 8, 8).

    NOTE: multiplied by float32(1/255), as the server scales, not divided by 255: the two
    differ in the last bit of some values, and the model is fed what it will be served.
    """
    return torch.from_numpy(images[:, np.newaxis].astype(np.float32) * np.float32(IMAGE["scale"]))


def upscaled(image: np.ndarray, factor: int) -> np.ndarray:
    """The image with each pixel repeated ``factor`` times across and down."""
    return np.asarray(image.repeat(factor, axis=0).repeat(factor, axis=1))


class DigitNet(nn.Module):
    """Two 3x3 convolutions, a 2x2 max pool and a linear layer: logits of the ten digits."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classify = nn.Linear(32 * 4 * 4, len(LABELS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.classify(self.features(x))
        return logits


def fit(images: np.ndarray, digits: np.ndarray, epochs: int = EPOCHS) -> DigitNet:
    """Train the network with Adam on mini-batches, the same way on every call."""
    # Its own random state: the caller's torch random numbers are neither used nor changed.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = DigitNet()
        x, y = as_input(images), torch.from_numpy(digits)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
        loss = nn.CrossEntropyLoss()
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(x))
            for start in range(0, len(x), BATCH):
                batch = order[start : start + BATCH]
                optimiser.zero_grad()
                loss(model(x[batch]), y[batch]).backward()
                optimiser.step()
    return model.eval()


def train(out_dir: Path) -> ModelFolder:
    """Fit the network on the training images and package it."""
    images, digits = dataset()
    train_at, _ = split(len(images))
    model = fit(images[train_at], digits[train_at])
    return package_image_model(
        model,
        [upscaled(image, UPSCALE) for image in images[train_at]],
        out_dir,
        name="digits",
        version="1",
        labels=LABELS,
        image=IMAGE,
        description=(
            "A handwritten digit (0-9) from a grey image, light on dark (a PyTorch network "
            "trained on scikit-learn's 8x8 digits)."
        ),
        overwrite=True,
    )


def _score(out: RowOutput) -> float:
    return float(out.extra["score"]) if out.extra else 0.0


def write_samples(out_dir: Path, folder: ModelFolder, size: int = 64) -> list[Path]:
    """Write seven.png, three.png and zero.png, and noise.png, into ``out_dir``.

    Each digit is a held-out image of it that the model reads with confidence, as a grey PNG of
    ``size`` pixels a side. noise.png is an RGB picture of random noise, which the server should
    flag as unlike the training images: shrunk to 8x8, its contrast is gone.
    """
    images, digits = dataset()
    train_at, held_out = split(len(images))
    runtime = runtime_class(folder.manifest.runtime)(folder)
    runtime.setup()
    outputs = runtime([{"image": a} for a in as_input(images[held_out]).numpy()])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, digit in SAMPLE_DIGITS.items():
        # The most typical of those read with confidence (nearest the mean training image of
        # its digit): the one the model is surest of can be an unusual hand.
        typical = images[train_at][digits[train_at] == digit].mean(axis=0)
        sure = [
            i
            for out, i in zip(outputs, held_out, strict=True)
            if digits[i] == digit and out.prediction == str(digit) and _score(out) >= CONFIDENT
        ]
        if not sure:
            raise ValueError(f"the model reads none of the held-out {digit}s with confidence")
        best = min(sure, key=lambda i: float(np.square(images[i] - typical).sum()))
        picture = upscaled(images[best], size // 8)
        written.append(out_dir / f"{name}.png")
        Image.fromarray(picture).save(written[-1], format="PNG")
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    written.append(out_dir / "noise.png")
    Image.fromarray(noise).save(written[-1], format="PNG")
    return written
