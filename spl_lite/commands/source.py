"""`from read_*()`, `from source`, `from $variable`: where a pipeline's records come from."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ast
from ..errors import UNKNOWN_SOURCE, SplError, did_you_mean
from ..io.sources import SOURCES
from ..runtime.batch import Batch
from ..runtime.operator import Operator
from . import Command


@dataclass(frozen=True)
class SourceParams:
    name: str


class _PassThrough(Operator):
    def process(self, batch: Batch) -> Batch:
        return batch


class From(Command):
    name = "from"
    syntax = ast.From
    starts_pipeline = True
    summary = "read records from a source function or a `$variable`"
    usage = "from read_ssa_enriched_events() | from read_ba_enriched_events() | from source | from $variable"
    outputs = (
        "read_ssa_enriched_events() and read_ba_enriched_events(): input_event (the event as a map), "
        "_datamodels (its list of data models, else []) and body ({}); `source`: the event's own top-level "
        "keys; `$variable`: the fields of that pipeline"
    )

    @classmethod
    def plan(cls, node: ast.From, input_id, planner) -> int:
        source = node.source
        if isinstance(source, ast.Variable):
            return planner.variable(source)
        if isinstance(source, ast.Call):
            name, span = source.name, source.name_span
            if source.args:
                raise SplError(UNKNOWN_SOURCE, f"source `{name}` takes no arguments", source.span)
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
        # Every `from` of the same source shares one pass over the input (spec 5.1).
        if name not in planner.shared_sources:
            planner.shared_sources[name] = planner.add("from", (), SourceParams(name), spec.fields, node.span)
        return planner.shared_sources[name]

    @classmethod
    def describe(cls, params: SourceParams) -> str:
        return params.name

    @classmethod
    def operator(cls, params: SourceParams, context) -> Operator:
        return _PassThrough()
