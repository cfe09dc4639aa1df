"""Checking `key=value` arguments of generic commands: names, types, required ones."""
from __future__ import annotations

from typing import Any

from ...syntax import ast
from ...core.errors import BAD_ARGUMENT, SplError, did_you_mean


def literal_value(expr: ast.Expr) -> Any:
    """The Python value of a literal argument (lists of literals included), or raise."""
    if isinstance(expr, ast.Literal):
        return expr.value
    if isinstance(expr, ast.ListLiteral):
        return [literal_value(item) for item in expr.items]
    if isinstance(expr, ast.Field):
        return expr.name  # `entity=device` written without quotes means the field name
    raise SplError(BAD_ARGUMENT, "expected a literal value here", expr.span)


_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}


def keyword_arguments(
    node: ast.GenericCommand, allowed: dict[str, tuple[type, ...]], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Validate `name key=value ...`; returns {key: value} with positional literals under ""."""
    values: dict[str, Any] = {}
    for argument in node.args:
        if not isinstance(argument, ast.KeywordArgument):
            if "" not in allowed:
                raise SplError(BAD_ARGUMENT, f"`{node.name}` takes only key=value arguments", argument.span)
            values[""] = argument
            continue
        key = argument.name.lower()
        if key not in allowed:
            known = [k for k in allowed if k]
            raise SplError(
                BAD_ARGUMENT,
                f"`{node.name}` has no argument `{argument.name}`",
                argument.span,
                hint=did_you_mean(key, known) or "it takes " + ", ".join(f"`{k}`" for k in known),
            )
        if key in values:
            raise SplError(BAD_ARGUMENT, f"argument `{argument.name}` is given twice", argument.span)
        value = literal_value(argument.value)
        types = allowed[key]
        if float in types and type(value) is int:
            value = float(value)
        if type(value) not in types:
            wanted = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in types)
            raise SplError(BAD_ARGUMENT, f"`{argument.name}` must be {wanted}", argument.value.span)
        values[key] = value
    for key in required:
        if key not in values:
            raise SplError(
                BAD_ARGUMENT, f"`{node.name}` needs `{key}=...`", node.name_span, hint=f'add `{key}="<field>"`'
            )
    return values


def argument_span(node: ast.GenericCommand, key: str):
    """Where the value of `key=...` is written, for a caret under it (the command if absent)."""
    for argument in node.args:
        if isinstance(argument, ast.KeywordArgument) and argument.name.lower() == key:
            return argument.value.span
    return node.span
