"""The value model (spec section 3): null, boolean, long, double, string, list, map.

Null and coercion rules live here and nowhere else; functions and operators call these helpers.
Python values stand for SPL values: None is null, bool, int (integer and long), float (float and
double), str, list (collection) and dict (map, insertion-ordered).
"""
from __future__ import annotations

import math
import operator
import re
import sys
from typing import Any, Callable

TYPE_NAMES = {
    type(None): "null",
    bool: "boolean",
    int: "long",
    float: "double",
    str: "string",
    list: "collection",
    dict: "map",
    bytes: "bytes",
}


def is_java_pattern(value: Any) -> bool:
    """A Java regex compiled by core/regex.py (a `regex` pattern). The package is looked up, not
    imported: none of its patterns exists before core/regex.py imports it to compile one."""
    regex = sys.modules.get("regex")
    return regex is not None and isinstance(value, regex.Pattern)


def _is_pattern(value: Any) -> bool:
    """A compiled regular expression: a Java regex or a LIKE pattern (`re`)."""
    return isinstance(value, re.Pattern) or is_java_pattern(value)


def type_name(value: Any) -> str:
    if _is_pattern(value):
        return "regex"
    return TYPE_NAMES.get(type(value), type(value).__name__)


def is_number(value: Any) -> bool:
    """int or float, but not bool (True is an int in Python, never a number in SPL)."""
    return (type(value) is int) or (type(value) is float)


def equals(left: Any, right: Any) -> bool:
    """Null-safe `=` (spec 3.3, 3.4): null = null; numbers by value; no string/number coercion."""
    if left is None or right is None:
        return left is None and right is None
    if is_number(left) and is_number(right):
        return left == right
    if type(left) is not type(right):
        return False
    if type(left) is list:
        return len(left) == len(right) and all(equals(a, b) for a, b in zip(left, right))
    if type(left) is dict:
        return left.keys() == right.keys() and all(equals(left[k], right[k]) for k in left)
    return left == right


def compare(left: Any, right: Any) -> int | None:
    """Ordering for < <= > >=: -1/0/1, or None when either side is null or the types don't order."""
    if left is None or right is None:
        return None
    if is_number(left) and is_number(right):
        if math.isnan(left) if type(left) is float else False:
            return None
        if math.isnan(right) if type(right) is float else False:
            return None
    elif not (type(left) is type(right) and type(left) in (str, bool)):
        return None
    return (left > right) - (left < right)


def _add(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        return a + b
    if type(a) is str and type(b) is str:
        return a + b
    return None


def _numeric(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        return fn(a, b) if is_number(a) and is_number(b) else None

    return apply


def _divide(a, b):
    if type(a) is int and type(b) is int:
        if b == 0:
            return None
        quotient = abs(a) // abs(b)  # Java integer division truncates toward zero
        return quotient if (a >= 0) == (b >= 0) else -quotient
    if b == 0:
        return float("nan") if a == 0 or a != a else float("inf") if a > 0 else float("-inf")
    return a / b


def _modulo(a, b):
    if b == 0:
        return None if type(a) is int and type(b) is int else float("nan")
    remainder = abs(a) % abs(b)  # Java's % takes the sign of the dividend
    return remainder if a >= 0 else -remainder


def negate(value: Any) -> Any:
    """Unary `-`: a number's negation, null for any other value."""
    return -value if is_number(value) else None


# The arithmetic operators (spec 3.3, 4) with Java's rules: a null or non-number operand gives null
# (`+` of two strings concatenates), int op int is an int, integer division truncates and /0 is
# null, any double makes a double. The one definition: the engine and the SQL backends' Python
# functions call these.
ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add,
    "-": _numeric(operator.sub),
    "*": _numeric(operator.mul),
    "/": _numeric(_divide),
    "%": _numeric(_modulo),
}
# The same operations for two numbers, without the checks (where a whole column is numbers).
NUMBER_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
    "%": _modulo,
}


def truth(value: Any) -> bool | None:
    """A value used as a predicate (spec 3.5): booleans as they are, null as null.

    Anything else is not a predicate; callers treat it as null (the record is dropped) and count it.
    """
    if value is True or value is False or value is None:
        return value
    return None


def hashable(value: Any) -> Any:
    """A key for grouping and state tables that agrees with `equals`.

    Lists and maps become tagged tuples (maps sorted by key, since `=` ignores key order); 1 and
    1.0 share a key because `=` says they are equal; booleans are tagged so True is not 1.
    """
    kind = type(value)
    if kind is list:
        return ("\0list", tuple(hashable(v) for v in value))
    if kind is dict:
        return ("\0map", tuple((k, hashable(value[k])) for k in sorted(value)))
    if kind is bool:
        return ("\0bool", value)
    return value


def to_text(value: Any) -> str | None:
    """Text form of a value, as `cast(x, "string")` and `concat` give it (Java's String.valueOf)."""
    if value is None:
        return None
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is float:
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if type(value) in (list, dict):
        import orjson

        return orjson.dumps(value, default=_json_default).decode()
    return str(value)


def _json_default(value: Any) -> Any:
    if _is_pattern(value):
        return value.pattern
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value).__name__)


def to_json_ready(value: Any) -> Any:
    """Normalise a value for JSON output: non-finite doubles print as null, -0.0 as 0.0 (spec 4, 6.6)."""
    kind = type(value)
    if kind is float:
        if value != value or value in (math.inf, -math.inf):
            return None
        return 0.0 if value == 0 else value
    if kind is list:
        return [to_json_ready(v) for v in value]
    if kind is dict:
        return {k: to_json_ready(v) for k, v in value.items()}
    return value
