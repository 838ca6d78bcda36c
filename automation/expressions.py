"""Sandboxed Jinja2 rendering of step inputs and conditions, bounded in time and output size.

``ImmutableSandboxedEnvironment`` stops attribute tricks (``''.__class__.__mro__``); it does not stop
output bombs (``'a' * 10**8``) or CPU bombs (``10**10**10``, nested loops), so this module caps the
operands of ``*``, ``**`` and ``+``, the size of every call's result and of the rendered text, and checks
a deadline on every call, attribute access and output chunk.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_EXPRESSION_ONLY = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_FALSE_WORDS = frozenset({"", "false", "0", "no", "off", "none", "null"})
MAX_EXPONENT = 1000
_FORMAT_WIDTH = re.compile(r"(\d+)")


class ExpressionError(ValueError):
    """An expression that cannot be rendered; ``location`` says where it lives in the definition."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


class _Budget(Exception):
    """Raised inside rendering when the time or size budget is spent."""


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, timeout: float, max_chars: int) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False)
        self.timeout = timeout
        self.max_chars = max_chars
        self.deadline = float("inf")
        self.filters["fromjson"] = _fromjson
        self.filters["parse_datetime"] = _parse_datetime

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _Budget(f"took longer than {self.timeout:g}s")

    def check_size(self, value: Any) -> Any:
        if isinstance(value, str | bytes | list | tuple | dict) and len(value) > self.max_chars:
            raise _Budget(f"output too large (limit {self.max_chars} characters)")
        return value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise _Budget(f"exponent too large (limit {MAX_EXPONENT})")
        if operator == "%" and isinstance(left, str):
            self.check_text_call(left, "%", (), {})
        if operator == "*":
            sized, count = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(sized, str | list | tuple) and isinstance(count, int):
                if len(sized) * count > self.max_chars:
                    raise _Budget(f"output too large (limit {self.max_chars} characters)")
        return self.check_size(super().call_binop(context, operator, left, right))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.tick()
        # Jinja hands out ``str.format`` wrapped (functools.update_wrapper): look through to the bound method.
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):
            self.check_text_call(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return self.check_size(super().call(__context, __obj, *args, **kwargs))

    def check_text_call(self, text: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """Refuse text operations whose result would pass the size limit, before they build it."""
        for option in [*args, *kwargs.values()]:
            if isinstance(option, int) and not isinstance(option, bool) and abs(option) > self.max_chars:
                raise _Budget(f"argument {option} is too large (limit {self.max_chars})")
        if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            hits = text.count(args[0]) if args[0] else len(text) + 1
            if len(text) + hits * (len(args[1]) - len(args[0])) > self.max_chars:
                raise _Budget(f"output too large (limit {self.max_chars} characters)")
        if name in ("format", "format_map", "%") and any(
            int(width) > self.max_chars for width in _FORMAT_WIDTH.findall(text)
        ):
            raise _Budget(f"format width too large (limit {self.max_chars})")

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.tick()
        # Payload keys win over dict methods: `trigger.body.items` is the field, not dict.items.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.tick()
        return super().getitem(obj, argument)


def _fromjson(text: str) -> Any:
    return json.loads(text)


def _parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _filter_wrapper(env: _BoundedEnvironment) -> None:
    # Filters run outside ``call``: wrap each so its result is size-checked and the deadline is honoured.
    for name, function in list(env.filters.items()):
        env.filters[name] = _bounded(env, name, function)


def _bounded(env: _BoundedEnvironment, name: str, function: Any) -> Any:
    # The first argument is the filtered value (after the context/environment when the filter asks for
    # one); numeric *options* beyond the size limit (``center(10**8)``) would build oversized text.
    skip = 2 if hasattr(function, "jinja_pass_arg") else 1

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        env.tick()
        value = args[skip - 1] if len(args) >= skip else None
        text_name = {"replace": "replace", "format": "format"}.get(name, "")
        env.check_text_call(value if isinstance(value, str) else "", text_name, args[skip:], kwargs)
        return env.check_size(function(*args, **kwargs))

    if hasattr(function, "jinja_pass_arg"):
        wrapper.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
    return wrapper


class Renderer:
    """Renders values of a definition against a run's context. One per worker job; caches compiled text."""

    def __init__(self, *, timeout: float = 2.0, max_chars: int = 100_000) -> None:
        self.env = _BoundedEnvironment(timeout, max_chars)
        _filter_wrapper(self.env)
        self._template = lru_cache(maxsize=512)(self.env.from_string)
        self._expression = lru_cache(maxsize=512)(self._compile_expression)

    def _compile_expression(self, source: str) -> Any:
        return self.env.compile_expression(source, undefined_to_none=False)

    def render(self, value: Any, context: Mapping[str, Any], location: str) -> Any:
        """Render every string in ``value`` (recursing into mappings and lists).

        A string that is exactly one ``{{ expression }}`` gives the expression's own value (a number, a
        list, ...); any other string with template markup renders to text.

        Raises:
            ExpressionError: naming ``location`` (extended with keys and indexes) and what went wrong.
        """
        if isinstance(value, Mapping):
            return {k: self.render(v, context, f"{location}.{k}") for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.render(v, context, f"{location}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        return self._guarded(location, lambda: self._render_text(value, context))

    def condition(self, value: Any, context: Mapping[str, Any], location: str) -> bool:
        """Truthiness of the rendered value; the words false/no/off/0/none/null and "" are false."""
        result = self.render(value, context, location)
        if isinstance(result, str):
            return result.strip().lower() not in _FALSE_WORDS
        return bool(result)

    def check(self, value: Any, location: str) -> list[str]:
        """Syntax problems in every string of ``value``, as ``location: message``; renders nothing."""
        if isinstance(value, Mapping):
            return [p for k, v in value.items() for p in self.check(v, f"{location}.{k}")]
        if isinstance(value, list | tuple):
            return [p for i, v in enumerate(value) for p in self.check(v, f"{location}[{i}]")]
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return []
        try:
            self.env.parse(value)
        except TemplateSyntaxError as exc:
            return [f"{location}: invalid expression: {exc.message} (line {exc.lineno})"]
        return []

    def step_references(self, value: Any) -> set[str]:
        """Ids of steps ``value`` reads as ``steps.X`` or ``steps['X']``."""
        if isinstance(value, Mapping):
            return set().union(*(self.step_references(v) for v in value.values())) if value else set()
        if isinstance(value, list | tuple):
            return set().union(*(self.step_references(v) for v in value)) if value else set()
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return set()
        try:
            tree = self.env.parse(value)
        except TemplateSyntaxError:
            return set()
        found: set[str] = set()
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            if isinstance(node.node, nodes.Name) and node.node.name == "steps":
                if isinstance(node, nodes.Getattr):
                    found.add(node.attr)
                elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                    found.add(node.arg.value)
        return found

    def _render_text(self, text: str, context: Mapping[str, Any]) -> Any:
        self.env.deadline = time.monotonic() + self.env.timeout
        try:
            whole = _EXPRESSION_ONLY.match(text)
            if whole and "{{" not in whole.group("expr") and "}}" not in whole.group("expr"):
                value = self._expression(whole.group("expr").strip())(**context)
                if isinstance(value, Undefined):
                    str(value)  # an undefined or unsafe result raises its own error only when used
                return self.env.check_size(value)
            chunks: list[str] = []
            size = 0
            for chunk in self._template(text).generate(**context):
                size += len(chunk)
                if size > self.env.max_chars:
                    raise _Budget(f"output too large (limit {self.env.max_chars} characters)")
                self.env.tick()
                chunks.append(chunk)
            return "".join(chunks)
        finally:
            self.env.deadline = float("inf")

    @staticmethod
    def _guarded(location: str, render: Any) -> Any:
        try:
            return render()
        except _Budget as exc:
            raise ExpressionError(location, str(exc)) from None
        except UndefinedError as exc:
            raise ExpressionError(location, f"{_undefined_message(exc)}") from None
        except SecurityError as exc:
            raise ExpressionError(location, f"not allowed: {exc}") from None
        except TemplateSyntaxError as exc:
            raise ExpressionError(location, f"invalid expression: {exc.message}") from None
        except TemplateError as exc:
            raise ExpressionError(location, f"cannot render: {exc}") from None
        except (ArithmeticError, TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ExpressionError(location, f"{type(exc).__name__}: {exc}") from None
        except RecursionError:
            raise ExpressionError(location, "expression nests too deeply") from None


def _undefined_message(exc: UndefinedError) -> str:
    text = str(exc)
    return f"undefined value: {text}" if text else "undefined value"
