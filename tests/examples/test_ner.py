"""The ner example as `servekit examples train` writes it: spaCy's English pipeline, served."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from servekit import Settings, create_app
from tests.e2e.server import Server, running_server
from tests.inputs.text_models import package_rules
from tests.test_cli import Invoke, invoke  # noqa: F401

SENTENCE = "Apple is looking at buying U.K. startup for $1 billion, said Tim Cook in London."
FOUND = {
    "Apple": "ORG",
    "U.K.": "GPE",
    "$1 billion": "MONEY",
    "Tim Cook": "PERSON",
    "London": "GPE",
}


@pytest.fixture(scope="module")
def client(ner_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over the ner example, started once for the module."""
    data = tmp_path_factory.mktemp("ner-data")
    app = create_app(Settings(model_repository=ner_dir, data_dir=data, allow_anonymous=True))
    with TestClient(app) as c:
        yield c


def answer_of(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def check_sentence(row: dict[str, Any]) -> None:
    found = {e["text"]: e["label"] for e in row["entities"]}
    assert found == FOUND
    for e in row["entities"]:
        assert SENTENCE[e["start"] : e["end"]] == e["text"]
    for text in FOUND:
        assert text not in row["anonymized_text"]
    assert row["anonymized_text"] == (
        "[ORG] is looking at buying [GPE] startup for [MONEY], said [PERSON] in [GPE]."
    )
    assert set(row["prediction"]) == {"ORG", "GPE", "MONEY", "PERSON"}
    assert row["warnings"] == []


def test_the_sentence_has_its_entities_found_and_redacted(client: TestClient) -> None:
    body = answer_of(client.post("/models/ner/predict", json={"text": SENTENCE}))
    assert (body["model"], body["version"]) == ("ner", "1")
    check_sentence(body["predictions"][0])


def test_entities_answers_the_same_by_size_and_language(client: TestClient) -> None:
    asked = {"text": SENTENCE, "model_size": "sm", "model_language": "en"}
    body = answer_of(client.post("/entities", json=asked))
    assert body["model"] == "ner"
    check_sentence(body["predictions"][0])


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        pytest.param({"model_size": "lg"}, 404, "size 'lg' and language 'en'", id="no-such-size"),
        pytest.param({"model_language": "de"}, 404, "ner (size sm, language en)", id="no-language"),
        pytest.param({"text": ""}, 422, "the text is empty", id="empty"),
        pytest.param({"text": "   "}, 422, "only white space", id="blank"),
        pytest.param({"text": "a" * 10_001}, 422, "at most 10,000", id="over-the-limit"),
        pytest.param({"text": 7}, 422, "valid string", id="not-a-string"),
        pytest.param({"model_size": None}, 422, "valid string", id="size-not-a-string"),
        pytest.param({"extra": 1}, 422, "extra", id="unknown-field"),
    ],
)
def test_entities_refuses_bad_requests_saying_why(
    client: TestClient, body: dict[str, Any], status: int, said: str
) -> None:
    asked = {"text": SENTENCE, "model_size": "sm", "model_language": "en", **body}
    refused = answer_of(client.post("/entities", json=asked), status)
    assert said in refused["message"], refused


def test_entities_refuses_invalid_utf8_and_other_media_types(client: TestClient) -> None:
    bad = b'{"text": "\xff", "model_size": "sm", "model_language": "en"}'
    headers = {"content-type": "application/json"}
    assert answer_of(client.post("/entities", content=bad, headers=headers), 400)["message"]
    plain = {"content-type": "text/plain"}
    assert answer_of(client.post("/entities", content=SENTENCE, headers=plain), 415)["message"]


def test_concurrent_texts_share_model_calls(client: TestClient) -> None:
    labels = {"model": "ner", "version": "1"}

    def sizes() -> tuple[float, float]:
        count = REGISTRY.get_sample_value("servekit_batch_size_count", labels) or 0.0
        return count, REGISTRY.get_sample_value("servekit_batch_size_sum", labels) or 0.0

    before = sizes()
    # The first text is long: the others arrive while the model reads it, and wait together.
    texts = [SENTENCE * 100, *[SENTENCE] * 15]

    def send(text: str) -> int:
        return client.post("/models/ner/predict", json={"text": text}).status_code

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(send, texts)) == [200] * 16
    calls, rows = (after - first for after, first in zip(sizes(), before, strict=True))
    assert rows == 16
    assert calls < 16
    predicted = REGISTRY.get_sample_value("servekit_predictions_total", labels) or 0.0
    assert predicted >= 16  # per row, not per call


def test_the_docs_examples_are_answered(client: TestClient) -> None:
    openapi = client.get("/openapi.json").json()
    predict = openapi["paths"]["/models/ner/predict"]["post"]["requestBody"]["content"]
    for example in predict["application/json"]["examples"].values():
        answer_of(client.post("/models/ner/predict", json=example["value"]))
    entities = openapi["paths"]["/entities"]["post"]["requestBody"]["content"]["application/json"]
    check_sentence(answer_of(client.post("/entities", json=entities["example"]))["predictions"][0])


@pytest.fixture(scope="module")
def server(ner_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `servekit serve` over the ner example and a rule-based NER model beside it."""
    repo = tmp_path_factory.mktemp("two-ner")
    (repo / "ner").symlink_to(ner_dir / "ner", target_is_directory=True)
    package_rules(repo)
    with running_server(repo, tmp_path_factory.mktemp("ner-server")) as running:
        yield running


def test_servekit_predict_prints_the_redacted_text(invoke: Invoke, server: Server) -> None:  # noqa: F811
    result = invoke(["predict", "ner", "--field", f"text={SENTENCE}", "--url", server.url])
    assert result.exit_code == 0, result.output
    assert "[PERSON]" in result.stdout
    assert "ORG, GPE, MONEY, PERSON" in result.stdout


def test_several_ner_models_are_told_apart_by_size(server: Server) -> None:
    asked = {"text": "Ada Lovelace lived in London.", "model_language": "en"}
    rules = httpx.post(f"{server.url}/entities", json={**asked, "model_size": "rules"}).json()
    small = httpx.post(f"{server.url}/entities", json={**asked, "model_size": "sm"}).json()
    assert (rules["model"], small["model"]) == ("rules", "ner")
    assert rules["predictions"][0]["anonymized_text"] == "[PERSON] lived in [GPE]."
    missing = httpx.post(f"{server.url}/entities", json={**asked, "model_size": "md"})
    assert missing.status_code == 404
    assert (
        "ner (size sm, language en); rules (size rules, language en)" in missing.json()["message"]
    )
