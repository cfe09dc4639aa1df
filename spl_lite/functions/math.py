"""Math functions (spec 6.6): log (base 10 by default), ln, exp, abs, ceil, floor, sqrt, pow."""
from __future__ import annotations

import math

import numpy as np

from ..core.values import is_number, type_name
from .registry import column_kernel, function

# Results follow Java's Math: out-of-domain inputs give NaN or infinities instead of errors, and
# the output writers print any non-finite number as null (spec 6.6).


def _number(func: str, value):
    if not is_number(value):
        raise TypeError(f"{func} needs a number, got {type_name(value)}")
    return value


def _ln(x: float) -> float:
    """math.log with Java's Math.log edge cases instead of exceptions."""
    if x > 0 or math.isnan(x):
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _divide(a: float, b: float) -> float:
    """IEEE division, as Java does it for doubles."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


@function("log", "value", "base?", example='log(1000)', result='3.0')
def log(value, base=10):
    """Logarithm in `base`, 10 when omitted; a double (0 or a negative number: written as null)."""
    x = float(_number("log", value))
    base = _number("log", base)
    # log10/log2 are exact on powers of their base; a quotient of natural logs is not.
    if x > 0 and base == 10:
        return math.log10(x)
    if x > 0 and base == 2:
        return math.log2(x)
    return _divide(_ln(x), _ln(float(base)))


@column_kernel("log")
def log_column(values, base=10):
    # Positive doubles in base 10 (the streaming-ML detections' -log(lift)) need no check or
    # special case per value; anything else goes value by value.
    if base != 10 or type(base) not in (int, float):
        return NotImplemented
    values = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if set(map(type, values)) != {float} or not (np.array(values, dtype=np.float64) > 0).all():
        return NotImplemented
    return list(map(math.log10, values))


@function("ln", "value", example='ln(1)', result='0.0')
def ln(value):
    """Natural logarithm; a double."""
    return _ln(float(_number("ln", value)))


@function("exp", "value", example='exp(0)', result='1.0')
def exp(value):
    """e to the power of the number; a double (Infinity, written null, on overflow)."""
    try:
        return math.exp(_number("exp", value))
    except OverflowError:
        return math.inf


@function("abs", "value", example='abs(-3)', result='3')
def abs_(value):
    """Absolute value; an integer stays an integer."""
    return abs(_number("abs", value))


@function("ceil", "value", example='ceil(-1.5)', result='-1')
@function("ceiling", "value", example='ceiling(1.2)', result='2')
def ceil(value):
    """The smallest integer not below the number."""
    value = _number("ceil", value)
    return math.ceil(value) if type(value) is int or math.isfinite(value) else value


@function("floor", "value", example='floor(1.8)', result='1')
def floor(value):
    """The largest integer not above the number."""
    value = _number("floor", value)
    return math.floor(value) if type(value) is int or math.isfinite(value) else value


@function("sqrt", "value", example='sqrt(16)', result='4.0')
def sqrt(value):
    """Square root; a double, NaN (written null) for a negative number."""
    x = float(_number("sqrt", value))
    return math.sqrt(x) if x >= 0 else math.nan


@function("pow", "base", "exponent", example='pow(2, 10)', result='1024.0')
def pow_(base, exponent):
    """`base` to the power `exponent`; a double."""
    x, y = float(_number("pow", base)), float(_number("pow", exponent))
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.inf if x > 0 or y == int(y) and int(y) % 2 == 0 else -math.inf
    except ValueError:
        # Python refuses 0 ** negative (Java: infinity) and negative ** fraction (Java: NaN).
        if x == 0:
            return math.copysign(math.inf, x) if y == int(y) and int(y) % 2 else math.inf
        return math.nan
