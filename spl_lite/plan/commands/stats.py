"""`stats agg(x) AS n, ... BY f, ..., span(ts, size[, slide[, grace]])`: event-time windows (spec 5.7)."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import BAD_ARGUMENT, UNKNOWN_FUNCTION, SplError, did_you_mean
from ...functions.aggregations import AGGREGATIONS
from ...syntax import ast
from ..logical import Node
from . import Argument, Command, source_text

WINDOW_FIELDS = ("window_start", "window_end", "window_trigger")


@dataclass(frozen=True, kw_only=True)
class Stats(Node):
    command = "stats"
    stateless = False
    holds_records = True
    order_sensitive = True  # a record later than the window's end plus grace is dropped
    aggregations: tuple[tuple[str, ast.Expr | None, str], ...]  # (canonical function, argument, output name)
    group_by: tuple[ast.Field, ...]
    timestamp: ast.Expr
    size_ms: int
    slide_ms: int | None
    grace_ms: int | None

    def expressions(self) -> tuple[ast.Expr, ...]:
        arguments = tuple(argument for _, argument, _ in self.aggregations if argument is not None)
        return self.group_by + arguments + (self.timestamp,)

    def describe(self) -> str:
        aggregations = ", ".join(f"{f}() AS {n}" for f, _, n in self.aggregations)
        by = ", ".join(f.name for f in self.group_by)
        window = f"{self.size_ms}ms" + (f" slide {self.slide_ms}ms" if self.slide_ms else "")
        return f"{aggregations} BY {by} window {window}"


def output_fields(group_by, aggregations) -> tuple[str, ...]:
    return tuple(f.name for f in group_by) + tuple(a[2] for a in aggregations) + WINDOW_FIELDS


class StatsCommand(Command):
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
            argument = planner.resolve(call.args[0]) if call.args else None
            name = aggregation.alias.name if aggregation.alias else " ".join(source_text(call.span, planner).split())
            aggregations.append((AGGREGATIONS[call.name], argument, name))
        spans = [g for g in node.group_by if isinstance(g, ast.Call)]
        if len(spans) != 1 or spans[0].name != "span":
            raise SplError(
                BAD_ARGUMENT,
                "`stats` needs exactly one event-time window: `BY ..., span(timestamp, 5m)`",
                node.span,
                hint="add `span(timestamp, 5m)` to the BY list: DSP aggregates over event-time windows only",
            )
        timestamp, size_ms, slide_ms, grace_ms = _span_arguments(spans[0], planner)
        group_by = tuple(g for g in node.group_by if isinstance(g, ast.Field))
        return planner.add(
            Stats, (input_id,), output_fields(group_by, aggregations), node.span,
            aggregations=tuple(aggregations), group_by=group_by, timestamp=timestamp,
            size_ms=size_ms, slide_ms=slide_ms, grace_ms=grace_ms,
        )


def _span_arguments(span: ast.Call, planner) -> tuple[ast.Expr, int, int | None, int | None]:
    if not 2 <= len(span.args) <= 4:
        raise SplError(BAD_ARGUMENT, "span takes (timestamp, size[, slide[, grace]])", span.span)
    timestamp, *lengths = span.args
    timestamp = planner.resolve(timestamp)
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
