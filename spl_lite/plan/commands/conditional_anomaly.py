"""`conditional_anomaly conditional="c" target="t"`: adds `output`, the lift of the pair (spec 8.2)."""
from __future__ import annotations

from dataclasses import dataclass

from ..logical import Node
from . import Argument, Command, add_fields
from .arguments import argument_span, keyword_arguments


@dataclass(frozen=True, kw_only=True)
class ConditionalAnomaly(Node):
    command = "conditional_anomaly"
    stateless = False
    order_sensitive = True
    passes_through = True
    conditional: str
    target: str

    def reads(self) -> frozenset[str]:
        return frozenset((self.conditional, self.target))

    def writes(self) -> frozenset[str]:
        return frozenset(("output",))

    def describe(self) -> str:
        return f"conditional={self.conditional} target={self.target}"


class ConditionalAnomalyCommand(Command):
    name = "conditional_anomaly"
    summary = "how unusual `target` is given `conditional` (adds `output`)"
    usage = 'conditional_anomaly conditional="<field>" target="<field>"'
    arguments = (
        Argument("conditional", "required", "the field that is the condition, e.g. the parent process"),
        Argument("target", "required", "the field whose value is judged given the condition, e.g. the process"),
    )
    outputs = (
        "the input fields, plus `output`: the lift P(target | conditional) / P(target) over the records seen so far, "
        "this one included; LOW means rare (a pair seen less than chance), null when either field is null"
    )

    @classmethod
    def plan(cls, node, input_id, planner) -> int:
        args = keyword_arguments(node, {"conditional": (str,), "target": (str,)}, required=("conditional", "target"))
        fields = add_fields(planner.node(input_id).fields, ["output"])
        return planner.add(
            ConditionalAnomaly, (input_id,), fields, node.span, conditional=args["conditional"], target=args["target"]
        )

    @classmethod
    def references(cls, syntax, node: ConditionalAnomaly):
        yield node.conditional, argument_span(syntax, "conditional"), ()
        yield node.target, argument_span(syntax, "target"), ()
