"""The model repository: finding model folders, versions side by side, and naming what is missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from servekit.exceptions import ModelNotFound, RepositoryError
from servekit.repository.loader import Repository
from servekit.repository.manifest import MANIFEST_FILE
from tests.repository.conftest import WriteModel, minimal_manifest


def versions_of(repo: Repository, name: str) -> list[str]:
    """A model's versions in the repository's order (oldest first)."""
    return list(repo.models[name])


def test_examples_are_found_with_their_artifacts(examples_dir: Path) -> None:
    repo = Repository.scan(examples_dir)

    assert sorted(repo.models) == ["iris", "taxifare"]
    for model in repo.all():
        assert model.path == examples_dir / model.manifest.name
        artifact = model.artifact_path()
        assert artifact is not None
        assert artifact.is_file()


def test_versions_live_side_by_side_and_latest_is_the_default(
    tmp_path: Path, write_model: WriteModel
) -> None:
    write_model("echo-v1", minimal_manifest(version="1", description="first"))
    write_model("echo-v2", minimal_manifest(version="2", description="second"))
    repo = Repository.scan(tmp_path)

    assert versions_of(repo, "echo") == ["1", "2"]
    assert repo.get("echo").manifest.description == "second"
    assert repo.get("echo", "1").manifest.description == "first"
    assert repo.get("echo", "1").path == tmp_path / "echo-v1"


@pytest.mark.parametrize(
    ("versions", "ordered"),
    [
        (["10", "9", "2"], ["2", "9", "10"]),
        (["1.10", "1.9", "1.2.1"], ["1.2.1", "1.9", "1.10"]),
        (["2", "1rc1", "1"], ["1rc1", "1", "2"]),
    ],
)
def test_versions_order_numerically(
    tmp_path: Path, write_model: WriteModel, versions: list[str], ordered: list[str]
) -> None:
    for version in versions:
        write_model(f"echo/{version}", minimal_manifest(version=version))
    repo = Repository.scan(tmp_path)

    assert versions_of(repo, "echo") == ordered
    assert repo.get("echo").manifest.version == ordered[-1]


def test_name_version_layout_is_found(tmp_path: Path, write_model: WriteModel) -> None:
    write_model("echo/1", minimal_manifest(version="1"))
    write_model("echo/2", minimal_manifest(version="2"))
    write_model("other", minimal_manifest(name="other"))
    repo = Repository.scan(tmp_path)

    assert sorted(repo.models) == ["echo", "other"]
    assert versions_of(repo, "echo") == ["1", "2"]
    assert repo.get("echo").path == tmp_path / "echo" / "2"
    assert [m.manifest.key for m in repo.all()] == ["echo:1", "echo:2", "other:1"]


def test_root_itself_may_be_a_model_folder(tmp_path: Path, write_model: WriteModel) -> None:
    folder = write_model("single")
    repo = Repository.scan(folder)
    assert repo.get("echo").path == folder


def test_manifests_deeper_than_name_version_are_not_searched(
    tmp_path: Path, write_model: WriteModel
) -> None:
    write_model("a/b/c")
    with pytest.raises(RepositoryError, match=f"holds no {MANIFEST_FILE}"):
        Repository.scan(tmp_path)


def test_same_name_and_version_twice_names_both_folders(
    tmp_path: Path, write_model: WriteModel
) -> None:
    first = write_model("echo-a", minimal_manifest(version="3"))
    second = write_model("echo-b", minimal_manifest(version="3"))
    with pytest.raises(RepositoryError) as info:
        Repository.scan(tmp_path)
    assert str(info.value) == f"echo:3 is defined twice: in {first} and in {second}"


def test_same_version_of_different_models_is_fine(tmp_path: Path, write_model: WriteModel) -> None:
    write_model("a", minimal_manifest(name="a"))
    write_model("b", minimal_manifest(name="b"))
    assert sorted(Repository.scan(tmp_path).models) == ["a", "b"]


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "README.md").write_text("no models here", encoding="utf-8")
    with pytest.raises(RepositoryError) as info:
        Repository.scan(tmp_path)
    assert str(info.value) == f"model repository {tmp_path} holds no {MANIFEST_FILE}"


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_repository_must_be_a_folder(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "models"
    if kind == "file":
        root.write_text("", encoding="utf-8")
    with pytest.raises(
        RepositoryError, match=f"model repository {re.escape(str(root))} is not a folder"
    ):
        Repository.scan(root)


def test_unknown_model_lists_the_served_models(examples_dir: Path) -> None:
    repo = Repository.scan(examples_dir)
    with pytest.raises(ModelNotFound) as info:
        repo.get("irsi")
    assert str(info.value) == "model 'irsi' is not served; served models: iris, taxifare"


def test_unknown_version_lists_the_versions(tmp_path: Path, write_model: WriteModel) -> None:
    for version in ("10", "2"):
        write_model(f"echo/{version}", minimal_manifest(version=version))
    repo = Repository.scan(tmp_path)
    with pytest.raises(ModelNotFound) as info:
        repo.get("echo", "3")
    assert str(info.value) == "model 'echo' has no version '3'; versions: 2, 10"


def test_empty_repository_says_none_are_served(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="served models: none"):
        Repository(root=tmp_path).get("echo")
