"""A text model with no statistical model: spaCy's rules, saved into its folder with nlp.to_disk."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from servekit.repository.manifest import MANIFEST_FILE
from servekit.repository.package_text import package_text_model

PATTERNS = [
    {"label": "PERSON", "pattern": "Ada Lovelace"},
    {"label": "PERSON", "pattern": "Charles Babbage"},
    {"label": "GPE", "pattern": "London"},
    {"label": "ORG", "pattern": "Royal Society"},
]
SENTENCE = "Ada Lovelace met Charles Babbage in London."
REFERENCE = [
    SENTENCE,
    "London, 1833.",
    "Ada Lovelace wrote the first program in London.",
    "Charles Babbage showed his engine to the Royal Society.",
    "The two met at a party in London in 1833, when she was seventeen and he was forty-one.",
]


def package_rules(out: Path) -> Path:
    """Package the rule-based pipeline into ``out/rules``; returns the repository ``out``."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    package_text_model(
        nlp,
        REFERENCE,
        out / "rules",
        name="rules",
        text={"size": "rules", "max_chars": 500},
        extra={"batching": {"max_request_rows": 8}},
    )
    return out


def variant(repo: Path, target: Path, **changes: Any) -> Path:
    """A copy of the repository with the rules model's manifest changed (nested sections merged)."""
    shutil.copytree(repo, target)
    path = target / "rules" / MANIFEST_FILE
    manifest = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        manifest[key] = {**manifest.get(key, {}), **value} if isinstance(value, dict) else value
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return target


@pytest.fixture(scope="session")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding the rules model, packaged once for the run (read-only)."""
    return package_rules(tmp_path_factory.mktemp("rules"))


RulesClient = Callable[..., TestClient]


@pytest.fixture
def rules_client(rules_dir: Path, tmp_path: Path) -> Iterator[RulesClient]:
    """Start an app serving the rules model (manifest changes and settings as keywords)."""
    from tests.inputs.conftest import started_clients

    yield from started_clients(
        tmp_path, lambda target, **changes: variant(rules_dir, target, **changes)
    )
