"""List ("multivalue") functions (spec 6.3): mvappend, mvindex, mvrange, length."""
from __future__ import annotations

from ..core.values import type_name
from .registry import function

MAX_LIST_VALUES = 10_000_000


@function(
    "mvappend", "values*", nulls="handle",
    example='mvappend("a", null, ["b", "c"])', result='["a","b","c"]',
)
def mvappend(*values):
    """One flat list of the arguments and their elements; nulls are skipped (observed in DSP)."""
    result = []
    for value in values:
        if type(value) is list:
            result.extend(item for item in value if item is not None)
        elif value is not None:
            result.append(value)
    return result


@function("mvindex", "input", "index", example='mvindex(["a", "b", "c"], -1)', result='"c"')
def mvindex(values, index):
    """The element at a 0-based index, negative from the end; null when out of range."""
    if type(values) is not list:
        raise TypeError(f"mvindex needs a list, got {type_name(values)}")
    if type(index) is not int:
        raise TypeError(f"mvindex needs an integer index, got {type_name(index)}")
    return values[index] if -len(values) <= index < len(values) else None


@function("mvrange", "start", "end", "step?", example='mvrange(1, 4)', result='[1,2,3]')
def mvrange(start, end, step=1):
    """Integers from start up to, not including, end."""
    for name, value in (("start", start), ("end", end), ("step", step)):
        if type(value) is not int:
            raise TypeError(f"mvrange needs an integer {name}, got {type_name(value)}")
    if step == 0:
        raise ValueError("mvrange step must not be 0")
    values = range(start, end, step)
    if len(values) > MAX_LIST_VALUES:  # one value must not take the memory of a run
        raise ValueError(f"mvrange would make {len(values):,} values, over the limit of {MAX_LIST_VALUES:,}")
    return list(values)


@function("length", "input", example='length(["a", "b"])', result='2')
def length(value):
    """Size of a string (characters), list, map or bytes."""
    if type(value) not in (str, list, dict, bytes):
        raise TypeError(f"length needs a string, list, map or bytes, got {type_name(value)}")
    return len(value)
