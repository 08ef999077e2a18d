"""Texts through the JSON front and /entities: entities, redaction, limits, warnings and the log."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.api.test_auth import bearer, register, token_for
from tests.inputs.text_models import SENTENCE, RulesClient

PREDICT = "/models/rules/predict"


def answer_of(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_text_is_answered_with_its_entities_and_redacted(rules_client: RulesClient) -> None:
    client = rules_client()
    [row] = answer_of(client.post(PREDICT, json={"text": SENTENCE}))["predictions"]
    assert row["entities"] == [
        {"text": "Ada Lovelace", "label": "PERSON", "start": 0, "end": 12},
        {"text": "Charles Babbage", "label": "PERSON", "start": 17, "end": 32},
        {"text": "London", "label": "GPE", "start": 36, "end": 42},
    ]
    assert row["anonymized_text"] == "[PERSON] met [PERSON] in [GPE]."
    assert row["prediction"] == ["PERSON", "GPE"]
    assert row["warnings"] == []
    assert row["id"]


def test_a_batch_is_a_row_per_text_in_order(rules_client: RulesClient) -> None:
    client = rules_client()
    texts = ["Ada Lovelace wrote it down.", "Nobody in particular was there.", SENTENCE]
    body = {"instances": [{"text": t} for t in texts]}
    rows = answer_of(client.post(PREDICT, json=body))["predictions"]
    assert [r["prediction"] for r in rows] == [["PERSON"], [], ["PERSON", "GPE"]]
    assert rows[1]["anonymized_text"] == texts[1]


def test_the_manifest_says_which_labels_are_redacted_and_with_what(
    rules_client: RulesClient,
) -> None:
    client = rules_client(text={"redact": {"labels": ["PERSON"], "replacement": "████"}})
    [row] = answer_of(client.post(PREDICT, json={"text": SENTENCE}))["predictions"]
    assert row["anonymized_text"] == "████ met ████ in London."
    assert len(row["entities"]) == 3  # every entity is still found and listed


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        pytest.param({"text": ""}, 422, "the text is empty", id="empty"),
        pytest.param({"text": " \n\t "}, 422, "only white space", id="blank"),
        pytest.param({"text": "x" * 501}, 422, "501 characters long", id="over-the-limit"),
        pytest.param({"text": 42}, 422, "valid string", id="a-number"),
        pytest.param({"text": ["a"]}, 422, "valid string", id="a-list"),
        pytest.param({"text": None}, 422, "valid string", id="null"),
        pytest.param({"txt": "a"}, 422, "text", id="misnamed"),
        pytest.param({"instances": []}, 422, "at least 1", id="empty-batch"),
        pytest.param(
            {"instances": [{"text": "fine"}, {"text": ""}]}, 422, "text 1 is empty", id="in-a-batch"
        ),
        pytest.param(
            {"instances": [{"text": "a"}] * 9}, 422, "at most 8", id="batch-over-the-limit"
        ),
    ],
)
def test_a_bad_text_is_a_4xx_saying_what_is_wrong(
    rules_client: RulesClient, body: Any, status: int, said: str
) -> None:
    client = rules_client()
    refused = answer_of(client.post(PREDICT, json=body), status)
    assert said in refused["message"], refused


def test_the_limit_is_the_manifests(rules_client: RulesClient) -> None:
    client = rules_client(text={"max_chars": 20})
    refused = answer_of(client.post(PREDICT, json={"text": SENTENCE}), 422)
    assert "takes at most 20 (text.max_chars" in refused["message"]
    assert refused["detail"][0]["type"] == "text_too_long"


def test_invalid_utf8_is_a_400(rules_client: RulesClient) -> None:
    client = rules_client()
    headers = {"content-type": "application/json"}
    for body in (b'{"text": "caf\xe9"}', b'{"text": "\xed\xa0\x80"}', b'{"text": "\\ud800"}'):
        refused = answer_of(client.post(PREDICT, content=body, headers=headers), 400)
        assert refused["error"] == "invalid_json", refused


def test_a_text_unlike_the_references_gets_warnings_and_reject_refuses_it(
    rules_client: RulesClient,
) -> None:
    client = rules_client()
    cases = {
        "short": "Ada.",
        "long": "Ada Lovelace met Charles Babbage in London. " * 10,
        "cyrillic": "Ада Лавлейс встретила Чарльза Бэббиджа в Лондоне в 1833 году.",
        "usual": "Charles Babbage lived in London for most of his life.",
    }
    body = {"instances": [{"text": t} for t in cases.values()]}
    rows = dict(zip(cases, answer_of(client.post(PREDICT, json=body))["predictions"], strict=True))
    assert [w["feature"] for w in rows["short"]["warnings"]] == ["length"]
    assert [w["feature"] for w in rows["long"]["warnings"]] == ["length"]
    assert "440 characters long" in rows["long"]["warnings"][0]["message"]
    [script] = rows["cyrillic"]["warnings"]
    assert script["feature"] == "script"
    assert "100% of the text's letters" in script["message"]
    assert rows["usual"]["warnings"] == []
    strict = rules_client(ood={"policy": "reject"})
    refused = answer_of(strict.post(PREDICT, json={"text": cases["cyrillic"]}), 422)
    assert refused["error"] == "out_of_distribution"


def test_the_log_keeps_a_long_text_truncated_with_its_length_and_hash_and_feedback_works(
    rules_client: RulesClient,
) -> None:
    client = rules_client()
    register(client, "ada@example.com")
    ada = bearer(token_for(client, "ada@example.com"))
    text = "Ada Lovelace met Charles Babbage in London. " * 6  # 264 characters
    [row] = answer_of(client.post(PREDICT, json={"text": text}, headers=ada))["predictions"]
    logged = answer_of(client.get(f"/predictions/{row['id']}", headers=ada))
    assert logged["inputs"] == {
        "text": text[:200],
        "chars": 264,
        "truncated": True,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
    assert logged["output"]["anonymized_text"] == row["anonymized_text"]
    feedback = {"prediction_id": row["id"], "score": 0.5, "comment": "missed nothing"}
    answer_of(client.post("/feedback", json=feedback, headers=ada), 201)


def test_the_docs_example_of_the_text_model_is_answered(rules_client: RulesClient) -> None:
    client = rules_client()
    openapi = client.get("/openapi.json").json()
    content = openapi["paths"][PREDICT]["post"]["requestBody"]["content"]["application/json"]
    for example in content["examples"].values():
        answer_of(client.post(PREDICT, json=example["value"]))
    detail = answer_of(client.get("/models/rules"))
    assert detail["input"] == "text"
    assert detail["text"]["max_chars"] == 500
    assert "/models/rules/predict" in openapi["paths"]
    # A text model has no query form: GET is refused, naming its input kind.
    refused = answer_of(client.get(PREDICT + "?text=a"), 405)
    assert "text input" in refused["message"]
