"""servekit: a production server for machine-learning models, built on FastAPI."""

from __future__ import annotations

__version__ = "0.1.0"

from servekit.app import create_app
from servekit.config import Settings
from servekit.repository.package import package_model
from servekit.repository.package_image import package_image_model
from servekit.repository.package_text import package_text_model

__all__ = [
    "Settings",
    "__version__",
    "create_app",
    "package_image_model",
    "package_model",
    "package_text_model",
]
