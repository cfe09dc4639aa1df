"""The Python functions a lowered DuckDB query calls where SQL has no exact lowering.

Two sorts, both exact by construction:
- a registry function (spl_lite/functions) called on each row's values, e.g. `match_regex` with a
  Java pattern RE2 cannot run, `replace`, `cidrmatch`, `parse_double`: the SQL arguments are turned
  back into SPL values, the function's own null rule and record-error rule (the error makes the
  value null) apply, and the result goes back as the lowering's kind;
- the quantile of adaptive_threshold: the rank of each value in its entity's history, over the
  entity's rows as lists in arrival order.

A query names them `spl_...`; `PythonFunction.register` defines one on a DuckDB connection
(`Lowered.run` registers every function its query calls; `compile --to duckdb` lists them).
"""
from __future__ import annotations

import heapq
import inspect
import json
import math
from dataclasses import dataclass
from typing import Any, Callable

import orjson

from ..core.regex import compile_java, search
from ..core.values import ARITHMETIC, compare, equals, negate
from ..functions import FUNCTIONS

def json_value(text: str | None) -> Any:
    """An event value's JSON text (DuckDB JSON, null: SQL NULL) -> the SPL value. DuckDB's JSON reads
    NaN and +-Infinity as doubles, which arithmetic on event values can give (json_text) and orjson
    refuses; Python's json module reads them (and integers beyond 64 bits) as the engine holds them."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def json_text(value: Any) -> str | None:
    """An SPL value -> its JSON text for DuckDB, keeping what orjson cannot write: a double that is
    not finite (NaN, Infinity, -Infinity, which DuckDB's JSON reads) and any integer."""
    if value is None:
        return None
    if type(value) is float and not math.isfinite(value):
        return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    if type(value) is int:
        return str(value)
    return orjson.dumps(value).decode()


# A lowering kind -> (DuckDB type, SQL value -> SPL value, SPL value -> SQL value). A regex is passed
# as its Java pattern and flags (two VARCHAR arguments) and compiled here, as the engine compiles it.
_TYPES: dict[str, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    "string": ("VARCHAR", lambda v: v, lambda v: v if type(v) is str else None),
    "int": ("BIGINT", lambda v: v, lambda v: v if type(v) is int and -(2**63) <= v < 2**63 else None),
    # A double comes back as its shortest text (DuckDB reads a Python NaN as NULL; its cast of the
    # text to DOUBLE is exact): see registry_call.
    "double": ("DOUBLE", lambda v: v, lambda v: repr(v) if type(v) is float else None),
    "bool": ("BOOLEAN", lambda v: v, lambda v: v if type(v) is bool else None),
    # An event value travels as its JSON text (DuckDB's JSON is VARCHAR underneath).
    "json": ("JSON", json_value, json_text),
}
# The exceptions that make a function's value null in the Python engine (a record error there).
_RECORD_ERRORS = (TypeError, ValueError, OverflowError, ZeroDivisionError, IndexError, KeyError)


@dataclass(frozen=True)
class PythonFunction:
    """A function a query calls: its SQL name, its parameters' DuckDB types, its result type, and the
    Python callable DuckDB runs per row."""

    name: str
    parameters: tuple[str, ...]
    result: str
    make: Callable[[], Callable[..., Any]]
    description: str
    # The SQL type the call's value is read as (a double travels as text), when not `result`.
    read_as: str | None = None

    def call(self, arguments: list) -> Any:
        """The SQL call (sqlglot), read as its lowering's type."""
        from sqlglot import exp

        call = exp.Anonymous(this=self.name, expressions=arguments)
        return exp.cast(call, self.read_as) if self.read_as else call

    def signature(self) -> str:
        return f"{self.name}({', '.join(self.parameters)}) -> {self.result}"

    def register(self, connection) -> None:
        from duckdb import func

        connection.create_function(self.name, self.make(), list(self.parameters), self.result,
                                   null_handling=func.FunctionNullHandling.SPECIAL)


def registry_call(function: str, kinds: tuple[str, ...], result: str) -> PythonFunction:
    """Registry function `function` over arguments of the lowering's `kinds` ("regex": a Java pattern
    and its flags), giving a value of kind `result`."""
    spec = FUNCTIONS[function]
    parameters = tuple(t for k in kinds for t in (("VARCHAR", "VARCHAR") if k == "regex" else (_TYPES[k][0],)))
    result_type, _, to_sql = _TYPES[result]
    if result == "double":
        result_type = "VARCHAR"

    def make():
        impl, propagate = spec.impl, spec.propagate_nulls
        readers = [_TYPES[k][1] if k != "regex" else None for k in kinds]

        def call(*sql_args):
            values, at = [], 0
            for kind, read in zip(kinds, readers):
                if read is None:
                    pattern, flags = sql_args[at], sql_args[at + 1]
                    at += 2
                    try:
                        values.append(compile_java(pattern, flags or ""))
                    except ValueError:
                        return None
                else:
                    values.append(read(sql_args[at]))
                    at += 1
            if propagate and any(v is None for v in values):
                return None
            try:
                return to_sql(impl(*values))
            except _RECORD_ERRORS:
                return None

        # DuckDB reads the number of parameters from the signature.
        call.__signature__ = inspect.Signature(
            [inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(len(parameters))])
        return call

    name = f"spl_{function}_{'_'.join(k[0] if k != 'regex' else 'r' for k in kinds)}_{result[0]}"
    return PythonFunction(name, parameters, result_type, make, f"spl-lite's `{function}` ({spec.signature()})",
                          "DOUBLE" if result == "double" else None)


def _quantiles(values: list[float], expiries: list[int | None], positions: list[int]) -> list[float]:
    """Each value's quantile in its entity's history (spec 8.3, as engine/streaming_ml.py scores it):
    the fraction of the history strictly below it, 0.0 for an empty history. Row i of the entity
    joins the history after it is scored when expiries[i] (the arrival number of the first record
    whose watermark reaches its time + window; None: never) is after its own number, and leaves it
    before the record at expiries[i] is scored.

    Every value of the entity is known up front, so the history is a count per distinct value in a
    Fenwick tree over their ranks: O(log n) a row, however long the history."""
    rank = {v: i for i, v in enumerate(sorted(set(values)), 1)}
    tree = [0] * (len(rank) + 1)
    size = 0
    leaving: list[tuple[int, int]] = []
    out = []

    def add(i: int, delta: int) -> None:
        while i < len(tree):
            tree[i] += delta
            i += i & -i

    for x, expiry, position in zip(values, expiries, positions):
        while leaving and leaving[0][0] <= position:
            add(heapq.heappop(leaving)[1], -1)
            size -= 1
        r = rank[x]
        below, i = 0, r - 1
        while i:
            below += tree[i]
            i &= i - 1
        out.append(below / size if size else 0.0)
        if expiry is None or expiry > position:
            add(r, 1)
            size += 1
            if expiry is not None:
                heapq.heappush(leaving, (expiry, r))
    return out


QUANTILES = PythonFunction("spl_adaptive_quantiles", ("DOUBLE[]", "BIGINT[]", "BIGINT[]"), "DOUBLE[]",
                           lambda: _quantiles, "adaptive_threshold algorithm=\"quantile\": the rank of each "
                           "value in its entity's history")


def _rex_group():
    """(text, pattern, flags, group) -> the group's text in the first match, None when it takes no
    part or nothing matches (a match out of time too), as the engine's rex operator reads it."""
    # The last (text, pattern, flags) and its match, as one tuple (one store: DuckDB may call from
    # several threads): rex asks once per group.
    last: list = [(None, None)]

    def group(text, pattern, flags, name):
        if text is None:
            return None
        key = (text, pattern, flags)
        seen, found = last[0]
        if seen != key:
            try:
                found = search(compile_java(pattern, flags or ""), text)
            except ValueError:  # a match out of time (RegexTimeout)
                found = None
            last[0] = (key, found)
        return found.group(name) if found else None

    return group


REX_GROUP = PythonFunction("spl_rex_group", ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR"), "VARCHAR", _rex_group,
                           "rex with a Java pattern RE2 cannot run: a named group of the first match")


def _json_of_double():
    """A double's JSON text as the engine writes it (orjson: shortest round trip; NaN and the
    infinities as null), where DuckDB's own text of a double differs."""
    return lambda x: None if x is None else orjson.dumps(x).decode()


JSON_OF_DOUBLE = PythonFunction("spl_json_of_double", ("DOUBLE",), "VARCHAR", _json_of_double,
                                "a double inside a list or map of the event's shape: its JSON text")


def _compare():
    """(a, b) as event values -> -1, 0, 1, or None where they do not order (core.values.compare)."""
    def ordered(a, b):
        if a is None or b is None:
            return None
        return compare(json_value(a), json_value(b))

    return ordered


def _equals():
    """(a, b) as event values -> whether `=` holds (core.values.equals; null = null)."""
    return lambda a, b: equals(json_value(a), json_value(b))


COMPARE = PythonFunction("spl_compare", ("JSON", "JSON"), "BIGINT", _compare,
                         "`<`, `<=`, `>`, `>=` where a side's kind is known only at run time")
EQUALS = PythonFunction("spl_equals", ("JSON", "JSON"), "BOOLEAN", _equals,
                        "`=` between lists, maps and values whose kind is known only at run time")


NEGATE = PythonFunction("spl_negate", ("JSON",), "JSON", lambda: lambda a: json_text(negate(json_value(a))),
                        "unary `-` of an event value (core.values.negate)")
_OPERATOR_NAMES = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo"}


def arithmetic_call(op: str, kinds: tuple[str, str]) -> PythonFunction:
    """`op` (core.values.ARITHMETIC, the engine's own) on operands of these lowering kinds ("json",
    "int", "double"), one at least "json": whose kind, and so the result's, is known only at run time.
    The result is JSON (json_text: a NaN or an infinity stays a double)."""
    apply = ARITHMETIC[op]
    readers = [_TYPES[k][1] for k in kinds]

    def make():
        read_left, read_right = readers
        return lambda a, b: json_text(apply(read_left(a), read_right(b)))

    return PythonFunction(f"spl_{_OPERATOR_NAMES[op]}_{kinds[0][0]}_{kinds[1][0]}", tuple(_TYPES[k][0] for k in kinds),
                          "JSON", make, f"`{op}` where a side's kind is known only at run time")
