"""`from read_*()`, `from source`, `from $variable`: where a pipeline's records come from."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import BAD_ARGUMENT, UNKNOWN_SOURCE, SplError, did_you_mean
from ...io.sources import SOURCES
from ...syntax import ast
from ..logical import Node
from . import Command


@dataclass(frozen=True, kw_only=True)
class Source(Node):
    """The records of one source function: every `from` of it shares this node (spec 5.1)."""

    command = "from"
    name: str

    def reads(self) -> frozenset[str]:
        return frozenset()

    def describe(self) -> str:
        return self.name


class From(Command):
    name = "from"
    syntax = ast.From
    starts_pipeline = True
    summary = "read records from a source function or a `$variable`"
    usage = ("from read_ssa_enriched_events() | from read_ba_enriched_events() | from source | from $variable"
             " | from pulsar(<connection>, <topic>)")
    outputs = (
        "read_ssa_enriched_events() and read_ba_enriched_events(): input_event (the event as a map), "
        "_datamodels (its list of data models, else []) and body ({}); `source`: the event's own top-level "
        "keys; DSP connectors (pulsar, read_kafka, ..., read_text): value (the event's JSON, bytes; text for "
        "read_text), read from --input; `$variable`: the fields of that pipeline"
    )

    @classmethod
    def plan(cls, node: ast.From, input_id, planner) -> int:
        source = node.source
        if isinstance(source, ast.Variable):
            return planner.variable(source)
        args = ()
        if isinstance(source, ast.Call):
            name, span, args = source.name, source.name_span, source.args
        else:
            name, span = source.name, source.span
        spec = SOURCES.get(name)
        if spec is None:
            raise SplError(
                UNKNOWN_SOURCE,
                f"unknown source `{name}`",
                span,
                hint=did_you_mean(name, SOURCES) or "sources: " + ", ".join(SOURCES),
            )
        if args and not spec.arguments:
            raise SplError(UNKNOWN_SOURCE, f"source `{name}` takes no arguments", source.span)
        for arg in args:
            value = arg.value if isinstance(arg, ast.NamedArgument) else arg
            if not isinstance(value, ast.Literal):
                raise SplError(BAD_ARGUMENT, f"the arguments of `{name}` (connection, topic) must be literals",
                               getattr(value, "span", source.span))
        if name not in planner.shared_sources:
            planner.shared_sources[name] = planner.add(Source, (), spec.fields, node.span, name=name)
        return planner.shared_sources[name]
