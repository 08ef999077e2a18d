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


class NonFiniteOutputError(InputError):
    """The model answered NaN or an infinity for a row: its input is beyond what the model can compute."""


class InvalidImage(InputError):
    """An uploaded image cannot be taken: corrupt, truncated, too many pixels or frames (422)."""


class FileTooLarge(ServekitError):
    """An uploaded file grew past its model's size limit while it was being received (413)."""


class MethodNotAllowed(ServekitError):
    """The path is served, but not for this method (405, with the methods it takes)."""

    def __init__(self, allowed: list[str], reason: str = "") -> None:
        super().__init__(reason)
        self.allowed = allowed
        self.reason = reason


class PredictionError(ServekitError):
    """The model raised while predicting."""


class Overloaded(ServekitError):
    """The model's queue is full, or the server is shutting down; the client should retry later."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueUnavailable(Overloaded):
    """The job queue (Redis) cannot be reached; the client should retry later (503)."""


class DeadlineExceeded(ServekitError):
    """The request's deadline passed before its answer was ready."""


class InvalidHeader(ServekitError):
    """A request header servekit reads has a value it cannot use."""


class ClientDisconnected(ServekitError):
    """The client went away before its answer was ready; its queued rows were dropped."""


class DatabaseError(ServekitError):
    """The database cannot be reached, or its schema is not the one this servekit needs."""


class Conflict(ServekitError):
    """The thing to create exists already (a user with this email, say)."""


class NotAuthenticated(ServekitError):
    """No credentials, or credentials that are wrong, expired or not ours (401)."""


class Forbidden(ServekitError):
    """Authenticated, but this needs a role the caller does not have (403)."""


class TooManyAttempts(ServekitError):
    """Too many failed logins from this account or address; ``retry_after`` seconds to wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigurationError(ServekitError):
    """The settings cannot be served as they are (a missing production secret, say)."""


class NotFound(ServekitError):
    """No such thing, or one the caller may not see (404 either way)."""


class UnsupportedMediaType(ServekitError):
    """The body is not in the form the route reads (415): JSON where JSON is expected."""
