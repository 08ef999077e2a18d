"""PyTorch image models saved with ``torch.export.save`` (a ``.pt2`` file).

Why ``torch.export`` and not TorchScript or a pickled module: an exported program is the model's
graph and weights alone, loaded without the training code that defined its class (a pickled
``nn.Module`` needs that code importable, at the same path, in every server), and checked
against the shapes it was exported for. TorchScript did the same but is in maintenance only;
``torch.export`` is what PyTorch recommends for running a model outside Python's training code,
and the format its other deployment paths (AOTInductor, ExecuTorch, ONNX) start from.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from servekit.exceptions import ModelLoadError
from servekit.repository.manifest import Task
from servekit.runtimes import classes, images, tabular
from servekit.runtimes.base import Row, RowOutput, Runtime

log = logging.getLogger("servekit.runtimes")

OPTIONS = ("device", "threads", "softmax")


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class TorchRuntime(Runtime):
    """A ``torch.export`` program (``.pt2``) that takes a batch of images.

    Options: ``device`` — ``cpu`` (the default), ``cuda`` or ``cuda:N`` (load fails without that
    GPU), or ``auto`` (the GPU when there is one); ``threads`` — torch's threads per model call
    (by default the cores shared out among ``batching.concurrency`` calls); ``softmax`` — whether
    the model's output is logits, turned into probabilities here (true, the default), or already
    probabilities (false).
    """

    def setup(self) -> None:
        """Load the program onto its device, size torch's thread pools, and try one image."""
        self.check_options(OPTIONS)
        self.spec = images.image_spec(self)
        self.softmax = self.manifest.options.get("softmax", True)
        if not isinstance(self.softmax, bool):
            raise ValueError(f"options.softmax must be true or false, not {self.softmax!r}")
        # NOTE: torch is imported here, with the model: it is an optional extra, and its import
        # takes seconds that a server without a PyTorch model should not spend.
        try:
            import torch
        except ImportError as exc:
            raise ModelLoadError(
                f"{self.manifest.key} needs PyTorch, which is not installed here "
                f"(pip install 'servekit[torch]'): {exc}"
            ) from exc
        self.torch = torch
        self.device = self._device()
        self._size_threads()
        path = self.model.artifact_path()
        if path is None:
            raise ValueError("the torch runtime needs an artifact (a .pt2 file)")
        try:
            program = torch.export.load(path)
        except Exception as exc:
            raise ModelLoadError(
                f"{path} is not a program saved with torch.export.save: {exc}"
            ) from exc
        if self.device.type != "cpu":
            from torch.export.passes import move_to_device_pass

            program = move_to_device_pass(program, self.device)
        # NOTE: the module runs as it was exported, in eval mode when package_image_model wrote
        # it; an exported module refuses .eval() and .train(), so neither is called here.
        self.module = program.module()
        self.with_labels = self.manifest.task is Task.image_classification
        images.trial_run(self, self.spec)

    def _device(self) -> Any:
        torch = self.torch
        wanted = str(self.manifest.options.get("device", "cpu"))
        if wanted == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if wanted == "cpu":
            return torch.device("cpu")
        if wanted != "cuda" and not wanted.startswith("cuda:"):
            raise ValueError(f"options.device must be cpu, cuda, cuda:N or auto, not {wanted!r}")
        try:
            device = torch.device(wanted)
        except RuntimeError:
            raise ValueError(f"options.device: {wanted!r} is not a device") from None
        if not torch.cuda.is_available():
            raise ModelLoadError(
                f"{self.manifest.key} asks for device {wanted}, but this machine has no GPU that "
                "PyTorch can use (set options.device to cpu, or auto to take a GPU only when "
                "there is one)"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ModelLoadError(
                f"{self.manifest.key} asks for device {wanted}, but this machine has "
                f"{count} GPU(s) (cuda:0 to cuda:{count - 1})"
            )
        return device

    def _size_threads(self) -> None:
        torch = self.torch
        threads = self.manifest.options.get("threads")
        if threads is None:
            # Each of the model's concurrent calls gets its share of the cores: together they
            # fill the machine without more threads than cores fighting over it.
            threads = max(1, usable_cores() // self.manifest.batching.concurrency)
        elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"options.threads must be a positive whole number, not {threads!r}")
        # NOTE: both settings are the process's, not this model's: with several PyTorch models
        # in one server, the last one loaded sets them; and each of a server's --workers
        # processes sizes them for itself (options.threads then shares the cores among them).
        torch.set_num_threads(threads)
        if torch.get_num_interop_threads() != 1:
            # One call runs one graph: inter-op parallelism only adds threads that compete with
            # the intra-op ones.
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:
                # NOTE: torch allows this once per process, and only before its first parallel
                # work: a second model, or one loaded after others ran, keeps what is set.
                log.debug(
                    "torch's inter-op threads were already set; left at %d",
                    torch.get_num_interop_threads(),
                )

    def decode(self, rows: list[Row]) -> Any:
        """The rows' image arrays, stacked into one batch."""
        return images.stack(rows, self.spec)

    def predict(self, batch: Any) -> Any:
        """One call of the module on the whole batch, without autograd's bookkeeping."""
        torch = self.torch
        with torch.inference_mode():
            output = self.module(torch.from_numpy(batch).to(self.device))
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"the model returned {type(output).__name__}; servekit takes one tensor "
                    "(rows, classes) or (rows,) from a PyTorch model"
                )
            if output.is_floating_point():
                output = output.float()  # numpy has no bfloat16, and probabilities want float32
            if self.with_labels and self.softmax:
                output = torch.softmax(output, dim=1)
            return output.cpu().numpy()

    def encode(self, output: Any) -> list[RowOutput]:
        """The top labels for classifiers, the value for anything else."""
        if self.with_labels:
            labels = self.manifest.outputs.labels or []
            return classes.top_k_outputs(output, labels, self.manifest.outputs.top_k)
        return tabular.plain_outputs(np.asarray(output))
