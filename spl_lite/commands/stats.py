"""`stats agg(x) AS n, ... BY f, ..., span(ts, size[, slide[, grace]])`: event-time windows (spec 5.7)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ast
from ..errors import BAD_ARGUMENT, UNKNOWN_FUNCTION, SplError, did_you_mean
from ..runtime.batch import Batch, object_column
from ..runtime.expressions import Constant, compile_expression
from ..runtime.operator import Operator
from ..runtime.windows import AGGREGATIONS, WindowedAggregation
from . import Argument, Command, source_text

WINDOW_FIELDS = ("window_start", "window_end", "window_trigger")


@dataclass(frozen=True)
class StatsParams:
    aggregations: tuple[tuple[str, ast.Expr | None, str], ...]  # (function, argument, output name)
    group_by: tuple[ast.Field, ...]
    timestamp: ast.Expr
    size_ms: int
    slide_ms: int | None
    grace_ms: int | None

    @property
    def output_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.group_by) + tuple(a[2] for a in self.aggregations) + WINDOW_FIELDS


class _Stats(Operator):
    def __init__(self, params: StatsParams):
        self.params = params
        self.groups = [compile_expression(f) for f in params.group_by]
        # count() with no argument counts records: any non-null constant does.
        self.values = [compile_expression(arg) if arg is not None else Constant(1) for _, arg, _ in params.aggregations]
        self.timestamp = compile_expression(params.timestamp)
        self.state = WindowedAggregation(
            params.size_ms,
            params.slide_ms,
            params.grace_ms,
            len(params.group_by),
            [(function, name) for function, _, name in params.aggregations],
        )
        self.last_row_id = -1

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        triggers: list[int] = []
        rows = self.state.process(
            self.timestamp(batch), [g(batch) for g in self.groups], [v(batch) for v in self.values], triggers
        )
        self.last_row_id = int(batch.row_ids[-1])
        # A window's record carries the row id of the record whose event time closed it, so that
        # a union places it right after that record.
        return self._batch(rows, batch.row_ids[triggers] if rows else None)

    def flush(self) -> Batch:
        rows = self.state.flush()
        return self._batch(rows, np.full(len(rows), self.last_row_id + 1, dtype=np.int64))

    def state_dict(self) -> dict:
        return {"windows": self.state.state_dict(), "last_row_id": self.last_row_id}

    def load_state_dict(self, state: dict) -> None:
        self.state = WindowedAggregation.from_state_dict(state["windows"])
        self.last_row_id = state["last_row_id"]

    def _batch(self, rows: list[tuple], row_ids: np.ndarray | None) -> Batch:
        if not rows:
            return Batch.empty()
        names = self.params.output_fields
        columns = {name: object_column([row[i] for row in rows]) for i, name in enumerate(names)}
        return Batch(columns, row_ids)


class Stats(Command):
    name = "stats"
    syntax = ast.Stats
    summary = "aggregate per group over event-time windows"
    usage = "stats aggregation(field) [AS name] [, ...] BY field [, field ...], span(timestamp, size[, slide[, grace]])"
    arguments = (
        Argument("timestamp", "required", "first argument of span(): the event time of each record, epoch milliseconds"),
        Argument("size", "required", "window length: a duration such as 10m, or milliseconds"),
        Argument("slide", "size (tumbling windows)", "windows start every `slide`; smaller than size makes them overlap"),
        Argument("grace", "0", "how long after its end a window stays open for late records"),
    )
    outputs = (
        "only the BY fields, then the aggregations (named by AS, else by their text such as `count()`), "
        "then window_start, window_end and window_trigger (= window_end - 1)"
    )

    @classmethod
    def plan(cls, node: ast.Stats, input_id, planner) -> int:
        aggregations = []
        for aggregation in node.aggregations:
            call = aggregation.call
            if call.name not in AGGREGATIONS:
                raise SplError(
                    UNKNOWN_FUNCTION, f"unknown aggregation `{call.name}`", call.name_span,
                    hint=did_you_mean(call.name, AGGREGATIONS),
                )
            if len(call.args) > 1 or any(isinstance(a, ast.NamedArgument) for a in call.args):
                raise SplError(BAD_ARGUMENT, f"`{call.name}` takes one field", call.span)
            argument = call.args[0] if call.args else None
            if argument is not None:
                planner.check_expression(argument)
            name = aggregation.alias.name if aggregation.alias else " ".join(source_text(call.span, planner).split())
            aggregations.append((call.name, argument, name))
        spans = [g for g in node.group_by if isinstance(g, ast.Call)]
        if len(spans) != 1 or spans[0].name != "span":
            raise SplError(
                BAD_ARGUMENT,
                "`stats` needs exactly one event-time window: `BY ..., span(timestamp, 5m)`",
                node.span,
                hint="add `span(timestamp, 5m)` to the BY list: DSP aggregates over event-time windows only",
            )
        span = spans[0]
        timestamp, size_ms, slide_ms, grace_ms = _span_arguments(span, planner)
        fields = tuple(g for g in node.group_by if isinstance(g, ast.Field))
        params = StatsParams(tuple(aggregations), fields, timestamp, size_ms, slide_ms, grace_ms)
        return planner.add("stats", (input_id,), params, params.output_fields, node.span)

    @classmethod
    def describe(cls, params: StatsParams) -> str:
        aggregations = ", ".join(f"{f}() AS {n}" for f, _, n in params.aggregations)
        by = ", ".join(f.name for f in params.group_by)
        window = f"{params.size_ms}ms" + (f" slide {params.slide_ms}ms" if params.slide_ms else "")
        return f"{aggregations} BY {by} window {window}"

    @classmethod
    def operator(cls, params, context) -> Operator:
        return _Stats(params)


def _span_arguments(span: ast.Call, planner) -> tuple[ast.Expr, int, int | None, int | None]:
    if not 2 <= len(span.args) <= 4:
        raise SplError(BAD_ARGUMENT, "span takes (timestamp, size[, slide[, grace]])", span.span)
    timestamp, *lengths = span.args
    planner.check_expression(timestamp)
    millis = []
    for length in lengths:
        if isinstance(length, ast.Duration):
            millis.append(length.millis)
        elif isinstance(length, ast.Literal) and type(length.value) is int and length.value > 0:
            millis.append(length.value)
        else:
            raise SplError(BAD_ARGUMENT, "a window length is a duration such as `5m` or milliseconds", length.span)
    size = millis[0]
    slide = millis[1] if len(millis) > 1 else None
    grace = millis[2] if len(millis) > 2 else None
    if slide is not None and not 0 < slide <= size:
        raise SplError(BAD_ARGUMENT, "the slide must be positive and no longer than the window", lengths[1].span)
    return timestamp, size, slide, grace
