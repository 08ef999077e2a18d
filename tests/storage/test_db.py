"""The database: created on first start, refused when behind its migrations, tables that round-trip."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from servekit.cli import app as cli
from servekit.exceptions import DatabaseError
from servekit.storage import migrate
from servekit.storage.db import Database
from servekit.storage.tables import ApiKey, Base, Feedback, PredictionRecord, User
from tests.conftest import AppFactory

TABLES = {"users", "api_keys", "predictions", "feedback", "alembic_version"}


async def table_names(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


def test_an_empty_database_gets_the_schema_on_first_start(database_url: str) -> None:
    async def main() -> set[str]:
        async with Database(database_url) as database:
            await database.prepare()
            await database.prepare()  # a second start finds it current
            return await table_names(database)

    assert asyncio.run(main()) >= TABLES


def test_the_migrations_build_exactly_the_tables_the_code_declares(database_url: str) -> None:
    # A column, index or key added to tables.py without its migration (or the reverse) shows here.
    def differences(connection: Connection) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async def main() -> list[Any]:
        async with Database(database_url) as database:
            await database.prepare()
            async with database.engine.connect() as connection:
                return await connection.run_sync(differences)

    assert asyncio.run(main()) == []


def test_a_database_behind_its_migrations_refuses_to_start(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            async with database.engine.begin() as connection:
                await connection.execute(
                    text("DELETE FROM alembic_version")
                )  # as if made before migrations
            with pytest.raises(
                DatabaseError, match=r"is at migration none.*run `servekit db upgrade` first"
            ):
                await database.prepare()

    asyncio.run(main())


def test_an_empty_database_is_refused_when_creation_is_off(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            with pytest.raises(DatabaseError, match="servekit db upgrade"):
                await database.prepare(create_empty=False)

    asyncio.run(main())


def test_an_unreachable_database_is_a_clear_error() -> None:
    async def main() -> None:
        async with Database("postgresql://servekit:secret@127.0.0.1:1/nowhere") as database:
            assert not await database.ping()
            with pytest.raises(
                DatabaseError, match=r"cannot reach the database at .*127\.0\.0\.1:1/nowhere"
            ) as error:
                await database.prepare()
            assert "secret" not in str(error.value)

    asyncio.run(main())


def test_rows_round_trip_with_json_and_aware_times(database_url: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            async with database.session() as session:
                user = User(email="ada@example.com", name="Ada", password_hash="$argon2id$...")
                session.add(user)
                await session.flush()
                session.add(ApiKey(user_id=user.id, name="ci", prefix="sk_abc", key_hash="h"))
                session.add(
                    PredictionRecord(
                        id="p" * 32,
                        model="iris",
                        version="1",
                        inputs={"sepal_length": 5.1},
                        output={"prediction": "setosa", "probabilities": {"setosa": 0.98}},
                        warnings=[{"feature": "sepal_length", "kind": "out_of_range"}],
                        latency_ms=1.5,
                        user_id=user.id,
                    )
                )
                await session.flush()  # the prediction exists before feedback refers to it
                session.add(
                    Feedback(
                        prediction_id="p" * 32, user_id=user.id, label="setosa", comment="right"
                    )
                )
                await session.commit()
            async with database.session() as session:
                record = (await session.execute(select(PredictionRecord))).scalar_one()
                feedback = (await session.execute(select(Feedback))).scalar_one()
                assert record.output["probabilities"] == {"setosa": 0.98}
                assert record.warnings[0]["feature"] == "sepal_length"
                assert feedback.label == "setosa"
                assert abs((datetime.now(UTC) - record.created_at).total_seconds()) < 60
                session.add(User(email="ada@example.com", name="Ada again", password_hash="x"))
                with pytest.raises(IntegrityError):
                    await session.commit()
                await session.rollback()
                # Deleting a user takes their keys and feedback, and keeps their predictions anonymous.
                await session.execute(delete(User))
                await session.commit()
                assert (await session.execute(select(ApiKey))).first() is None
                assert (
                    await session.execute(select(PredictionRecord))
                ).scalar_one().user_id is None

    asyncio.run(main())


def test_every_time_reads_back_aware_in_utc(database_url: str) -> None:
    # SQLite keeps no offset: without the column type's care, times came back naive there.
    berlin = timezone(timedelta(hours=2))
    revoked = datetime(2026, 7, 1, 14, 30, tzinfo=berlin)

    async def main() -> tuple[datetime, datetime | None, datetime]:
        async with Database(database_url) as database:
            await database.prepare()
            async with database.session() as session:
                user = User(email="ada@example.com", name="Ada", password_hash="x")
                session.add(user)
                await session.flush()
                session.add(
                    ApiKey(
                        user_id=user.id, name="ci", prefix="sk", key_hash="h", revoked_at=revoked
                    )
                )
                await session.commit()
            async with database.session() as session:
                key = (await session.execute(select(ApiKey))).scalar_one()
                read = (await session.execute(select(User))).scalar_one()
                return key.created_at, key.revoked_at, read.created_at

    key_created, key_revoked, user_created = asyncio.run(main())
    for when in (key_created, key_revoked, user_created):
        assert when is not None
        assert when.utcoffset() == timedelta(0)
    assert key_revoked == revoked  # the same instant, now said in UTC
    assert key_revoked is not None
    assert key_revoked.hour == 12
    assert abs((datetime.now(UTC) - user_created).total_seconds()) < 60


def test_db_upgrade_and_current_commands(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    before = runner.invoke(cli, ["db", "current"])
    if database_url.startswith("sqlite"):
        # No file yet: said, never made behind the user's back.
        assert before.exit_code == 2, before.output
        assert "no database at" in before.output
        assert "servekit db upgrade" in before.output
        assert not Path(make_url(database_url).database or "").exists()
    else:
        assert before.exit_code == 0, before.output
        assert "database at no migration" in before.output
    upgraded = runner.invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    after = runner.invoke(cli, ["db", "current"])
    assert f"database at {migrate.head()}; this servekit needs {migrate.head()}" in after.output
    # Every command says which database it used (without its password).
    shown = make_url(database_url).render_as_string(hide_password=True)
    assert f"database: {shown}" in after.output.replace("\n", "")


def test_users_commands_run_elsewhere_say_so_instead_of_making_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SERVEKIT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for args in (["users", "list"], ["users", "delete", "a@example.com"], ["db", "current"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert "no database at" in result.output
        assert "SERVEKIT_DATA_DIR" in result.output
    assert not (tmp_path / ".servekit").exists()
    made = runner.invoke(
        cli,
        ["users", "create", "--email", "a@example.com", "--name", "A", "--password-stdin"],
        input="correct horse battery staple\n",
    )
    assert made.exit_code == 0, made.output
    assert "a new one at" in made.output  # said, not silent
    assert (tmp_path / ".servekit" / "servekit.db").exists()


def test_the_server_creates_its_sqlite_database_in_the_data_folder(
    make_app: AppFactory, tmp_path: Path
) -> None:
    with TestClient(make_app(data_dir=tmp_path / "state")) as client:
        assert client.get("/readyz").json()["database"] == "ok"
    assert (tmp_path / "state" / "servekit.db").is_file()


def test_the_server_refuses_to_start_on_a_database_behind_its_migrations(
    make_app: AppFactory, database_url: str
) -> None:
    async def make_behind() -> None:
        async with Database(database_url) as database:
            await database.prepare()
            async with database.engine.begin() as connection:
                await connection.execute(text("DELETE FROM alembic_version"))

    asyncio.run(make_behind())
    with (
        pytest.raises(DatabaseError, match="servekit db upgrade"),
        TestClient(make_app(database_url=database_url)),
    ):
        pass
