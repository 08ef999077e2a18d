"""The whole flow over HTTP: register, log in, predict, send feedback, list it, watch accuracy move."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from servekit.storage.db import Database
from servekit.storage.tables import PredictionRecord
from tests.api.test_auth import SECRET, bearer, make_admin, register, token_for
from tests.conftest import IRIS_SETOSA, TAXI_RIDE, AppFactory

VERSICOLOR = {"sepal_length": 6.0, "sepal_width": 2.7, "petal_length": 4.2, "petal_width": 1.3}


@pytest.fixture
def client(make_app: AppFactory, database_url: str) -> Iterator[TestClient]:
    app = make_app(database_url=database_url, allow_anonymous=False, auth={"jwt_secret": SECRET})
    with TestClient(app) as c:
        yield c


def accuracy() -> float | None:
    return REGISTRY.get_sample_value(
        "servekit_feedback_accuracy", {"model": "iris", "version": "1"}
    )


def logged(database_url: str) -> list[PredictionRecord]:
    async def read() -> list[PredictionRecord]:
        async with Database(database_url) as database, database.session() as session:
            return list((await session.execute(select(PredictionRecord))).scalars())

    return asyncio.run(read())


def test_register_login_predict_feedback_and_accuracy(
    client: TestClient, database_url: str
) -> None:
    register(client, "ada@example.com")
    auth = bearer(token_for(client, "ada@example.com"))
    rows = {"instances": [IRIS_SETOSA, VERSICOLOR]}
    predictions = client.post("/models/iris/predict", json=rows, headers=auth).json()["predictions"]
    setosa_id, versicolor_id = (p["id"] for p in predictions)
    right = client.post(
        "/feedback",
        json={"prediction_id": setosa_id, "label": "setosa", "comment": "yes"},
        headers=auth,
    )
    assert right.status_code == 201, right.text
    assert right.json()["correct"] is True
    assert accuracy() == 1.0
    wrong = client.post(
        "/feedback", json={"prediction_id": versicolor_id, "label": "virginica"}, headers=auth
    )
    assert wrong.json()["correct"] is False
    assert accuracy() == 0.5
    mine = client.get("/feedback", headers=auth).json()
    assert [f["prediction_id"] for f in mine] == [versicolor_id, setosa_id]
    assert mine[1]["prediction"] == "setosa"
    assert "servekit_feedback_accuracy" in client.get("/metrics").text
    # The log holds what was asked and answered, and for whom.
    records = {r.id: r for r in logged(database_url)}
    assert records[setosa_id].inputs == IRIS_SETOSA
    assert records[setosa_id].output["prediction"] == "setosa"
    assert records[setosa_id].user_id is not None
    assert records[setosa_id].latency_ms > 0


def test_an_api_key_does_the_same(client: TestClient) -> None:
    register(client, "ada@example.com")
    key = {
        "X-API-Key": client.post(
            "/keys", json={"name": "job"}, headers=bearer(token_for(client, "ada@example.com"))
        ).json()["key"]
    }
    [prediction] = client.post("/models/iris/predict", json=IRIS_SETOSA, headers=key).json()[
        "predictions"
    ]
    given = client.post(
        "/feedback", json={"prediction_id": prediction["id"], "score": 4.5}, headers=key
    )
    assert given.status_code == 201
    assert given.json()["correct"] is None
    assert client.get("/feedback", headers=key).json()[0]["score"] == 4.5


def test_feedback_on_someone_elses_or_an_unknown_prediction_is_404(
    client: TestClient, database_url: str
) -> None:
    register(client, "ada@example.com")
    register(client, "bo@example.com")
    ada, bo = (
        bearer(token_for(client, "ada@example.com")),
        bearer(token_for(client, "bo@example.com")),
    )
    [prediction] = client.post("/models/iris/predict", json=IRIS_SETOSA, headers=ada).json()[
        "predictions"
    ]
    assert (
        client.post(
            "/feedback", json={"prediction_id": prediction["id"], "label": "x"}, headers=bo
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/feedback", json={"prediction_id": "0" * 32, "label": "x"}, headers=ada
        ).status_code
        == 404
    )
    assert client.get("/feedback", headers=bo).json() == []
    make_admin(database_url, "root@example.com")
    root = bearer(token_for(client, "root@example.com"))
    assert (
        client.post(
            "/feedback", json={"prediction_id": prediction["id"], "label": "setosa"}, headers=root
        ).status_code
        == 201
    )
    assert len(client.get("/feedback", headers=root).json()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"prediction_id": "0" * 32},
        {"prediction_id": "not-an-id", "label": "x"},
        {"prediction_id": "0" * 32, "score": "high"},
        {"prediction_id": "0" * 32, "label": "x", "extra": 1},
    ],
)
def test_bad_feedback_is_422(client: TestClient, body: dict[str, object]) -> None:
    register(client, "ada@example.com")
    response = client.post(
        "/feedback", json=body, headers=bearer(token_for(client, "ada@example.com"))
    )
    assert response.status_code == 422
    assert response.json()["message"]


def test_feedback_needs_a_login(client: TestClient) -> None:
    assert (
        client.post("/feedback", json={"prediction_id": "0" * 32, "label": "x"}).status_code == 401
    )
    assert client.get("/feedback").status_code == 401


def test_predictions_go_on_when_the_log_cannot_be_written(
    make_app: AppFactory, database_url: str
) -> None:
    app = make_app(database_url=database_url, prediction_log={"flush_interval_s": 0.05})
    failed = (
        REGISTRY.get_sample_value("servekit_prediction_log_rows_total", {"outcome": "failed"}) or 0
    )

    async def drop_table() -> None:
        async with Database(database_url) as database, database.engine.begin() as connection:
            await connection.exec_driver_sql("DROP TABLE feedback")
            await connection.exec_driver_sql("DROP TABLE predictions")

    with TestClient(app) as client:
        asyncio.run(drop_table())  # the database now refuses every write to the log
        for _ in range(3):
            assert client.get("/models/taxifare/predict", params=TAXI_RIDE).status_code == 200
    # Every row is either written or counted as failed: none is lost without a trace.
    assert (
        REGISTRY.get_sample_value("servekit_prediction_log_rows_total", {"outcome": "failed"}) or 0
    ) >= failed + 3


def test_sampling_logs_a_share_of_rows(make_app: AppFactory, database_url: str) -> None:
    with TestClient(
        make_app(database_url=database_url, prediction_log={"sample_rate": 0.0})
    ) as client:
        client.post("/models/iris/predict", json={"instances": [IRIS_SETOSA] * 20})

    async def count() -> int:
        async with Database(database_url) as database, database.session() as session:
            return int(
                (
                    await session.execute(select(func.count()).select_from(PredictionRecord))
                ).scalar_one()
            )

    assert asyncio.run(count()) == 0


def test_a_user_reads_their_own_logged_prediction_and_not_anothers(client: TestClient) -> None:
    register(client, "ada@example.com")
    register(client, "bo@example.com")
    ada, bo = (
        bearer(token_for(client, "ada@example.com")),
        bearer(token_for(client, "bo@example.com")),
    )
    [prediction] = client.post("/models/taxifare/predict", json=TAXI_RIDE, headers=ada).json()[
        "predictions"
    ]
    mine = client.get(f"/predictions/{prediction['id']}", headers=ada)
    assert mine.status_code == 200
    assert mine.json()["inputs"]["pickup_datetime"].startswith("2013-07-06T17:18:00")
    assert mine.json()["output"]["prediction"] == prediction["prediction"]
    assert client.get(f"/predictions/{prediction['id']}", headers=bo).status_code == 404
    assert client.get(f"/predictions/{'0' * 32}", headers=ada).status_code == 404


def predicted_id(
    client: TestClient, auth: dict[str, str], model: str, row: dict[str, object]
) -> str:
    answer = client.post(f"/models/{model}/predict", json=row, headers=auth)
    assert answer.status_code == 200, answer.text
    prediction_id: str = answer.json()["predictions"][0]["id"]
    return prediction_id


def test_a_label_must_be_one_the_model_has_and_fit_its_task(client: TestClient) -> None:
    register(client, "ada@example.com")
    auth = bearer(token_for(client, "ada@example.com"))
    iris = predicted_id(client, auth, "iris", IRIS_SETOSA)
    fare = predicted_id(client, auth, "taxifare", TAXI_RIDE)
    for body, field, said in [
        ({"prediction_id": iris, "label": "tulip"}, "label", "'tulip' is not a label of iris:1"),
        ({"prediction_id": iris, "value": 1.0}, "value", "iris:1 is not a regression"),
        ({"prediction_id": fare, "label": "12.5"}, "label", "taxifare:1 is a regression"),
    ]:
        refused = client.post("/feedback", json=body, headers=auth)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", field]
        assert said in refused.json()["message"]
    assert client.get("/feedback", headers=auth).json() == []  # nothing was stored


def test_regression_feedback_gives_the_mean_absolute_error(client: TestClient) -> None:
    register(client, "ada@example.com")
    auth = bearer(token_for(client, "ada@example.com"))
    fares = []
    for passengers in (1, 2):
        answer = client.post(
            "/models/taxifare/predict",
            json={**TAXI_RIDE, "passenger_count": passengers},
            headers=auth,
        ).json()["predictions"][0]
        fares.append((answer["id"], answer["prediction"]))
    (first, predicted_first), (second, predicted_second) = fares
    for prediction_id, truth in ((first, predicted_first + 2.0), (second, predicted_second - 1.0)):
        given = client.post(
            "/feedback", json={"prediction_id": prediction_id, "value": truth}, headers=auth
        )
        assert given.status_code == 201, given.text
        assert given.json()["value"] == truth
    mae = REGISTRY.get_sample_value(
        "servekit_feedback_mean_absolute_error", {"model": "taxifare", "version": "1"}
    )
    assert mae == pytest.approx(1.5)


def test_a_users_latest_feedback_on_a_prediction_is_the_one_that_counts(
    client: TestClient, database_url: str
) -> None:
    register(client, "ada@example.com")
    make_admin(database_url, "root@example.com")
    ada = bearer(token_for(client, "ada@example.com"))
    root = bearer(token_for(client, "root@example.com"))
    setosa = predicted_id(client, ada, "iris", IRIS_SETOSA)
    other = predicted_id(client, ada, "iris", VERSICOLOR)
    assert (
        client.post(
            "/feedback", json={"prediction_id": other, "label": "versicolor"}, headers=ada
        ).status_code
        == 201
    )
    for label in ("virginica", "virginica", "virginica"):  # sent again and again
        client.post("/feedback", json={"prediction_id": setosa, "label": label}, headers=ada)
    assert accuracy() == 0.5  # one wrong and one right, not three wrong
    client.post("/feedback", json={"prediction_id": setosa, "label": "setosa"}, headers=ada)
    assert accuracy() == 1.0  # changed her mind: the latest counts
    mine = client.get("/feedback", headers=ada).json()
    assert [(f["prediction_id"], f["label"]) for f in mine] == [
        (setosa, "setosa"),
        (other, "versicolor"),
    ]
    # Another user's word on the same prediction is theirs.
    client.post("/feedback", json={"prediction_id": setosa, "label": "virginica"}, headers=root)
    assert accuracy() == pytest.approx(2 / 3)
