"""Connectors: one module per service, all behind the interface in ``integrations.base``."""
