"""Writing a model folder so that a server scanning the repository never sees half of one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from servekit.repository.manifest import MANIFEST_FILE


def merge_extra(manifest: dict[str, Any], extra: Mapping[str, Any] | None) -> None:
    """Add ``extra``'s manifest fields: a section's keys into the section, other fields as given."""
    for key, value in (extra or {}).items():
        manifest[key] = {**manifest.get(key, {}), **value} if isinstance(value, Mapping) else value


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> None:
    """The folder's ``servekit.yaml``, in the manifest's own order."""
    text = yaml.safe_dump(dict(manifest), sort_keys=False)
    (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")


def refuse_to_replace(folder: Path, overwrite: bool) -> None:
    """A folder that holds anything is replaced only when asked to."""
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} is not empty (pass overwrite=True to replace it)")


@contextmanager
def staged(folder: Path) -> Iterator[Path]:
    """A folder beside ``folder`` to write into, moved into its place once the block succeeds.

    Bad data, a model that does not run or a bad manifest never cost a served model: the old
    folder goes only at the end, and a failed block leaves nothing behind. NOTE: write the
    manifest file last: a server scanning the repository meanwhile must not find a second
    folder of the model (or a draft).
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield staging
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
