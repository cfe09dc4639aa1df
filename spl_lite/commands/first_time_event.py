"""`first_time_event input_columns=...`: true the first time a tuple of values is seen (spec 8.1)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import BAD_ARGUMENT, SplError
from ..runtime.batch import Batch, object_column
from ..runtime.operator import Operator
from ..runtime.streaming_ml import FirstTimeEvent as FirstTimeEventState
from . import Argument, Command
from .arguments import keyword_arguments
from .eval import add_fields


@dataclass(frozen=True)
class FirstTimeEventParams:
    columns: tuple[str, ...]

    @property
    def output(self) -> str:
        return "first_time_" + "_".join(self.columns)


class _FirstTimeEvent(Operator):
    def __init__(self, params: FirstTimeEventParams):
        self.params = params
        self.state = FirstTimeEventState()

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        flags = self.state.score([batch.column(c) for c in self.params.columns])
        return batch.with_column(self.params.output, object_column(flags))

    def state_dict(self) -> dict:
        return self.state.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.state = FirstTimeEventState.from_state_dict(state)


class FirstTimeEvent(Command):
    name = "first_time_event"
    summary = "flag the first occurrence of a tuple of field values"
    usage = 'first_time_event input_columns=["<field>", ...]   (or input_columns="<field>,<field>")'
    arguments = (
        Argument("input_columns", "required", "the fields whose tuple of values is remembered"),
        Argument("cache_partitions", "none", "accepted for DSP compatibility; no effect"),
    )
    outputs = "the input fields, plus first_time_<field>_<field>...: true the first time the tuple is seen, else false"

    @classmethod
    def plan(cls, node, input_id, planner) -> int:
        args = keyword_arguments(
            node, {"input_columns": (str, list), "cache_partitions": (int,)}, required=("input_columns",)
        )
        columns = args["input_columns"]
        names = columns.split(",") if type(columns) is str else columns
        if not names or not all(type(n) is str and n.strip() for n in names):
            raise SplError(BAD_ARGUMENT, "`input_columns` must name at least one field", node.span)
        params = FirstTimeEventParams(tuple(n.strip() for n in names))
        fields = add_fields(planner.node(input_id).fields, [params.output])
        return planner.add(cls.name, (input_id,), params, fields, node.span)

    @classmethod
    def describe(cls, params: FirstTimeEventParams) -> str:
        return f"input_columns={','.join(params.columns)} -> {params.output}"

    @classmethod
    def operator(cls, params, context) -> Operator:
        return _FirstTimeEvent(params)
