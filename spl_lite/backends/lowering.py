"""What every SQL lowering of a plan shares: the diagnostic, the regex dialect check, the gaussian cut-offs.

A lowering walks the typed logical plan (spl_lite/plan/logical.py), never the search text. What a
dialect cannot express fails here, at compile time, with a positioned SplError (E0405) naming the
command or function and the engine, so that a search never meets a SQL error at run time for a
construct it uses (data-dependent limits, such as 64-bit overflow, are listed in the README).
A Flink dialect would reuse `not_lowered`, `re2_pattern` (Flink's REGEXP is Java's own, so it
would pass patterns through) and `z_cutoffs` as they are.
"""
from __future__ import annotations

import functools
import math
import re
import struct
from typing import Callable, Iterable, Mapping

from ..core.errors import NOT_LOWERED, Span, SplError
from ..syntax import ast


def not_lowered(engine: str, what: str, reason: str, span: Span | None) -> SplError:
    """The compile-time diagnostic for a construct `engine` cannot run."""
    return SplError(NOT_LOWERED, f"{what} does not lower to {engine}: {reason}", span,
                    hint="run it on the default engine (drop --engine)")


def function_support(registry: Iterable[str], lowers: Callable[[str], bool],
                     not_lowered: Mapping[str, str], engine: str) -> dict[str, str | None]:
    """Every registry function for one dialect: None when it lowers, else the declared reason why not.
    A function with neither is an error, so that a new function makes every dialect decide."""
    support: dict[str, str | None] = {}
    for name in sorted(registry):
        if lowers(name):
            support[name] = None
        elif name in not_lowered:
            support[name] = not_lowered[name]
        else:
            raise LookupError(f"function `{name}` has no {engine} lowering and no declared reason")
    return support


# ---- Java regex -> RE2 (DuckDB's regexp_* functions) ----
# Constructs of the Java dialect (spec 2.4) RE2 has no equivalent for.
_JAVA_ONLY = (
    (re.compile(r"\(\?<[=!]"), "lookbehind"),
    (re.compile(r"\(\?[=!]"), "lookahead"),
    (re.compile(r"\(\?>"), "atomic group"),
    (re.compile(r"\\[1-9]|\\k<"), "backreference"),
    (re.compile(r"[*+?}][+]"), "possessive quantifier"),
    (re.compile(r"\\[ZGRXhHvV]|\\p\{(?:java|Is|In)"), "Java-only escape"),
)


def re2_pattern(pattern: str, flags: str) -> tuple[str | None, str]:
    """(the pattern in RE2 syntax, "") or (None, why it cannot be)."""
    if set(flags) - set("ims"):
        return None, f"flag(s) {''.join(sorted(set(flags) - set('ims')))!r}"
    body = pattern
    # Drop escaped characters and classes before looking for constructs (a crude but safe scan:
    # anything it wrongly flags is refused, never mistranslated).
    for found, name in _JAVA_ONLY:
        if found.search(body):
            return None, name
    if re.search(r"\(\?[a-zA-Z-]*x", body) or "(?u" in body or "(?d" in body:
        return None, "inline flag x, u or d"
    if re.search(r"\[[^\]]*\[", body.replace("\\[", "")):
        return None, "nested character class"
    translated = re.sub(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", r"(?P<\1>", body)
    return (f"(?{flags})" if flags else "") + translated, ""


# ---- adaptive_threshold gaussian: the tail rule Φ(z) < t or Φ(z) > 1 - t as cut-offs on z ----
def _phi(z: float) -> float:
    """Φ(z) exactly as the Python engine computes it (engine/streaming_ml.py)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _ordered(z: float) -> int:
    (bits,) = struct.unpack("<q", struct.pack("<d", z))
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def _double(k: int) -> float:
    return struct.unpack("<d", struct.pack("<q", k if k >= 0 else (-k) | -0x8000000000000000))[0]


def _last_true(pred, lo: float, hi: float) -> float:
    a, b = _ordered(lo), _ordered(hi)
    while b - a > 1:
        mid = (a + b) // 2
        if pred(_double(mid)):
            a = mid
        else:
            b = mid
    return _double(a)


@functools.lru_cache(maxsize=64)
def z_cutoffs(threshold: float) -> tuple[float, float]:
    """(Z_LOW, Z_HIGH): Φ(z) < t exactly when z <= Z_LOW, Φ(z) > 1 - t exactly when z >= Z_HIGH
    (found by bisection over doubles, then checked for 2,000 doubles each side)."""
    upper = 1.0 - threshold
    low = _last_true(lambda z: _phi(z) < threshold, -40.0, 0.0)
    below_high = _last_true(lambda z: not _phi(z) > upper, 0.0, 40.0)
    high = _double(_ordered(below_high) + 1)
    for k in range(-2000, 2001):
        z = _double(_ordered(low) + k)
        if (_phi(z) < threshold) != (k <= 0):
            raise ValueError(f"Φ is not monotone around the low cut-off for threshold {threshold}")
        z = _double(_ordered(high) + k)
        if (_phi(z) > upper) != (k >= 0):
            raise ValueError(f"Φ is not monotone around the high cut-off for threshold {threshold}")
    return low, high


class ExpressionLowering:
    """What every dialect's lowering of expressions shares: `lower` dispatches on the AST class to
    `x_<Class>`, a call to `f_<function>`; what has no method fails with a positioned E0405 naming it
    and the engine (`engine`), with the reason `not_lowered_functions` gives for a function."""

    engine = ""
    not_lowered_functions: dict[str, str] = {}

    def fail(self, what: str, reason: str, span) -> SplError:
        return not_lowered(self.engine, what, reason, span)

    def lower(self, node: ast.Expr):
        method = getattr(self, "x_" + type(node).__name__, None)
        if method is None:
            raise self.fail(f"expression `{type(node).__name__}`", "no lowering", getattr(node, "span", None))
        return method(node)

    def x_Call(self, node: ast.Call):
        method = getattr(self, "f_" + node.name, None)
        if method is None:
            raise self.fail(f"function `{node.name}`", self.not_lowered_functions.get(node.name, "no lowering"),
                            node.name_span)
        args = [a.value if isinstance(a, ast.NamedArgument) else a for a in node.args]
        return method(node, args)

    def _literal_arg(self, node: ast.Call, args: list, index: int, kinds=(str,)):
        """Argument `index` of a call, which must be a literal of one of `kinds` (None when not given)."""
        if index >= len(args):
            return None
        arg = args[index]
        if not isinstance(arg, ast.Literal) or not isinstance(arg.value, kinds):
            raise self.fail(f"`{node.name}` with argument {index + 1} not a literal", "no lowering", arg.span)
        return arg.value
