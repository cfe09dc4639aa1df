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
    output_column: str | None = None  # `output_column=`; else first_time_<columns joined by _>

    @property
    def output(self) -> str:
        return self.output_column or "first_time_" + "_".join(self.columns)

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
        Argument("output_column", "first_time_<field>_<field>...", "the name of the output field"),
        Argument("cache_partitions", "none", "accepted for DSP compatibility; no effect"),
    )
    outputs = ("the input fields, plus the output field (first_time_<field>_<field>... unless output_column= "
               "names it): true the first time the tuple is seen, else false")

    @classmethod
    def plan(cls, node, input_id, planner) -> int:
        args = keyword_arguments(
            node, {"input_columns": (str, list), "output_column": (str,), "cache_partitions": (int,)},
            required=("input_columns",),
        )
        columns = args["input_columns"]
        names = columns.split(",") if type(columns) is str else columns
        if not names or not all(type(n) is str and n.strip() for n in names):
            raise SplError(BAD_ARGUMENT, "`input_columns` must name at least one field", node.span)
        columns = tuple(n.strip() for n in names)
        output = args.get("output_column")
        if output is not None and not output.strip():
            raise SplError(BAD_ARGUMENT, "`output_column` must name a field", node.span)
        output = output.strip() if output is not None else None
        fields = add_fields(planner.node(input_id).fields, [output or "first_time_" + "_".join(columns)])
        return planner.add(FirstTimeEvent, (input_id,), fields, node.span, columns=columns, output_column=output)

    @classmethod
    def references(cls, syntax, node: FirstTimeEvent):
        span = argument_span(syntax, "input_columns")
        return ((column, span, ()) for column in node.columns)
