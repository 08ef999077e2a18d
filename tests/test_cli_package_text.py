"""``servekit package spacy``: a spaCy pipeline, installed or saved to a folder, and its texts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from servekit import Settings, create_app
from servekit.cli import app
from servekit.examples import PIPELINE_PACKAGE
from servekit.examples.ner import DISABLED, REFERENCE_TEXTS
from servekit.repository.loader import read_manifest
from tests.inputs.text_models import PATTERNS, REFERENCE

SENTENCE = "Apple is looking at buying U.K. startup for $1 billion, said Tim Cook in London."


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["package", "spacy", *map(str, args)])


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(REFERENCE_TEXTS) + "\n\n", encoding="utf-8")
    return path


def test_the_installed_pipeline_is_packaged_and_serves_its_entities(
    texts: Path, tmp_path: Path
) -> None:
    out = tmp_path / "models" / "people"
    disabled = [arg for component in DISABLED for arg in ("--disable", component)]
    result = run(
        "--pipeline", PIPELINE_PACKAGE, "--texts", texts, "--name", "people", "--out", out,
        *disabled, "--redact", "PERSON", "--replacement", "<{label}>", "--max-chars", "500",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"{len(REFERENCE_TEXTS)} reference texts, language en, size sm" in result.stdout
    manifest = read_manifest(out).manifest
    assert (manifest.runtime, manifest.artifact) == ("spacy", None)
    assert manifest.options == {"pipeline": PIPELINE_PACKAGE, "disable": DISABLED}
    assert manifest.text is not None
    assert (manifest.text.max_chars, manifest.text.example) == (500, REFERENCE_TEXTS[0])
    assert manifest.text.redact.labels == ["PERSON"]
    assert manifest.training_stats is not None
    assert manifest.training_stats.rows == len(REFERENCE_TEXTS)

    settings = Settings(
        model_repository=out.parent, data_dir=tmp_path / "data", allow_anonymous=True
    )
    with TestClient(create_app(settings)) as client:
        answer = client.post("/models/people/predict", json={"text": SENTENCE})
        assert answer.status_code == 200, answer.text
        row = answer.json()["predictions"][0]
        assert {"Tim Cook": "PERSON", "London": "GPE"}.items() <= {
            e["text"]: e["label"] for e in row["entities"]
        }.items()
        # Only people are redacted, as packaged.
        assert "said <PERSON> in London." in row["anonymized_text"]
        too_long = client.post("/models/people/predict", json={"text": "a" * 501})
        assert too_long.status_code == 422


def test_a_pipeline_saved_to_a_folder_is_carried_in_the_model_folder(tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.to_disk(tmp_path / "rules")
    table = tmp_path / "texts.csv"
    pd.DataFrame({"id": range(len(REFERENCE)), "body": REFERENCE}).to_csv(table, index=False)
    out = tmp_path / "out"
    result = run(
        "--pipeline", tmp_path / "rules", "--texts", table, "--text-column", "body",
        "--name", "rules", "--out", out, "--size", "rules",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    manifest = read_manifest(out).manifest
    assert manifest.artifact == "pipeline"
    assert (out / "pipeline" / "meta.json").is_file()
    assert manifest.text is not None
    assert (manifest.text.language, manifest.text.size) == ("en", "rules")


def test_bad_input_is_refused_saying_what_is_wrong(texts: Path, tmp_path: Path) -> None:
    import spacy

    spacy.blank("en").to_disk(tmp_path / "blank")  # finds no entities
    table = tmp_path / "two.csv"
    pd.DataFrame({"id": [1], "body": ["A text."]}).to_csv(table, index=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    out = ["--name", "x", "--out", tmp_path / "x"]
    cases = {
        "no installed spaCy pipeline is named 'en_core_web_xx'": [
            "--pipeline", "en_core_web_xx", "--texts", texts,
        ],
        "no component of the pipeline finds entities": [
            "--pipeline", tmp_path / "blank", "--texts", texts,
        ],
        "has 2 columns: say which holds the texts with --text-column": [
            "--pipeline", PIPELINE_PACKAGE, "--texts", table,
        ],
        "holds no text": ["--pipeline", PIPELINE_PACKAGE, "--texts", empty],
        "--texts takes a file of reference texts": [
            "--pipeline", PIPELINE_PACKAGE, "--texts", tmp_path / "none.txt",
        ],
        "--max-chars: Input should be greater than 0": [
            "--pipeline", PIPELINE_PACKAGE, "--texts", texts, "--max-chars", "0",
        ],
    }  # fmt: skip
    for said, args in cases.items():
        result = run(*args, *out)
        assert result.exit_code == 2, (said, result.output)
        assert said in result.stderr, result.stderr
        assert "Traceback" not in result.output
    # Nothing half written is left where the folder was to be.
    assert not (tmp_path / "x").exists()
