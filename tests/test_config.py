"""Settings from the environment, .env and Cloud Run's PORT."""

from __future__ import annotations

from pathlib import Path

import pytest

from servekit.config import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("SERVEKIT_PORT", raising=False)
    settings = Settings()
    assert settings.port == 8000
    assert settings.limits.max_body_bytes == 1_048_576


def test_cloud_run_port_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVEKIT_PORT", raising=False)
    monkeypatch.setenv("PORT", "9123")
    assert Settings().port == 9123


def test_servekit_port_wins_over_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("SERVEKIT_PORT", "9124")
    assert Settings().port == 9124


def test_nested_groups_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "SERVEKIT_LIMITS__MAX_BATCH_ROWS=7\nSERVEKIT_MODEL_REPOSITORY=/srv/models\n"
    )
    monkeypatch.setenv("SERVEKIT_LOG__LEVEL", "DEBUG")
    settings = Settings()
    assert settings.limits.max_batch_rows == 7
    assert settings.model_repository == Path("/srv/models")
    assert settings.log.level == "DEBUG"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVEKIT_LIMITS__MAX_BODY_BYTES", "-1")
    with pytest.raises(ValueError, match="max_body_bytes"):
        Settings()


def test_no_proxy_is_trusted_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().trusted_proxies == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", ["127.0.0.1"]),
        ("127.0.0.1, 10.1.2.3/8,::1", ["127.0.0.1", "10.0.0.0/8", "::1"]),
        ('["192.168.0.0/16", "fd00::/8"]', ["192.168.0.0/16", "fd00::/8"]),
        ("", []),
    ],
)
def test_trusted_proxies_are_a_list_of_addresses_and_networks(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("SERVEKIT_TRUSTED_PROXIES", value)
    assert Settings().trusted_proxies == expected


def test_a_proxy_that_is_no_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn would take it for a host name that never matches, and trust nobody in silence.
    monkeypatch.setenv("SERVEKIT_TRUSTED_PROXIES", "10.0.0.300")
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings()


def test_an_optional_bound_is_turned_off_by_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVEKIT_PREDICTION_LOG__RETENTION_DAYS", "none")
    monkeypatch.setenv("SERVEKIT_PREDICTION_LOG__MAX_ROWS", "1000")
    settings = Settings()
    assert settings.prediction_log.retention_days is None
    assert settings.prediction_log.max_rows == 1000


def test_the_listen_backlog_is_a_setting_handed_to_uvicorn() -> None:
    from servekit.server import _config

    settings = Settings(limits={"backlog": 512})
    assert _config("servekit.server:app_from_env", settings).backlog == 512
    assert Settings().limits.backlog == 4096
