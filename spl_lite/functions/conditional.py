"""Conditional and predicate functions (spec 6.5, 4): if, case, coalesce, like, match_regex, match, in."""
from __future__ import annotations

from ..core.regex import as_pattern, like_to_regex, search
from ..core.values import equals, type_name
from .registry import function
from .string import text_arg


def _condition(func: str, value) -> bool:
    """A predicate argument: null counts as false; anything but a boolean is an error (spec 3.5)."""
    if value is None or type(value) is bool:
        return value is True
    raise TypeError(f"{func} needs a boolean condition, got {type_name(value)}")


@function(
    "if", "predicate", "then", "else", nulls="handle",
    example='if(1 > 2, "yes", "no")', result='"no"',
)
def if_(predicate, then, otherwise):
    """`then` when the predicate is true, else `else`; a null predicate counts as false."""
    return then if _condition("if", predicate) else otherwise


@function(
    "case", "condition", "value", "more*", nulls="handle",
    example='case(1 > 2, "a", 2 > 1, "b")', result='"b"',
)
def case(*pairs):
    """The value after the first true condition (a null condition counts as false); null when none
    is true."""
    if len(pairs) % 2:
        raise ValueError(f"case needs condition/value pairs, got {len(pairs)} arguments")
    for i in range(0, len(pairs), 2):
        if _condition("case", pairs[i]):
            return pairs[i + 1]
    return None


@function("coalesce", "values*", nulls="handle", example='coalesce(null, "x", "y")', result='"x"')
def coalesce(*values):
    """The first argument that is not null; null when all are."""
    return next((value for value in values if value is not None), None)


@function("like", "str", "pattern", example='like("powershell.exe", "power%")', result='true')
def like(text, pattern):
    """SQL LIKE over the whole string: `%` any run, `_` one character, case-sensitive."""
    return like_to_regex(text_arg("like", pattern)).match(text_arg("like", text)) is not None


@function(
    "match_regex", "str", "regex",
    example='match_regex("cmd /c WhoAmI", /whoami/i)', result='true',
)
@function("match", "str", "regex", example='match("cmd /c whoami", /who/)', result='true')
def match_regex(text, regex):
    """True when the regex matches anywhere in the string (unanchored)."""
    return search(as_pattern(regex), text_arg("match_regex", text)) is not None


@function("in", "field", "values*", nulls="handle", example='in("b", "a", "b")', result='true')
def in_(field, *values):
    """Null-safe equality with any listed value; a list argument contributes its elements (spec 4)."""
    for value in values:
        if type(value) is list:
            if any(equals(field, item) for item in value):
                return True
        elif equals(field, value):
            return True
    return False
