"""Maps ``<connector>.<action>`` names to connectors. Data the API and forms read, and the engine runs."""

from __future__ import annotations

import importlib

from integrations.base import Action, Connector

_connectors: dict[str, Connector] = {}


def register(connector: Connector) -> Connector:
    _connectors[connector.key] = connector
    return connector


def unregister(key: str) -> None:
    _connectors.pop(key, None)


def connectors() -> list[Connector]:
    _load_builtin()
    return sorted(_connectors.values(), key=lambda c: c.key)


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
    import automation.core_actions  # noqa: F401, PLC0415
