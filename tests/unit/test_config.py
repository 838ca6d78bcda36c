"""Settings come from the environment; a bad value stops start-up naming the variable."""

import pytest

from automation.config import ConfigError, Settings


def test_defaults_apply_when_environment_is_empty():
    settings = Settings.from_env({})
    assert settings.DATABASE_URL is None
    assert settings.REDIS_URL is None
    assert settings.RELAY_QUEUE == "relay"
    assert settings.RELAY_STEP_TIMEOUT == 30.0
    assert settings.RELAY_MAX_BODY_BYTES == 1048576


def test_durations_and_numbers_are_parsed():
    settings = Settings.from_env({"RELAY_LEASE": "2m", "RELAY_PAGE_SIZE": "25"})
    assert settings.RELAY_LEASE == 120.0
    assert settings.RELAY_PAGE_SIZE == 25


def test_postgres_urls_use_psycopg_driver():
    settings = Settings.from_env({"DATABASE_URL": "postgres://u@h:5432/d"})
    assert settings.DATABASE_URL == "postgresql+psycopg://u@h:5432/d"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RELAY_LEASE", "soon"),
        ("RELAY_PAGE_SIZE", "0"),
        ("RELAY_MAX_BODY_BYTES", "lots"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_value_names_the_variable_in_one_line(name, value):
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({name: value})
    message = str(excinfo.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message
