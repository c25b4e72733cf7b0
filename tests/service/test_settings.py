"""Settings: embedded defaults, and validators that refuse unsafe production set-ups."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.core.settings import Settings

PG = "postgresql://db-host/mesascope"


def test_embedded_defaults_live_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="", queue_url="")
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'mesascope.db'}"
    assert settings.queue_url == f"sqlite:///{tmp_path.resolve() / 'queue.db'}"
    assert settings.is_sqlite


def test_postgres_urls_get_the_psycopg_driver() -> None:
    assert Settings(database_url=PG).database_url == "postgresql+psycopg://db-host/mesascope"


def test_gym_allow_list_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESASCOPE_ALLOWED_GYM_IDS", "seals/*, CartPole-v1")
    assert Settings().allowed_gym_ids == ("seals/*", "CartPole-v1")


@pytest.mark.parametrize(
    "fields",
    [
        {"queue_url": "amqp://broker"},
        {
            "environment": "production",
            "lease_seconds": 1,
            "database_url": PG,
            "session_secret": "s",
        },
        {"environment": "production", "database_url": PG},
    ],
)
def test_unsafe_settings_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**fields)


def test_production_with_shared_database_and_secret_is_fine() -> None:
    settings = Settings(environment="production", database_url=PG, session_secret="s3cret")
    assert settings.session_secret is not None
    assert settings.session_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
