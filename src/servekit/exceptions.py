"""One error tree for servekit; the API turns each kind into its own HTTP status."""

from __future__ import annotations

from typing import Any


class ServekitError(Exception):
    """Base of every error servekit raises on purpose."""


class ManifestError(ServekitError):
    """A model folder's manifest is missing, unreadable or invalid."""


class RepositoryError(ServekitError):
    """The model repository cannot be served as it is (empty, duplicate versions, missing artifact)."""


class RuntimeNotFound(ServekitError):
    """A manifest names a runtime that is not installed."""


class ModelLoadError(ServekitError):
    """A model's artifact failed to load."""


class ModelNotFound(ServekitError):
    """No served model has this name (or this version)."""


class InputError(ServekitError):
    """A request's input is invalid; ``errors`` lists each problem with its location."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class OutOfDistributionError(InputError):
    """Rows were refused because the model's policy rejects out-of-distribution input."""


class PredictionError(ServekitError):
    """The model raised while predicting."""
