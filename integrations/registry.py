"""Maps ``<connector>.<action>`` names to connectors and connection-type keys to connection types. Data the
API and forms read, and the engine runs."""

from __future__ import annotations

import importlib

from integrations.base import Action, ConnectionType, Connector

BUILTIN_MODULES = (
    "automation.core_actions",
    "integrations.email",
    "integrations.sms",
    "integrations.slack",
    "integrations.teams",
    "integrations.webhook",
    "integrations.webhook_secret",
    "integrations.http",
)

_connectors: dict[str, Connector] = {}
_connection_types: dict[str, ConnectionType] = {}
_loaded = False


def register(connector: Connector) -> Connector:
    _connectors[connector.key] = connector
    return connector


def register_connection_type(connection_type: ConnectionType) -> ConnectionType:
    _connection_types[connection_type.key] = connection_type
    return connection_type


def unregister(key: str) -> None:
    _connectors.pop(key, None)


def connectors() -> list[Connector]:
    _load_builtin()
    return sorted(_connectors.values(), key=lambda c: c.key)


def connection_types() -> list[ConnectionType]:
    _load_builtin()
    return sorted(_connection_types.values(), key=lambda t: t.key)


def find_connection_type(key: str) -> ConnectionType | None:
    _load_builtin()
    return _connection_types.get(key)


def find_action(uses: str) -> tuple[Connector, Action] | None:
    """Resolve ``slack.post_message``; None when the connector or the action does not exist."""
    _load_builtin()
    key, _, name = uses.partition(".")
    connector = _connectors.get(key)
    action = connector.action(name) if connector else None
    return (connector, action) if connector and action else None


def load_plugins(modules: str) -> None:
    """Import each module named in the comma-separated ``modules``; importing registers its connectors."""
    for name in filter(None, (m.strip() for m in modules.split(","))):
        importlib.import_module(name)


def _load_builtin() -> None:
    # Imported on first use so the registry module has no import-time side effects of its own.
    global _loaded
    if _loaded:
        return
    for name in BUILTIN_MODULES:
        importlib.import_module(name)
    _loaded = True
