"""Compiles an expression AST once into an evaluator over batches; nothing walks the AST per event.

An evaluator takes a Batch and returns one object column. Constant sub-expressions fold to
`Constant`, so a literal argument reaches a function as a value, not as a column, and a regex
literal is compiled once.
"""
from __future__ import annotations

import operator
from dataclasses import replace
from itertools import repeat
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import numpy as np

from ..syntax import ast
from ..functions import FUNCTIONS
from ..core.regex import compile_java, like_matcher, required_text, set_stop_probe
from ..core.values import ARITHMETIC, NUMBER_ARITHMETIC, compare, equals, is_number, negate, to_text, type_name
from . import checkpoint as _checkpoint
from ..plan.rules.shared_work import shareable_column
from .sharing import SharedWork, TextIndex
from ..core.batch import (TEXT_KINDS, Batch, MapsView, coded, encoding, known, known_nulls, kinds_of, null_mask,
                          object_column, rows_represented, take_rows, values_in_use)


class Constant:
    """A sub-expression whose value does not depend on the record."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __call__(self, batch: Batch) -> np.ndarray:
        column = np.empty(batch.length, dtype=object)
        column.fill(self.value)
        return column


Evaluator = Callable[[Batch], np.ndarray]


class RecordErrors:
    """Function calls that failed on one record's values (spec 5.2: that value becomes null).

    A detection must not die on one odd event; the run counts these and reports them at the end.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.examples: dict[str, int] = {}

    def record(self, error: Exception) -> None:
        self.merge(1, {str(error): 1})

    def merge(self, count: int, examples: dict[str, int]) -> None:
        """Add counts gathered elsewhere (a worker process, see parallel.py)."""
        self.count += count
        for message, seen in examples.items():
            if message in self.examples or len(self.examples) < 20:
                self.examples[message] = self.examples.get(message, 0) + seen


# The record errors of the execution whose expressions are being compiled: each evaluator is bound
# to them when it is made, so two searches never count into each other.
_COMPILING_FOR: ContextVar[RecordErrors | None] = ContextVar("record_errors", default=None)


# The work the searches of one run share (engine/sharing.py), when several run together.
_SHARED_WORK: ContextVar[SharedWork | None] = ContextVar("shared_work", default=None)


@contextmanager
def counting_errors_in(errors: RecordErrors, shared: SharedWork | None = None) -> Iterator[None]:
    """Expressions compiled inside count their per-record errors in `errors`, and share what they
    can with the other searches compiled with the same `shared`."""
    token, shared_token = _COMPILING_FOR.set(errors), _SHARED_WORK.set(shared)
    try:
        yield
    finally:
        _COMPILING_FOR.reset(token)
        _SHARED_WORK.reset(shared_token)


def current_record_errors() -> RecordErrors:
    """Where what is compiled now counts its per-record errors (a throwaway count outside any execution)."""
    return _COMPILING_FOR.get() or RecordErrors()


def _stop_waiting() -> bool:
    """Whether SIGINT/SIGTERM arrived during a batch and waits for it to end (checkpoint.SignalGuard):
    regex matches then share a short budget, so that a batch of values a pattern backtracks on for
    ever cannot hold the stop (core/regex.py)."""
    return _checkpoint.stop_waiting()


set_stop_probe(_stop_waiting)


def _guarded(impl: Callable[..., Any]) -> Callable[..., Any]:
    errors = current_record_errors()

    def call(*args: Any) -> Any:
        try:
            return impl(*args)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError, IndexError, KeyError) as error:
            errors.record(error)
            return None

    return call

# Past this many distinct inputs a per-call memo stops paying for itself and is reset.
_MEMO_LIMIT = 200_000


def compile_expression(expr: ast.Expr) -> Evaluator:
    """An evaluator giving one object column: the values records hold."""
    predicate = _predicate_compiler(expr)
    if predicate is not None:
        return _shared(expr, _as_values(predicate(expr)), "values")
    compiler = _COMPILERS.get(type(expr))
    if compiler is None:
        raise TypeError(f"cannot compile {type(expr).__name__}")
    return _shared(expr, compiler(expr), "values")


def compile_predicate(expr: ast.Expr) -> Evaluator:
    """An evaluator for a condition. It may return a numpy bool array where null cannot occur,
    which spares the Python-level truth tests of object columns; `keep_mask` accepts both."""
    predicate = _predicate_compiler(expr)
    return _shared(expr, predicate(expr), "truth") if predicate is not None else compile_expression(expr)


def _shared(expr: ast.Expr, evaluate: Evaluator, form: str) -> Evaluator:
    """`evaluate`, computed once per batch for every search of the run that has `expr` over the
    same column (engine/sharing.py); `form` tells a condition's truth array from its values."""
    shared = _SHARED_WORK.get()
    if shared is None or isinstance(evaluate, Constant):
        return evaluate
    column = shareable_column(expr)
    if column is None:
        return evaluate
    return shared.wrap(expr, column, evaluate, current_record_errors(), form)


def keep_mask(column: np.ndarray, errors: RecordErrors | None = None) -> np.ndarray:
    """The rows whose value is exactly true (spec 3.3: false and null both drop).

    A value that is not a boolean at all is a per-record error (spec 3.5): dropped and counted in `errors`.
    """
    if column.dtype == bool:
        return column
    codes = _truth_codes(column)
    unknown = codes == _NULL
    if unknown.any():
        for value in column[unknown]:
            if value is not None and errors is not None:
                errors.record(TypeError(f"a condition must be a boolean, got {type_name(value)}"))
    return codes == _TRUE


_BOOL_VALUES = np.array([False, True], dtype=object)


def _as_values(predicate: Evaluator) -> Evaluator:
    if isinstance(predicate, Constant):
        return predicate

    def evaluate(batch: Batch) -> np.ndarray:
        column = predicate(batch)
        return _BOOL_VALUES[column.view(np.int8)] if column.dtype == bool else column

    return evaluate


# ---- leaves ----
def _literal(expr: ast.Literal) -> Evaluator:
    return Constant(expr.value)


def _regex(expr: ast.Regex) -> Evaluator:
    return Constant(compile_java(expr.pattern, expr.flags))


def _duration(expr: ast.Duration) -> Evaluator:
    return Constant(expr.millis)


def _field(expr: ast.Field) -> Evaluator:
    name, path = expr.name, expr.path

    if len(path) == 1:
        return lambda batch: batch.column(name)
    walk = _walk(expr)

    def evaluate(batch: Batch) -> np.ndarray:
        # A field literally named "a.b" (set by eval or present in the input) wins over traversal.
        if name in batch.columns:
            return batch.columns[name]
        return walk(batch)

    return evaluate


def _walk(expr: ast.Field) -> Evaluator:
    """The values at the end of a dotted path, one key at a time from the values at the path
    before it: `process.file.name` and `process.file.path` share the walk to `process.file`
    (between searches too, engine/sharing.py)."""
    path, key = expr.path, expr.path[-1]
    if len(path) == 2:
        head = path[0]
        parent = lambda batch: batch.column(head)  # noqa: E731
    else:
        parent = _walk(replace(expr, path=path[:-1]))

    def evaluate(batch: Batch) -> np.ndarray:
        maps = parent(batch)
        if isinstance(maps, MapsView):  # maps read only by key (io/ocsf.py DocumentsView)
            return maps.key(key)
        kinds = kinds_of(maps)
        if kinds is not None and dict not in kinds:  # no map to look in (a path the documents lack)
            return known_nulls(len(maps))
        try:  # where every value is a map (the usual case): dict.get mapped in C
            return object_column(list(map(dict.get, maps, repeat(key))))
        except TypeError:
            return object_column([v.get(key) if v.__class__ is dict else None for v in maps])

    shared = _SHARED_WORK.get()
    if shared is None:
        return evaluate
    return shared.wrap(expr, path[0], evaluate, current_record_errors(), "walk", overridden_by=frozenset())


# ---- collections ----
def _list(expr: ast.ListLiteral) -> Evaluator:
    items = [compile_expression(e) for e in expr.items]
    if all(isinstance(i, Constant) for i in items):
        return Constant([i.value for i in items])

    def evaluate(batch: Batch) -> np.ndarray:
        columns = [i(batch) for i in items]
        return object_column([list(row) for row in zip(*columns)] if columns else [[]] * batch.length)

    return evaluate


def _map(expr: ast.MapLiteral) -> Evaluator:
    keys = [compile_expression(k) for k, _ in expr.entries]
    values = [compile_expression(v) for _, v in expr.entries]
    if all(isinstance(e, Constant) for e in keys + values):
        return Constant(_build_map([k.value for k in keys], [v.value for v in values]))

    def evaluate(batch: Batch) -> np.ndarray:
        key_columns = [k(batch) for k in keys]
        value_columns = [v(batch) for v in values]
        rows = zip(zip(*key_columns), zip(*value_columns)) if keys else repeat(((), ()), batch.length)
        return object_column([_build_map(k, v) for k, v in rows])

    return evaluate


def _build_map(keys, values) -> dict:
    return {k if type(k) is str else to_text(k): v for k, v in zip(keys, values) if k is not None}


def _index(expr: ast.Index) -> Evaluator:
    target, index = compile_expression(expr.target), compile_expression(expr.index)

    def evaluate(batch: Batch) -> np.ndarray:
        return object_column([_element(t, i) for t, i in zip(target(batch), index(batch))])

    return evaluate


def _element(container: Any, index: Any) -> Any:
    if type(container) is list and type(index) is int:
        return container[index] if -len(container) <= index < len(container) else None
    if type(container) is dict and type(index) is str:
        return container.get(index)
    return None


# ---- calls ----
def _call(expr: ast.Call) -> Evaluator:
    if expr.name == "for_each":
        return _for_each(expr)
    spec = FUNCTIONS[expr.name]
    if expr.name in _REGEX_MATCHES and len(expr.args) == 2 and isinstance(expr.args[1], ast.Regex):
        required = required_text(expr.args[1].pattern, expr.args[1].flags)
        if required is not None:
            spec = _searching_text(spec, _matching_required_text(spec.impl, *required), *required)
    if expr.name == "like" and len(expr.args) == 2:
        spec = _like_by_string_search(spec, expr.args[1])
    return _apply_function(spec, [compile_expression(a) for a in expr.args])


def _like_by_string_search(spec, pattern: ast.Expr):
    """`like` with a literal pattern without `_` tests text with str methods (core/regex.py
    like_matcher) instead of a regex; other values go to `like` itself, which says what is wrong."""
    if not (isinstance(pattern, ast.Literal) and type(pattern.value) is str):
        return spec
    matcher = like_matcher(pattern.value)
    if matcher is None:
        return spec
    like = spec.impl
    pieces = pattern.value.split("%")
    longest = max(pieces, key=len)
    whole = len(pieces) == 3 and pieces[0] == pieces[2] == ""  # `%text%`
    return _searching_text(spec, lambda text, given: matcher(text) if text.__class__ is str else like(text, given),
                           longest, False, whole)


def _searching_text(spec, per_value: Callable[[Any, Any], Any], text: str, ignore_case: bool, whole: bool):
    """`spec` testing one value with `per_value`, and a whole text column (dictionary-encoded or of
    known kinds) by looking for `text`, which every value it is true for contains, in all distinct
    values at once (sharing.TextIndex, made once per batch for all searches when they share the
    column); `per_value` then decides the values holding it, or all of them say true when `whole`."""
    test = _guarded(per_value)
    shared = _SHARED_WORK.get()
    if ignore_case:
        text = text.lower()

    def kernel(column: np.ndarray, constant: Any) -> np.ndarray:
        kinds = kinds_of(column)
        if kinds is None or not kinds <= TEXT_KINDS:
            return NotImplemented
        index = shared.text_index(column) if shared is not None else TextIndex.of(column)
        found = index.containing(text, ignore_case)
        if found is None:
            return NotImplemented
        hits, unsure = found
        results = np.zeros(len(index.values), dtype=bool).astype(object)
        if whole:
            results[hits] = True
            hits = unsure
        else:
            hits = hits | unsure
        values, kinds = index.values, {bool}
        for position in np.flatnonzero(hits & ~index.nulls if index.has_nulls else hits):
            result = results[position] = test(values[position], constant)
            kinds.add(result.__class__)
        if index.has_nulls:
            results[index.nulls] = None
            kinds.add(type(None))
        if index.codes is None:
            return known(results, frozenset(kinds))
        return coded(results, index.codes, frozenset(kinds))

    return replace(spec, impl=per_value, column_kernel=kernel)


_REGEX_MATCHES = ("match_regex", "match")


def _matching_required_text(match: Callable[[Any, Any], Any], text: str, ignore_case: bool, whole: bool):
    """`match(value, regex)` that looks for the text every match contains first (core/regex.py
    required_text): a value without it is no match, and for a regex that is only that text, a value
    with it is one. Ignoring case is ASCII-only, as the regex's (?i): a value that is not ASCII
    goes to the regex. Any other value (null, not text) too, which says what is wrong with it."""
    if ignore_case:
        text = text.lower()

    def matches(value: Any, regex: Any) -> Any:
        if value.__class__ is str:
            if not ignore_case:
                if text not in value:
                    return False
                if whole:
                    return True
            elif value.isascii():
                if text not in value.lower():
                    return False
                if whole:
                    return True
        return match(value, regex)

    return matches


def _apply_function(spec, args: list[Evaluator]) -> Evaluator:
    impl, propagate = _guarded(spec.impl), spec.propagate_nulls
    constant_args = [a.value if isinstance(a, Constant) else None for a in args]
    if propagate and any(isinstance(a, Constant) and a.value is None for a in args):
        return Constant(None)
    varying = [i for i, a in enumerate(args) if not isinstance(a, Constant)]
    if not varying:
        if not spec.params:  # time(): evaluated per record, never folded
            return lambda batch: object_column([impl() for _ in range(batch.length)])
        return Constant(impl(*constant_args))
    if len(varying) == 1:
        position = varying[0]
        step = _step(impl, propagate, constant_args, position)
        argument = args[position]
        if position == 0 and spec.column_kernel is not None:
            return _kernel_call(spec.column_kernel, _Mapped(argument, step), argument, constant_args[1:])
        if isinstance(argument, _Mapped):
            # f(g(x)): one memoised pass over x computes both, so `mvindex(split(path, "\\"), -1)`
            # runs once per distinct path rather than once per event.
            return _Mapped(argument.source, _compose(step, argument.step))
        return _Mapped(argument, step)

    def evaluate(batch: Batch) -> np.ndarray:
        streams = [repeat(c) if isinstance(a, Constant) else a(batch) for a, c in zip(args, constant_args)]
        if propagate:
            return object_column([None if None in row else impl(*row) for row in zip(*streams)])
        return object_column([impl(*row) for row in zip(*streams)])

    return evaluate


def _kernel_call(kernel, fallback: "_Mapped", argument: Evaluator, constants: list) -> Evaluator:
    def evaluate(batch: Batch) -> np.ndarray:
        column = argument(batch)
        try:
            result = kernel(column, *constants)
        except (TypeError, ValueError):
            result = NotImplemented
        return fallback.map(column) if result is NotImplemented else object_column(result)

    return evaluate


def _step(impl, propagate: bool, constant_args: list, position: int) -> Callable[[Any], Any]:
    """One value -> one value: the call with its constant arguments in place, nulls as declared."""
    before, after = tuple(constant_args[:position]), tuple(constant_args[position + 1 :])
    if propagate:
        return lambda value: None if value is None else impl(*before, value, *after)
    return lambda value: impl(*before, value, *after)


def _compose(outer: Callable[[Any], Any], inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: outer(inner(value))


# A column where most values are new (timestamps, command lines) gains nothing from the memo.
_MEMO_SAMPLE = 512


class _Mapped:
    """A chain of one-argument calls over one column, memoised per distinct string value.

    Real event streams repeat the same process names and paths endlessly, so `lower`, `split` and
    friends run once per distinct value: the effect of dictionary-encoding the column, which the
    result then is (a coded KnownColumn: each memoised input has a code, its result is
    `results[code]`). Only str values and null are memoised (1, 1.0 and True hash alike but are
    different SPL values). A call site where most values are new (or not memoisable) over its
    first few hundred rows stops memoising.
    """

    __slots__ = ("source", "step", "memo", "results", "result_kinds", "rows_judged", "misses_judged")

    def __init__(self, source: Evaluator, step: Callable[[Any], Any]):
        self.source, self.step = source, step
        self.memo: dict[str | None, int] | None = {}  # input value -> its code
        self.results = np.empty(64, dtype=object)  # code -> result
        self.result_kinds: set[type] = set()  # the types among the results
        self.rows_judged = self.misses_judged = 0  # since the memo's worth was last judged

    def __call__(self, batch: Batch) -> np.ndarray:
        return self.map(self.source(batch))

    def map(self, column: np.ndarray) -> np.ndarray:
        encoded = encoding(column)
        if encoded is not None:
            # Dictionary-encoded (an earlier chain's result): one pass over its distinct values.
            values, codes = values_in_use(*encoded)
            if len(values) * 2 < len(codes):
                kinds = kinds_of(column)
                if self.memo is not None and kinds is not None and kinds <= TEXT_KINDS:
                    return take_rows(self._map_values(values, len(codes)), codes)
                # Values no memo can hold (the lists of `split`): each distinct one is still one call.
                step = self.step
                results = object_column([step(v) for v in values])
                return coded(results, codes, frozenset(map(type, results)))
        return self._map_values(column, rows_represented(column))

    def _map_values(self, column: np.ndarray, rows: int) -> np.ndarray:
        """The results for `column`, which stands for `rows` rows (for judging the memo's worth)."""
        step, memo = self.step, self.memo
        if memo is None:
            return object_column([step(v) for v in column])
        try:
            # Only str and None keys are ever stored, and no other value equals one of them, so
            # a plain lookup of every value finds exactly the memoised ones.
            codes = list(map(memo.get, column, repeat(-1)))
        except TypeError:  # an unhashable value (list, map)
            codes = [memo.get(v, -1) if v.__class__ is str else -1 for v in column]
        misses = 0
        unmemoised: list[int] = []
        index = codes.index
        position = -1
        while True:
            try:
                position = index(-1, position + 1)
            except ValueError:
                break
            value = column[position]
            if value.__class__ is str or value is None:
                code = memo.get(value, -1)  # an earlier row of this batch may have added it
                if code < 0:
                    misses += 1
                    code = memo[value] = len(memo)
                    self._store(code, step(value))
                codes[position] = code
            else:
                unmemoised.append(position)
                codes[position] = 0
        results, kinds = self.results[: len(memo)], frozenset(self.result_kinds)
        self._judge(rows, misses + len(unmemoised))
        if not len(results):
            return object_column([step(v) for v in column])
        out = coded(results, np.fromiter(codes, dtype=np.intp, count=len(codes)), kinds)
        if unmemoised:
            out = np.array(out, dtype=object)  # no longer an encoding: these rows have their own results
            for position in unmemoised:
                out[position] = step(column[position])
        return out

    def _judge(self, rows: int, misses: int) -> None:
        """Every few hundred rows: stop memoising if most were new; start over if the memo is full."""
        self.rows_judged += rows
        self.misses_judged += misses
        if self.rows_judged < _MEMO_SAMPLE:
            return
        if self.misses_judged * 2 > self.rows_judged:
            self.memo = None
        elif len(self.memo) > _MEMO_LIMIT:
            self.memo, self.results, self.result_kinds = {}, np.empty(64, dtype=object), set()
        self.rows_judged = self.misses_judged = 0

    def _store(self, code: int, result: Any) -> None:
        if code == len(self.results):
            grown = np.empty(2 * code, dtype=object)
            grown[:code] = self.results
            self.results = grown
        self.results[code] = result
        self.result_kinds.add(type(result))


def _for_each(expr: ast.Call) -> Evaluator:
    """`for_each(iterator(list, "var"), body)`: body evaluated per element with `var` bound (DSP-Iter)."""
    iterator, body = expr.args
    source = compile_expression(iterator.args[0])
    variable = iterator.args[1].value
    body_eval = compile_expression(body)
    outer_fields = sorted(ast.field_names(body) - {variable})

    def evaluate(batch: Batch) -> np.ndarray:
        lists = source(batch)
        outer = {name: batch.column(name) for name in outer_fields}
        results = []
        for row, items in enumerate(lists):
            if type(items) is not list:
                results.append(None)
                continue
            inner = Batch({}, np.arange(len(items), dtype=np.int64))
            for name, column in outer.items():
                inner.columns[name] = Constant(column[row])(inner)
            inner.columns[variable] = object_column(items)
            results.append(list(body_eval(inner)))
        return object_column(results)

    return evaluate


# ---- operators ----
def _unary(expr: ast.Unary) -> Evaluator:
    operand = compile_expression(expr.operand)
    if isinstance(operand, Constant):
        return Constant(negate(operand.value))
    return lambda batch: object_column([negate(v) for v in operand(batch)])


# ---- conditions ----
# Predicate evaluators return a numpy bool array where null cannot occur and an object column
# (True/False/None) where it can. Truth codes order false < null < true, so that Kleene AND is
# the minimum and OR the maximum of its operands' codes.
_FALSE, _NULL, _TRUE = 0, 1, 2
_CODE_VALUES = np.array([False, None, True], dtype=object)


def _truth_codes(column: np.ndarray) -> np.ndarray:
    if column.dtype == bool:
        return column.view(np.int8) * 2
    encoded = encoding(column)
    if encoded is not None:
        values, codes = _values_to_test(encoded)
        return _truth_codes(known(values, column.kinds))[codes]
    if _booleans_or_nulls(column):
        codes = np.full(len(column), _NULL, dtype=np.int8)
        codes[np.asarray(column == True, dtype=bool)] = _TRUE  # noqa: E712
        codes[np.asarray(column == False, dtype=bool)] = _FALSE  # noqa: E712
        return codes
    count = len(column)
    codes = np.full(count, _NULL, dtype=np.int8)
    codes[np.fromiter(map(operator.is_, column, repeat(True)), dtype=bool, count=count)] = _TRUE
    codes[np.fromiter(map(operator.is_, column, repeat(False)), dtype=bool, count=count)] = _FALSE
    return codes


_BOOLEAN_OR_NULL = frozenset((bool, type(None)))


def _booleans_or_nulls(column: np.ndarray) -> bool:
    """Whether the column is known to hold Python booleans and nulls only (a match's results):
    numpy's `==` with a boolean, which no other value but 1, 0 and 1.0 would pass, is then exact."""
    kinds = kinds_of(column)
    return kinds is not None and kinds <= _BOOLEAN_OR_NULL


def _values_to_test(encoded: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The values a test without side effects runs on once each, and each row's among them: every
    distinct value when they are no more than the rows (finding those in use would cost as much),
    else those in use."""
    distinct, codes = encoded
    return encoded if len(distinct) <= len(codes) else values_in_use(distinct, codes)


def _from_codes(codes: np.ndarray) -> np.ndarray:
    return _CODE_VALUES[codes] if (codes == _NULL).any() else codes == _TRUE


def _not(expr: ast.Unary) -> Evaluator:
    operand = compile_predicate(expr.operand)
    if isinstance(operand, Constant):
        return Constant({True: False, False: True}.get(operand.value) if type(operand.value) is bool else None)

    def evaluate(batch: Batch) -> np.ndarray:
        column = operand(batch)
        return ~column if column.dtype == bool else _from_codes(_TRUE - _truth_codes(column))

    return evaluate


def _logical(expr: ast.Logical) -> Evaluator:
    membership = _string_membership(expr)
    if membership is not None:
        return membership
    operands = [compile_predicate(e) for e in expr.operands]
    if expr.op == "xor":
        return _xor(operands)
    is_and = expr.op == "and"
    combine_bool = np.logical_and if is_and else np.logical_or
    combine_codes = np.minimum if is_and else np.maximum

    def evaluate(batch: Batch) -> np.ndarray:
        columns = [operand(batch) for operand in operands]
        if all(c.dtype == bool for c in columns):
            return combine_bool.reduce(columns)
        codes = _truth_codes(columns[0])
        for column in columns[1:]:
            codes = combine_codes(codes, _truth_codes(column))
        return _from_codes(codes)

    return evaluate


def _xor(operands: list[Evaluator]) -> Evaluator:
    """`a XOR b XOR ...`: true when an odd number are true; null when any is null (Kleene)."""

    def evaluate(batch: Batch) -> np.ndarray:
        columns = [operand(batch) for operand in operands]
        if all(c.dtype == bool for c in columns):
            return np.logical_xor.reduce(columns)
        codes = [_truth_codes(c) for c in columns]
        any_null = np.logical_or.reduce([c == _NULL for c in codes])
        odd = np.logical_xor.reduce([c == _TRUE for c in codes])
        return _from_codes(np.where(any_null, _NULL, np.where(odd, _TRUE, _FALSE)).astype(np.int8))

    return evaluate


def _string_membership(expr: ast.Logical) -> Evaluator | None:
    """`f = "a" OR f = "b" OR ...` (the reference detection lists 75 names) as one set lookup."""
    if expr.op != "or":
        return None
    field, members = None, set()
    for operand in expr.operands:
        if not (isinstance(operand, ast.Binary) and operand.op == "=" and isinstance(operand.left, ast.Field)):
            return None
        if not (isinstance(operand.right, ast.Literal) and type(operand.right.value) is str):
            return None
        if field is not None and operand.left.path != field.path:
            return None
        field = field or operand.left
        members.add(operand.right.value)
    return _text_membership(compile_expression(field), frozenset(members))


def _text_membership(value: Evaluator, frozen: frozenset[str]) -> Evaluator:
    """Whether each value is one of the strings `frozen`, per distinct value when encoded."""

    def members(values: np.ndarray) -> np.ndarray:
        # Only a str can equal a string literal (spec 3.4: no coercion), and no other value is
        # equal to a str, so a plain set lookup is exact; unhashable values take the slow path.
        try:
            return np.fromiter(map(frozen.__contains__, values), dtype=bool, count=len(values))
        except TypeError:
            return np.fromiter((v.__class__ is str and v in frozen for v in values), dtype=bool, count=len(values))

    def evaluate(batch: Batch) -> np.ndarray:
        column = value(batch)
        encoded = encoding(column)
        if encoded is None:
            return members(column)
        values, codes = _values_to_test(encoded)  # test each distinct value once
        return members(values)[codes]

    return evaluate


def _is_null(expr: ast.IsNull) -> Evaluator:
    value = compile_expression(expr.value)
    if expr.negated:
        return lambda batch: ~null_mask(value(batch))
    return lambda batch: null_mask(value(batch))


def _equality_predicate(expr: ast.Binary) -> Evaluator:
    return _equality(compile_expression(expr.left), compile_expression(expr.right), negate=expr.op == "!=")


def _binary(expr: ast.Binary) -> Evaluator:
    left, right = compile_expression(expr.left), compile_expression(expr.right)
    if expr.op == "like":
        return _apply_function(_like_by_string_search(FUNCTIONS["like"], expr.right), [left, right])
    if expr.op in _ORDERINGS:
        test = _ORDERINGS[expr.op]

        def ordered(a: Any, b: Any) -> Any:
            result = compare(a, b)
            return None if result is None else test(result, 0)

        return _pairwise(left, right, ordered, _FLOAT_ORDERINGS[expr.op])
    return _pairwise(left, right, ARITHMETIC[expr.op], NUMBER_ARITHMETIC[expr.op])


_ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_FLOAT_ORDERINGS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_NUMBER_KINDS = frozenset((int, float))


def _pairwise(left: Evaluator, right: Evaluator, fn: Callable[[Any, Any], Any], fast=None) -> Evaluator:
    """`fn` of the two sides, row by row. `fast` does the same where every value is a number:
    for arithmetic the operation without checks, for an ordering a numpy comparison of doubles."""
    if isinstance(left, Constant) and isinstance(right, Constant):
        return Constant(fn(left.value, right.value))
    arithmetic = fast is not None and not isinstance(fast, np.ufunc)
    if isinstance(right, Constant) or isinstance(left, Constant):
        constant_first = isinstance(left, Constant)
        constant, varying = (left.value, right) if constant_first else (right.value, left)

        def with_constant(batch: Batch) -> np.ndarray:
            values = varying(batch).tolist()
            if arithmetic and is_number(constant) and set(map(type, values)) <= _NUMBER_KINDS:
                pairs = (repeat(constant), values) if constant_first else (values, repeat(constant))
                return object_column(list(map(fast, *pairs)))
            if fast is not None and not arithmetic:
                found = _ordering_with_number(fast, values, constant, constant_first)
                if found is not None:
                    return found
            if constant_first:
                return object_column([fn(constant, b) for b in values])
            return object_column([fn(a, constant) for a in values])

        return with_constant

    def evaluate(batch: Batch) -> np.ndarray:
        a, b = left(batch).tolist(), right(batch).tolist()
        if fast is not None:
            kinds = set(map(type, a)) | set(map(type, b))
            if arithmetic and kinds <= _NUMBER_KINDS:
                return object_column(list(map(fast, a, b)))
            if not arithmetic and kinds == {float}:
                return _float_ordering(fast, a, b)
        return object_column([fn(x, y) for x, y in zip(a, b)])

    return evaluate


def _ordering_with_number(test: np.ufunc, values: list, constant: Any, constant_first: bool) -> np.ndarray | None:
    """An ordering of a column against a number, by numpy where that is exact (doubles against a
    double or an integer a double holds exactly, integers within int64 against such an integer);
    None for the row-by-row path."""
    kind = type(constant)
    if kind is not float and not (kind is int and -_EXACT_IN_DOUBLE <= constant <= _EXACT_IN_DOUBLE):
        return None
    kinds = set(map(type, values))
    if kinds == {float}:
        pair = (float(constant), values) if constant_first else (values, float(constant))
        return _float_ordering(test, *pair)
    if kinds == {int} and kind is int:
        try:
            column = np.array(values, dtype=np.int64)
        except OverflowError:
            return None
        return _BOOL_VALUES[(test(constant, column) if constant_first else test(column, constant)).view(np.int8)]
    return None


_EXACT_IN_DOUBLE = 2**53


def _float_ordering(test: np.ufunc, a: list[float] | float, b: list[float] | float) -> np.ndarray:
    """An ordering of two columns of doubles (or of one and a double); null where either side is
    NaN (values.compare)."""
    left, right = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
    out = _BOOL_VALUES[test(left, right).view(np.int8)]
    unordered = np.isnan(left) | np.isnan(right)
    if unordered.any():
        out[unordered] = None
    return out


def _equality(left: Evaluator, right: Evaluator, negate: bool) -> Evaluator:
    """Null-safe `=` / `!=` (spec 3.3): never null, so always a bool array."""
    if isinstance(left, Constant) and isinstance(right, Constant):
        return Constant(equals(left.value, right.value) is not negate)
    constant_side = right if isinstance(right, Constant) else left if isinstance(left, Constant) else None
    if constant_side is not None:
        constant = constant_side.value
        varying = left if constant_side is right else right
        if type(constant) is str:
            # Python's == between a str and any other type is False: exactly the coercion-free
            # `=` of spec 3.4, run by numpy in C.
            if negate:
                return lambda batch: varying(batch) != constant
            return lambda batch: varying(batch) == constant
        if constant is None:
            if negate:
                return lambda batch: ~null_mask(varying(batch))
            return lambda batch: null_mask(varying(batch))
        if type(constant) is bool or is_number(constant):
            # `match_regex(...) = true`, `EventCode = 4769`: one C-level pass instead of equals per row.
            same = _equal_to_bool if type(constant) is bool else _equal_to_number
            if negate:
                return lambda batch: ~same(varying(batch), constant)
            return lambda batch: same(varying(batch), constant)
    return lambda batch: np.fromiter(
        (equals(a, b) is not negate for a, b in zip(left(batch), right(batch))), dtype=bool, count=batch.length
    )


def _per_distinct(test: Callable[[np.ndarray, Any], np.ndarray]) -> Callable[[np.ndarray, Any], np.ndarray]:
    """`test` of a dictionary-encoded column run over its distinct values in use only."""

    def run(column: np.ndarray, constant: Any) -> np.ndarray:
        encoded = encoding(column)
        if encoded is None:
            return test(column, constant)
        values, codes = _values_to_test(encoded)
        return test(known(values, column.kinds), constant)[codes]

    return run


@_per_distinct
def _equal_to_bool(column: np.ndarray, constant: bool) -> np.ndarray:
    """values.equals(v, constant) for every v: only that very bool (True and False are singletons)."""
    if column.dtype == bool:
        return column == constant
    if _booleans_or_nulls(column):
        return np.asarray(column == constant, dtype=bool)
    return np.fromiter(map(operator.is_, column, repeat(constant)), dtype=bool, count=len(column))


@_per_distinct
def _equal_to_number(column: np.ndarray, constant: int | float) -> np.ndarray:
    """values.equals(v, constant) for every v: a number of the same value. Python's == agrees, but
    for booleans (True == 1), which are looked at in the few rows it finds equal."""
    if column.dtype == bool:
        return np.zeros(len(column), dtype=bool)
    found = np.asarray(column == constant, dtype=bool)
    for row in np.flatnonzero(found):
        if column[row].__class__ is bool:
            found[row] = False
    return found


def _call_function(name: str, *args: Evaluator) -> Evaluator:
    return _apply_function(FUNCTIONS[name], list(args))


def _in(expr: ast.In) -> Evaluator:
    if isinstance(expr.value, ast.Literal) and type(expr.value.value) is str:
        found = _text_among(expr.value.value, [compile_expression(o) for o in expr.options])
        return (lambda batch: ~found(batch)) if expr.negated else found
    if all(isinstance(o, ast.Literal) and type(o.value) is str for o in expr.options):
        # `process_name IN ("a.exe", ...)`: null-safe equality with strings is set membership.
        found = _text_membership(compile_expression(expr.value), frozenset(o.value for o in expr.options))
        return (lambda batch: ~found(batch)) if expr.negated else found
    found = _call_function("in", compile_expression(expr.value), *(compile_expression(o) for o in expr.options))
    if not expr.negated:
        return found
    return lambda batch: _from_codes(_TRUE - _truth_codes(found(batch)))


def _text_among(text: str, options: list[Evaluator]) -> Evaluator:
    """`"Endpoint_Processes" IN (_datamodels)`: whether each row's options hold `text` (a list's
    items one by one), never null. Python's `in` and `==` are exact here: no value but an equal
    string equals a string (spec 3.4), and the items of a list are JSON values."""

    shared = _SHARED_WORK.get()

    def holds(value: Any) -> bool:
        return text in value if value.__class__ is list else value == text

    def evaluate(batch: Batch) -> np.ndarray:
        found = np.zeros(batch.length, dtype=bool)
        for option in options:
            if isinstance(option, Constant):
                if holds(option.value):
                    found[:] = True
                continue
            values = option(batch)
            per_list = None if shared is None else shared.lists_holding(values, text)
            if per_list is not None:  # several searches: each distinct list (a few a batch) tested once
                found |= per_list
                continue
            try:  # a column of lists only (`_datamodels` of every event): each one searched in C
                found |= np.fromiter(map(list.__contains__, values, repeat(text)), dtype=bool, count=batch.length)
            except TypeError:  # a value that is no list
                found |= np.fromiter(map(holds, values), dtype=bool, count=batch.length)
        return found

    return evaluate


def _predicate_compiler(expr: ast.Expr) -> Callable[[Any], Evaluator] | None:
    kind = type(expr)
    if kind is ast.Unary:
        return _not if expr.op == "not" else None
    if kind is ast.Binary:
        return _equality_predicate if expr.op in ("=", "!=") else None
    return _PREDICATES.get(kind)


_PREDICATES: dict[type, Callable[[Any], Evaluator]] = {ast.Logical: _logical, ast.IsNull: _is_null, ast.In: _in}


_COMPILERS: dict[type, Callable[[Any], Evaluator]] = {
    ast.Literal: _literal,
    ast.Regex: _regex,
    ast.Duration: _duration,
    ast.Field: _field,
    ast.ListLiteral: _list,
    ast.MapLiteral: _map,
    ast.Index: _index,
    ast.Call: _call,
    ast.Unary: _unary,
    ast.Binary: _binary,
}

__all__ = ["Constant", "Evaluator", "RecordErrors", "compile_expression", "compile_predicate", "counting_errors_in", "current_record_errors", "keep_mask"]
