"""`into write_*()` / `into sink`: where a pipeline's records go."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import UNKNOWN_SINK, SplError, did_you_mean
from ...io.sinks import DEFAULT_SINK, SINKS
from ...syntax import ast
from ..logical import Node
from . import Command


@dataclass(frozen=True, kw_only=True)
class Sink(Node):
    """Hands every record to a sink function; outputs nothing further down the plan."""

    command = "into"
    name: str

    def reads(self) -> None:
        return None  # it writes whole records

    def describe(self) -> str:
        return self.name


class Into(Command):
    name = "into"
    syntax = ast.Into
    summary = "write records to a sink function"
    usage = "into write_ssa_detected_events() | into write_ssa_finding_events() | into write_ba_finding_events() | into sink | into write_null()"
    outputs = "none: every field of each record reaching a writing sink is written as one JSON line; write_null() writes nothing"

    @classmethod
    def plan(cls, node: ast.Into, input_id, planner) -> int:
        sink = node.sink
        if isinstance(sink, ast.Call):
            name, span = sink.name, sink.name_span
            if sink.args:
                raise SplError(UNKNOWN_SINK, f"sink `{name}` takes no arguments", sink.span)
        else:
            name, span = sink.name, sink.span
        if name not in SINKS:
            raise SplError(
                UNKNOWN_SINK,
                f"unknown sink `{name}`",
                span,
                hint=did_you_mean(name, SINKS) or "sinks: " + ", ".join(SINKS),
            )
        return planner.add(Sink, (input_id,), (), node.span, name=name)

    @classmethod
    def plan_default(cls, planner, input_id: int, span) -> int:
        return planner.add(Sink, (input_id,), (), span, name=DEFAULT_SINK)
