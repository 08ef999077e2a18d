"""The first admin from the environment, made by the real app at start-up, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from servekit.config import Settings
from servekit.exceptions import ConfigurationError
from tests.api.test_auth import PASSWORD, SECRET, bearer, login, register
from tests.conftest import AppFactory

ADMIN_PASSWORD = "a long and unusual passphrase for ops"


def start(make_app: AppFactory, database_url: str, **admin: Any) -> TestClient:
    settings: dict[str, Any] = {"database_url": database_url, "auth": {"jwt_secret": SECRET}}
    if admin:
        settings["bootstrap_admin"] = admin
    return TestClient(make_app(**settings))


def me(client: TestClient, email: str, password: str) -> dict[str, Any]:
    response = login(client, email, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = client.get(
        "/users/me", headers=bearer(response.json()["access_token"])
    ).json()
    return body


def test_the_first_admin_is_made_at_start_up_and_can_log_in(
    make_app: AppFactory, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="servekit.auth")
    with start(
        make_app, database_url, email="Root@Example.com", name="Root", password=ADMIN_PASSWORD
    ) as client:
        user = me(client, "root@example.com", ADMIN_PASSWORD)
        assert (user["email"], user["name"], user["role"]) == ("root@example.com", "Root", "admin")
    assert "created the admin root@example.com" in caplog.text
    # A second start finds it and leaves it as it is.
    with start(
        make_app, database_url, email="root@example.com", name="Root", password=ADMIN_PASSWORD
    ) as client:
        assert me(client, "root@example.com", ADMIN_PASSWORD)["role"] == "admin"
    assert "the bootstrap admin root@example.com exists (role admin)" in caplog.text
    assert ADMIN_PASSWORD not in caplog.text


def test_an_existing_account_keeps_its_password_and_role(
    make_app: AppFactory, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with start(make_app, database_url) as client:
        register(client, "ada@example.com", "Ada")
    caplog.set_level(logging.INFO, logger="servekit.auth")
    with start(
        make_app, database_url, email="ada@example.com", name="Ada", password=ADMIN_PASSWORD
    ) as client:
        assert me(client, "ada@example.com", PASSWORD)["role"] == "user"
        assert login(client, "ada@example.com", ADMIN_PASSWORD).status_code == 401
    assert "the bootstrap admin ada@example.com exists (role user): left as it is" in caplog.text
    assert ADMIN_PASSWORD not in caplog.text


def test_the_password_may_come_from_a_secret_file(
    make_app: AppFactory, database_url: str, tmp_path: Path
) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text(ADMIN_PASSWORD + "\n")  # as `echo ... > file` writes it
    with start(make_app, database_url, email="root@example.com", password_file=secret) as client:
        assert me(client, "root@example.com", ADMIN_PASSWORD)["role"] == "admin"


@pytest.mark.parametrize(
    ("admin", "message"),
    [
        (
            {"email": "root@example.com", "password": "short"},
            "SERVEKIT_BOOTSTRAP_ADMIN__PASSWORD: password refused: it must have at least 12",
        ),
        (
            {"email": "root@example.com", "name": "Rootbeer", "password": "rootbeer-and-more"},
            "password refused: it must not contain your name or email",
        ),
        ({"email": "root@example.com"}, "set SERVEKIT_BOOTSTRAP_ADMIN__PASSWORD or"),
        ({"password": ADMIN_PASSWORD}, "SERVEKIT_BOOTSTRAP_ADMIN__EMAIL is not"),
        ({"email": "not an email", "password": ADMIN_PASSWORD}, "not a valid email address"),
        (
            {"email": "root@example.com", "password": ADMIN_PASSWORD, "password_file": "/x"},
            "not both",
        ),
        (
            {"email": "root@example.com", "password_file": "/nowhere/secret"},
            r"cannot read SERVEKIT_BOOTSTRAP_ADMIN__PASSWORD_FILE \(/nowhere/secret\)",
        ),
    ],
)
def test_a_bad_bootstrap_admin_stops_the_start_with_a_clear_message(
    make_app: AppFactory, admin: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as error:
        make_app(bootstrap_admin=admin)
    assert "short" not in str(error.value)


def test_settings_come_from_the_environment_and_hide_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVEKIT_BOOTSTRAP_ADMIN__EMAIL", "root@example.com")
    monkeypatch.setenv("SERVEKIT_BOOTSTRAP_ADMIN__NAME", "Root")
    monkeypatch.setenv("SERVEKIT_BOOTSTRAP_ADMIN__PASSWORD", ADMIN_PASSWORD)
    settings = Settings()
    admin = settings.bootstrap_admin
    assert (admin.email, admin.name) == ("root@example.com", "Root")
    assert admin.password is not None
    assert admin.password.get_secret_value() == ADMIN_PASSWORD
    assert ADMIN_PASSWORD not in repr(settings)


def test_serve_refuses_a_weak_bootstrap_password_before_serving(
    examples_dir: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "SERVEKIT_DATA_DIR": str(tmp_path / "data"),
        "SERVEKIT_BOOTSTRAP_ADMIN__EMAIL": "root@example.com",
        "SERVEKIT_BOOTSTRAP_ADMIN__PASSWORD": "tiny-secret",
    }
    command = [sys.executable, "-m", "servekit", "serve", "--models", str(examples_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "SERVEKIT_BOOTSTRAP_ADMIN__PASSWORD: password refused" in result.stderr
    assert "tiny-secret" not in result.stderr + result.stdout
