"""Connection secrets at rest: MultiFernet from RELAY_SECRET_KEYS, first key encrypts, all decrypt."""

from __future__ import annotations

import pytest

from automation.config import ConfigError
from automation.secret_box import SecretBox, SecretsUnreadable, generate_key


def test_round_trip_returns_the_same_values():
    box = SecretBox([generate_key()])
    token = box.encrypt({"password": "hunter22", "token": "xoxb-1"})
    assert "hunter22" not in token
    assert box.decrypt(token) == {"password": "hunter22", "token": "xoxb-1"}


def test_an_older_key_still_decrypts_after_a_new_one_is_put_first():
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt({"password": "hunter22"})
    assert SecretBox([new, old]).decrypt(token) == {"password": "hunter22"}


def test_rotation_re_encrypts_under_the_first_key():
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt({"password": "hunter22"})
    rotated = SecretBox([new, old]).rotate(token)
    assert SecretBox([new]).decrypt(rotated) == {"password": "hunter22"}
    with pytest.raises(SecretsUnreadable):
        SecretBox([old]).decrypt(rotated)


def test_secrets_saved_under_a_removed_key_are_reported_not_crashed_on():
    token = SecretBox([generate_key()]).encrypt({"password": "hunter22"})
    with pytest.raises(SecretsUnreadable, match="RELAY_SECRET_KEYS"):
        SecretBox([generate_key()]).decrypt(token)


def test_a_malformed_key_names_the_setting_and_its_position():
    with pytest.raises(ConfigError, match="RELAY_SECRET_KEYS: key 2 is not a Fernet key"):
        SecretBox.from_setting(f"{generate_key()}, not-a-key", "/nonexistent")


def test_without_the_setting_a_key_is_generated_once_into_the_instance_folder(tmp_path):
    token = SecretBox.from_setting(None, tmp_path).encrypt({"a": "secret"})
    assert (tmp_path / "secret_keys").stat().st_mode & 0o777 == 0o600
    assert SecretBox.from_setting("", tmp_path).decrypt(token) == {"a": "secret"}
