"""Casting and conversion functions (spec 6.1): ucast, cast, parse_long, parse_double, tostring."""
from __future__ import annotations

import functools
import math
import re
from typing import Any

import numpy as np

from ..core.batch import TEXT_KINDS, DeferredColumn, MapsView, kinds_of
from ..core.values import is_number, to_text, type_name
from .registry import column_kernel, function

_BASIC_TYPES = ("string", "integer", "long", "float", "double", "boolean", "bytes", "any")

_LONG_TEXT = re.compile(r"[+-]?[0-9]+")
_SHORT_DIGIT_LINES = re.compile(r"(?:[0-9]{1,18}\n)*[0-9]{1,18}")
# What Java's Double.parseDouble accepts (decimal forms; after trimming), but not Python-only
# spellings such as "inf", "nan" or "1_000".
_DOUBLE_TEXT = re.compile(r"[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[fFdD]?)")

# String.trim() in Java drops every character up to and including the space.
_JAVA_BLANKS = "".join(map(chr, range(33)))
_RANGES = {"integer": 2**31, "long": 2**63}
_PYTHON_TYPES = {"string": str, "boolean": bool, "bytes": bytes, "collection": list, "map": dict}


def parse_type(target_type: Any) -> str:
    """Normalise a type name: `"map<string, any>"` -> `"map"`, `"collection<string>"` -> `"collection"`.

    Accepts what the planner's type check accepts, including `int` and `list<T>`.
    """
    if type(target_type) is not str:
        raise TypeError(f"a type name must be a string, got {type_name(target_type)}")
    return _normalise_type(target_type)


@functools.lru_cache(maxsize=256)
def _normalise_type(target_type: str) -> str:
    name = target_type.replace(" ", "").lower()
    if name.startswith(("collection<", "list<")) and name.endswith(">"):
        return "collection"
    if name.startswith("map<") and name.endswith(">"):
        return "map"
    if name in _BASIC_TYPES:
        return name
    if name == "int":
        return "integer"
    raise ValueError(
        f"unknown type {target_type!r}; expected one of {', '.join(_BASIC_TYPES)}, collection<T>, map<string, T>"
    )


@function(
    "ucast", "input", "target_type", "default_value", nulls="handle",
    example='ucast("42", "long", -1)', result='-1',
)
def ucast(value, target_type, default_value):
    """Check the runtime type, never convert (spec 6.1); a mismatch or a null input gives the default.

    A null input giving the default is how detections turn a missing field into "".
    """
    kind = parse_type(target_type)
    if value is None:
        return default_value
    if kind in ("integer", "long"):
        return value if type(value) is int else default_value
    if kind in ("float", "double"):
        return float(value) if is_number(value) else default_value
    if kind == "any":
        return value
    return value if type(value) is _PYTHON_TYPES[kind] else default_value


def _checked_type(target_type: Any) -> type | None:
    """The Python type ucast to `target_type` checks values against, when it only checks."""
    kind = parse_type(target_type)
    return int if kind in ("integer", "long") else _PYTHON_TYPES.get(kind)


def ucast_only_checks(target_type: Any) -> bool:
    """Whether ucast to this type passes or replaces each value without converting it, so that
    it can fail on no value."""
    return _checked_type(target_type) is not None


@column_kernel("ucast")
def ucast_column(values, target_type, default_value):
    # The types that pass unchanged (string, long, boolean, collection, map) need only a class
    # check per record; the float conversion and `any` keep the record-by-record path.
    wanted = _checked_type(target_type)
    if wanted is None:
        return NotImplemented
    if isinstance(values, MapsView):  # maps or nulls only: the check to a map with a null default passes them all
        return values if wanted is dict and default_value is None else NotImplemented
    if values.__class__ is DeferredColumn:
        # A check cannot fail, so it may wait; a partial, not a lambda, so that workers can send it.
        return values.then(functools.partial(ucast, target_type=target_type, default_value=default_value))
    present = kinds_of(values) or set(map(type, values))
    if present <= {wanted} or (default_value is None and present <= {wanted, type(None)}):
        return values  # the usual case, a field that always has the declared type: nothing changes
    return [v if v.__class__ is wanted else default_value for v in values]


@function("cast", "input", "target_type", example='cast("42", "long")', result='42')
def cast(value, target_type):
    """Convert between basic types; null when unsupported or failing (a list or map to "string" too).

    serialize_json gives the JSON text of a list or map."""
    kind = parse_type(target_type)
    if kind == "string":
        if type(value) in (list, dict):
            return None  # not a basic type: no conversion (spec 6.1); serialize_json gives JSON text
        return value.decode("utf-8", "replace") if type(value) is bytes else to_text(value)
    if kind in ("integer", "long"):
        if type(value) is float:
            # Spec 6.1 (DSP's conversion table): float -> integer rounds down.
            return math.floor(value) if math.isfinite(value) else None
        if type(value) is int:
            return value
        return _parse_integer(value, _RANGES[kind]) if type(value) is str else None
    if kind in ("float", "double"):
        if is_number(value):
            return float(value)
        return _parse_double(value) if type(value) is str else None
    if kind == "boolean":
        if type(value) is bool:
            return value
        if type(value) is str and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return None
    if kind == "bytes":
        if type(value) is str:
            return value.encode("utf-8")
        return value if type(value) is bytes else None
    if kind == "any":
        return value
    return value if type(value) is _PYTHON_TYPES[kind] else None


@function("parse_long", "value", example='parse_long("1543883484466")', result='1543883484466')
def parse_long(value):
    """Java Long.parseLong: optional sign and ASCII digits, within 64 bits; else null (numbers too).

    Only parse_double is lenient with a number argument (spec 6.1)."""
    return _parse_integer(value, _RANGES["long"]) if type(value) is str else None


@column_kernel("parse_long")
def parse_long_column(values):
    # Epoch-millisecond strings are the common case: up to 18 ASCII digits always fit in a long.
    # One regular-expression match checks a whole column of them at C speed; anything else takes
    # the full rules value by value.
    texts = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if texts and (kinds_of(values) or set(map(type, texts))) <= TEXT_KINDS and None not in texts:
        joined = "\n".join(texts)
        numbers = _equal_width_digits(joined, len(texts), len(texts[0]))
        if numbers is not None:
            return numbers.tolist()
        if joined.count("\n") == len(texts) - 1 and _SHORT_DIGIT_LINES.fullmatch(joined):
            # numpy's text parser reads them twice as fast as int() one by one.
            numbers = np.fromstring(joined, dtype=np.int64, sep="\n")
            if len(numbers) == len(texts):
                return numbers.tolist()
    return [
        int(v) if v.__class__ is str and len(v) < 19 and v.isdigit() and v.isascii() else parse_long(v)
        for v in values
    ]


def _equal_width_digits(joined: str, count: int, width: int) -> np.ndarray | None:
    """The numbers, if `joined` is `count` runs of `width` (at most 18) ASCII digits each with a
    newline between them, as epoch timestamps are: a grid of digit bytes, checked and summed by
    place value in numpy."""
    if not 1 <= width <= 18 or len(joined) != count * (width + 1) - 1 or not joined.isascii():
        return None
    grid = np.empty(count * (width + 1), dtype=np.uint8)
    grid[:-1] = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    grid[-1] = 10
    grid = grid.reshape(count, width + 1)
    digits = grid[:, :width] - np.uint8(48)  # anything but 0-9 wraps to more than 9
    if not (grid[:, width] == 10).all() or (digits > 9).any():
        return None
    return digits.astype(np.int64) @ (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))


@function("parse_double", "value", example='parse_double("2.5")', result='2.5')
def parse_double(value):
    """Java Double.parseDouble; a number argument is returned as a double (spec 6.1, lenient)."""
    if is_number(value):
        return float(value)
    return _parse_double(value) if type(value) is str else None


@function("tostring", "value", example='tostring(4.5)', result='"4.5"')
@function("to_string", "value", example='to_string(42)', result='"42"')
def tostring(value):
    """The value as text: cast(value, "string")."""
    return cast(value, "string")


def _parse_integer(text: str, limit: int) -> int | None:
    if not _LONG_TEXT.fullmatch(text):
        return None
    number = int(text)
    return number if -limit <= number < limit else None


def _parse_double(text: str) -> float | None:
    trimmed = text.strip(_JAVA_BLANKS)
    if not _DOUBLE_TEXT.fullmatch(trimmed):
        return None
    return float(trimmed.rstrip("fFdD"))
