"""servekit: a production server for machine-learning models, built on FastAPI."""

from __future__ import annotations

__version__ = "0.1.0"

from servekit.app import create_app
from servekit.config import Settings
from servekit.repository.package import package_model

__all__ = ["Settings", "__version__", "create_app", "package_model"]
