"""servekit: a production server for machine-learning models, built on FastAPI."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from servekit.app import create_app
    from servekit.config import Settings
    from servekit.repository.package import package_model
    from servekit.repository.package_image import package_image_model
    from servekit.repository.package_text import package_text_model

# NOTE: imported when first asked for, not with the package: ``servekit.loadtest`` runs Locust,
# which patches the standard library with gevent and must do so before redis or ssl load.
_LAZY = {
    "create_app": "servekit.app",
    "Settings": "servekit.config",
    "package_model": "servekit.repository.package",
    "package_image_model": "servekit.repository.package_image",
    "package_text_model": "servekit.repository.package_text",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'servekit' has no attribute {name!r}")


__all__ = [
    "Settings",
    "__version__",
    "create_app",
    "package_image_model",
    "package_model",
    "package_text_model",
]
