"""The tutorials' image server: FastAPI's ``UploadFile``, Pillow, one model call per request.

It prepares an image as servekit does for the digits model (grey, box-resized to the model's
size, scaled to 0-1) and calls the same exported program, in a sync route (FastAPI's thread pool).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from fastapi import FastAPI, UploadFile
from PIL import Image

from servekit.repository.loader import read_manifest

folder = Path(os.environ["BENCH_MODEL"])
manifest = read_manifest(folder).manifest
assert manifest.image is not None
assert manifest.artifact is not None
size = manifest.image.size
labels = manifest.outputs.labels or []
module = torch.export.load(folder / manifest.artifact).module()

app = FastAPI()


@app.post("/predict")
def predict(file: UploadFile) -> dict[str, object]:
    """One image, one call of the model."""
    image = Image.open(file.file).convert("L").resize(size, Image.Resampling.BOX)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255)[None, None]
    with torch.inference_mode():
        proba = torch.softmax(module(x), dim=1)[0]
    best = int(proba.argmax())
    return {
        "prediction": labels[best],
        "probabilities": dict(zip(labels, proba.tolist(), strict=True)),
    }
