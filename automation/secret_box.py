"""Encryption of connection secrets at rest: Fernet keys from ``RELAY_SECRET_KEYS`` combined in a
MultiFernet, so the first key encrypts, every listed key decrypts, and rotation re-encrypts under the first.

Without ``RELAY_SECRET_KEYS`` a key is generated once into the instance folder, which suits one machine
(``relay up``); several machines must share the variable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app

from automation.config import ConfigError

EXTENSION = "relay_secret_box"


class SecretsUnreadable(Exception):
    """Stored ciphertext does not open with any configured key (a key was removed from the list)."""


class SecretBox:
    """Encrypts and decrypts a mapping of secret field values as one Fernet token."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError("RELAY_SECRET_KEYS: at least one key is needed")
        fernets: list[Fernet] = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode()))
            except ValueError:
                raise ConfigError(f"RELAY_SECRET_KEYS: key {position} is not a Fernet key (32 url-safe base64 "
                                  "bytes); make one with `relay keys generate`") from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_setting(cls, text: str | None, instance_path: str | os.PathLike[str]) -> SecretBox:
        keys = [k.strip() for k in (text or "").split(",") if k.strip()]
        return cls(keys or [_instance_key(Path(instance_path) / "secret_keys")])

    def encrypt(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode()).decode()

    def decrypt(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        try:
            return dict(json.loads(self._fernet.decrypt(token.encode())))
        except InvalidToken:
            raise SecretsUnreadable("the saved secrets cannot be decrypted with any key in RELAY_SECRET_KEYS; "
                                    "add back the key they were saved with, or enter them again") from None

    def rotate(self, token: str) -> str:
        """The same secrets encrypted under the first key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretsUnreadable("cannot rotate: no key in RELAY_SECRET_KEYS decrypts these secrets") from None


def init_secret_box(app: Flask) -> None:
    app.extensions[EXTENSION] = SecretBox.from_setting(app.config.get("RELAY_SECRET_KEYS"), app.instance_path)


def secret_box() -> SecretBox:
    return current_app.extensions[EXTENSION]


def generate_key() -> str:
    return Fernet.generate_key().decode()


def _instance_key(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another Relay process created it first: use theirs
        return path.read_text().strip()
    key = generate_key()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
