"""Reading a classifier's scores as image models answer: the top label and its k most probable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from servekit.runtimes.base import RowOutput

DEFAULT_TOP_K = 5


def softmax(logits: Any) -> Any:
    """Probabilities from one row of logits per row (float64, each row summing to 1)."""
    values = np.asarray(logits, dtype=np.float64)
    # Shifted by each row's largest value, so that large logits do not overflow exp.
    exp = np.exp(values - values.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def top_k_outputs(probabilities: Any, labels: Sequence[str], k: int | None) -> list[RowOutput]:
    """One output per row: the most probable label, its probability (``score``) and the ``k``
    most probable labels (``top_k``, most probable first; ``k`` None means 5, at most every label).

    Not every label's probability, as tabular classifiers answer: an image model may have a
    thousand classes, and an answer that lists them all is mostly noise.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise ValueError(
            f"expected probabilities of shape (rows, {len(labels)}), got {probs.shape}"
        )
    k = min(k or DEFAULT_TOP_K, len(labels))
    # A stable sort of the negated scores: equal probabilities keep the labels' order.
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    # NOTE: through Python lists, as in tabular.classification_outputs: iterating numpy arrays
    # makes an object per row and a numpy scalar per value, several times the cost.
    outputs = []
    for indices, row in zip(order.tolist(), probs.tolist(), strict=True):
        top = [{"label": labels[i], "probability": row[i]} for i in indices]
        outputs.append(
            RowOutput(
                prediction=top[0]["label"],
                extra={"score": top[0]["probability"], "top_k": top},
            )
        )
    return outputs
