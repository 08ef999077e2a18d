"""The secret that signs tokens: set it in production; in development one is made and kept."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from servekit.exceptions import ConfigurationError

log = logging.getLogger("servekit.auth")
SECRET_FILE = "jwt-secret"
MIN_LENGTH = 32


def token_secret(configured: str | None, *, production: bool, data_dir: Path) -> str:
    """The configured secret; in development, a random one kept in ``data_dir`` (with a warning)."""
    if configured is not None:
        if len(configured) < MIN_LENGTH:
            raise ConfigurationError(
                f"SERVEKIT_AUTH__JWT_SECRET must have at least {MIN_LENGTH} characters"
            )
        return configured
    if production:
        raise ConfigurationError(
            "SERVEKIT_AUTH__JWT_SECRET must be set in production (SERVEKIT_ENVIRONMENT=production)"
        )
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Readable by the owner only, created in one step so it is never briefly world-readable.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    log.warning("development mode: tokens are signed with a generated secret kept in %s", path)
    return path.read_text().strip()
