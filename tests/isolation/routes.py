"""The route map as the walks see it: every rule of a blueprint with each of its methods, and the URL for it
with one tenant's ids in place of its variables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest
from flask import Flask
from werkzeug.routing import Rule

# Variables that name no workspace row: the same for every workspace, so they take the same value for all.
SHARED_VALUES = {"key": "lead-to-slack"}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Route:
    rule: Rule
    method: str

    @property
    def has_ids(self) -> bool:
        return any(name not in SHARED_VALUES for name in self.rule.arguments)

    @property
    def writes(self) -> bool:
        return self.method in WRITE_METHODS

    def __str__(self) -> str:
        return f"{self.method} {self.rule.rule}"


def routes(app: Flask, prefix: str = "", blueprint: str = "", skip: frozenset[str] = frozenset()) -> Iterator[Route]:
    """Every (rule, method) whose path starts with ``prefix`` or whose endpoint is in ``blueprint``."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in skip:
            continue
        if (prefix and rule.rule.startswith(prefix)) or (blueprint and rule.endpoint.startswith(blueprint + ".")):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield Route(rule, method)


def url(route: Route, ids: Mapping[str, int]) -> str:
    """The rule's path with ``ids`` (and the shared values) in place of its variables.

    A variable the walk has no value for fails the test: a new kind of id needs a row in
    tests/isolation/conftest.py and an entry in ``Tenant.ids``, so that its route is walked too.
    """
    values: dict[str, object] = {}
    for name in route.rule.arguments:
        if name in SHARED_VALUES:
            values[name] = SHARED_VALUES[name]
        elif name in ids:
            values[name] = ids[name]
        else:
            pytest.fail(f"{route}: the isolation walk has no id for <{name}>. Add a row of that kind to both "
                        f"workspaces in tests/isolation/conftest.py (_build) and put its id in tenant.ids[{name!r}]")
    built = route.rule.build(values, append_unknown=False)
    assert built is not None, f"{route}: cannot build a URL from {values}"
    return built[1]
