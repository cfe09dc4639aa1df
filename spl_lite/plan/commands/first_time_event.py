"""`first_time_event input_columns=...`: true the first time a tuple of values is seen (spec 8.1)."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import BAD_ARGUMENT, SplError
from ..logical import Node
from . import Argument, Command, add_fields
from .arguments import argument_span, keyword_arguments


@dataclass(frozen=True, kw_only=True)
class FirstTimeEvent(Node):
    command = "first_time_event"
    stateless = False
    order_sensitive = True
    passes_through = True
    columns: tuple[str, ...]

    @property
    def output(self) -> str:
        return "first_time_" + "_".join(self.columns)

    def reads(self) -> frozenset[str]:
        return frozenset(self.columns)

    def writes(self) -> frozenset[str]:
        return frozenset((self.output,))

    def describe(self) -> str:
        return f"input_columns={','.join(self.columns)} -> {self.output}"


class FirstTimeEventCommand(Command):
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
        columns = tuple(n.strip() for n in names)
        fields = add_fields(planner.node(input_id).fields, ["first_time_" + "_".join(columns)])
        return planner.add(FirstTimeEvent, (input_id,), fields, node.span, columns=columns)

    @classmethod
    def references(cls, syntax, node: FirstTimeEvent):
        span = argument_span(syntax, "input_columns")
        return ((column, span, ()) for column in node.columns)
