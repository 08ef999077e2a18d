"""Reading model folders and the repository that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version
from pydantic import ValidationError

from servekit.exceptions import ManifestError, ModelNotFound, RepositoryError
from servekit.repository.manifest import MANIFEST_FILE, Manifest


@dataclass(frozen=True)
class ModelFolder:
    """A validated manifest and the folder it came from."""

    manifest: Manifest
    path: Path

    def artifact_path(self) -> Path | None:
        """Where the artifact lies, or None when the runtime needs none."""
        return None if self.manifest.artifact is None else self.path / self.manifest.artifact


def _describe(error: ValidationError) -> str:
    lines = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def read_manifest(folder: Path) -> ModelFolder:
    """Read and validate ``folder/servekit.yaml``; errors name the file, the field and the problem."""
    path = folder / MANIFEST_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: no manifest found") from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ManifestError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ManifestError(f"{path}: invalid manifest\n{_describe(exc)}") from exc
    model = ModelFolder(manifest=manifest, path=folder)
    artifact = model.artifact_path()
    if artifact is not None and not artifact.exists():
        raise ManifestError(f"{path}: artifact: file {artifact} does not exist")
    return model


def _version_key(version: str) -> tuple[int, Version | str]:
    # PEP 440 versions order numerically ("10" after "9"); anything else falls back to text order.
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


@dataclass
class Repository:
    """Every model folder found under one root, grouped by name and ordered by version."""

    root: Path
    models: dict[str, dict[str, ModelFolder]] = field(default_factory=dict)

    @classmethod
    def scan(cls, root: Path) -> Repository:
        """Find manifests at ``root``, ``root/*`` and ``root/*/*`` (``name/version`` layouts)."""
        if not root.is_dir():
            raise RepositoryError(f"model repository {root} is not a folder")
        manifests = sorted(
            {
                *root.glob(MANIFEST_FILE),
                *root.glob(f"*/{MANIFEST_FILE}"),
                *root.glob(f"*/*/{MANIFEST_FILE}"),
            }
        )
        if not manifests:
            raise RepositoryError(f"model repository {root} holds no {MANIFEST_FILE}")
        repo = cls(root=root)
        for path in manifests:
            repo.add(read_manifest(path.parent))
        return repo

    def add(self, model: ModelFolder) -> None:
        """Add one model folder; a second folder with the same name and version is an error."""
        m = model.manifest
        versions = self.models.setdefault(m.name, {})
        if m.version in versions:
            raise RepositoryError(
                f"{m.key} is defined twice: in {versions[m.version].path} and in {model.path}"
            )
        versions[m.version] = model
        self.models[m.name] = dict(sorted(versions.items(), key=lambda kv: _version_key(kv[0])))

    def get(self, name: str, version: str | None = None) -> ModelFolder:
        """The given version of a model, or its latest."""
        versions = self.models.get(name)
        if versions is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelNotFound(f"model {name!r} is not served; served models: {known}")
        if version is None:
            return next(reversed(versions.values()))
        if version not in versions:
            raise ModelNotFound(
                f"model {name!r} has no version {version!r}; versions: {', '.join(versions)}"
            )
        return versions[version]

    def all(self) -> list[ModelFolder]:
        """Every model folder, by name then version."""
        return [mf for name in sorted(self.models) for mf in self.models[name].values()]
