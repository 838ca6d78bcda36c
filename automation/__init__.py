"""Relay's core: configuration, data model, definitions, expressions, the engine and its processes."""
