"""Third-party browser files of the page, fetched from the npm registry at setup, checked, kept.

The page's own files are in ``static/``; the libraries it uses (Chart.js) are not in the
repository: ``python -m servekit.ui.assets`` (run by ``scripts/setup`` and the Dockerfile) fetches
each pinned package's tarball, checks it against the integrity hash its registry publishes, and
writes the files the page loads, with their licence, into ``static/vendor/``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).parent / "static" / "vendor"


@dataclass(frozen=True)
class Asset:
    """One file of an npm package, and the package's licence."""

    package: str
    version: str
    integrity: str
    """``sha512-…`` of the tarball, as ``npm view <package>@<version> dist.integrity`` gives it."""
    member: str
    """The file's path in the tarball."""
    name: str
    """Its name in ``static/vendor/``."""
    licence: str = "package/LICENSE.md"

    @property
    def url(self) -> str:
        """The tarball's address on the registry."""
        return f"{REGISTRY}/{self.package}/-/{self.package}-{self.version}.tgz"


ASSETS = (
    Asset(
        package="chart.js",
        version="4.6.1",
        integrity="sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==",
        member="package/dist/chart.umd.min.js",
        name="chart.umd.min.js",
    ),
)


def missing(folder: Path = VENDOR) -> list[Asset]:
    """The assets not yet in ``folder``."""
    return [a for a in ASSETS if not (folder / a.name).is_file()]


def _checked(asset: Asset, tarball: bytes) -> bytes:
    algorithm, _, expected = asset.integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if digest != expected:
        raise ValueError(
            f"{asset.url}: the tarball's {algorithm} is {digest}, not the pinned {expected}"
        )
    return tarball


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    extracted = archive.extractfile(name)
    if extracted is None:
        raise ValueError(f"{name} is not a file in the tarball")
    return extracted.read()


def fetch(asset: Asset, folder: Path = VENDOR, *, timeout: float = 60.0) -> Path:
    """Download, check and write one asset and its licence; returns the asset's path."""
    with urllib.request.urlopen(asset.url, timeout=timeout) as response:
        tarball = _checked(asset, response.read())
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        content = _member(archive, asset.member)
        licence = _member(archive, asset.licence)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{asset.package}.LICENSE.md").write_bytes(licence)
    target = folder / asset.name
    partial = target.with_suffix(".partial")
    partial.write_bytes(content)
    partial.replace(target)  # whole or absent: the page never loads half a library
    return target


def main() -> int:
    """Fetch what is missing; say what failed and how to retry."""
    for asset in missing():
        try:
            path = fetch(asset)
        except (OSError, ValueError) as exc:
            print(
                f"error: could not fetch {asset.package}@{asset.version} for the web page "
                f"({exc}); the page works without its charts until "
                "`python -m servekit.ui.assets` succeeds",
                file=sys.stderr,
            )
            return 1
        print(f"fetched {asset.package}@{asset.version} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
