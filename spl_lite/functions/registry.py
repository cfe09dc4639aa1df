"""The scalar-function registry: each function is one decorated Python function over plain values.

The expression compiler turns a call into a loop over a batch's columns; a function body never
sees a column, only values. Null propagation is declared here once, not written in each body.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable


@dataclass(frozen=True)
class Param:
    name: str
    optional: bool = False
    variadic: bool = False


@dataclass(frozen=True)
class FunctionSpec:
    """A scalar function as the planner and the compiler see it.

    propagate_nulls: when true the result is null as soon as any given argument is null, and
    `impl` is never called with a null. Functions whose meaning involves null (coalesce, ucast,
    mvappend, ...) set it to false and handle None themselves.
    """

    name: str
    params: tuple[Param, ...]
    impl: Callable[..., Any]
    propagate_nulls: bool
    family: str
    column_kernel: Callable[..., Any] | None = None
    example: str | None = None  # a call, as written in a search (`spl-lite functions`, docs/functions.md)
    result: str | None = None  # what `example` gives, as JSON; tests/test_introspection.py runs it

    @property
    def description(self) -> str:
        """The implementation's docstring: what the function does, in the user's terms."""
        text = " ".join((self.impl.__doc__ or "").split("\n\n", 1)[0].split())
        return re.sub(r" ?\(spec [^()]*\)", "", text)  # section references into a spec users do not have

    @property
    def null_rule(self) -> str:
        if self.propagate_nulls:
            return "null if any argument is null"
        return "takes null arguments (see the description)"

    @property
    def min_args(self) -> int:
        return sum(1 for p in self.params if not p.optional and not p.variadic)

    @property
    def max_args(self) -> int | None:
        return None if any(p.variadic for p in self.params) else len(self.params)

    def signature(self) -> str:
        def show(p: Param) -> str:
            return p.name + ("..." if p.variadic else "") + ("?" if p.optional else "")

        return f"{self.name}({', '.join(show(p) for p in self.params)})"


FUNCTIONS: dict[str, FunctionSpec] = {}


def _parse_param(text: str) -> Param:
    if text.endswith("*"):
        return Param(text[:-1], optional=True, variadic=True)
    if text.endswith("?"):
        return Param(text[:-1], optional=True)
    return Param(text)


def function(name: str, *params: str, nulls: str = "propagate", example: str | None = None,
             result: str | None = None):
    """Register `impl` as SPL function `name`.

    params: argument names as named-argument syntax uses them; `x?` is optional, `xs*` takes the
    rest. nulls: "propagate" (null in, null out) or "handle" (the body receives None).
    example: a call as a search writes it, and result: its value as JSON (checked by a test). The
    docstring of `impl` is the function's description for `spl-lite functions` and the manual.
    """
    if nulls not in ("propagate", "handle"):
        raise ValueError(nulls)

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        key = name.lower()
        if key in FUNCTIONS:
            raise ValueError(f"function {name} registered twice")
        family = impl.__module__.rsplit(".", 1)[-1]
        FUNCTIONS[key] = FunctionSpec(
            key, tuple(_parse_param(p) for p in params), impl, nulls == "propagate", family,
            example=example, result=result,
        )
        return impl

    return register


def column_kernel(name: str):
    """Attach a whole-column fast path to function `name`.

    The kernel is called as `kernel(column, *constant_args)` when only the first argument varies
    per record. It returns the result column (a list), or NotImplemented to let the engine apply
    the scalar function record by record; it must give exactly the scalar function's results.
    """

    def register(kernel: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = replace(FUNCTIONS[name], column_kernel=kernel)
        return kernel

    return register


def apply(spec: FunctionSpec, args: tuple) -> Any:
    """Call `spec` on already evaluated arguments, honouring its null policy."""
    if spec.propagate_nulls and None in args:
        return None
    return spec.impl(*args)
