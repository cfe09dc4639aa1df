"""`conditional_anomaly conditional="c" target="t"`: adds `output`, the lift of the pair (spec 8.2)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime.batch import Batch, object_column
from ..runtime.operator import Operator
from ..runtime.streaming_ml import ConditionalAnomaly as ConditionalAnomalyState
from . import Argument, Command
from .arguments import keyword_arguments
from .eval import add_fields


@dataclass(frozen=True)
class ConditionalAnomalyParams:
    conditional: str
    target: str


class _ConditionalAnomaly(Operator):
    def __init__(self, params: ConditionalAnomalyParams):
        self.params = params
        self.state = ConditionalAnomalyState()

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        scores = self.state.score(batch.column(self.params.conditional), batch.column(self.params.target))
        return batch.with_column("output", object_column(scores))

    def process_keeping(self, batch: Batch, rows: np.ndarray) -> Batch:
        if not batch.length:
            return batch
        scores = self.state.score(batch.column(self.params.conditional), batch.column(self.params.target), rows)
        return batch.filter(rows).with_column("output", object_column(scores))

    def state_dict(self) -> dict:
        return self.state.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.state = ConditionalAnomalyState.from_state_dict(state)


class ConditionalAnomaly(Command):
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
        params = ConditionalAnomalyParams(args["conditional"], args["target"])
        fields = add_fields(planner.node(input_id).fields, ["output"])
        return planner.add(cls.name, (input_id,), params, fields, node.span)

    @classmethod
    def describe(cls, params: ConditionalAnomalyParams) -> str:
        return f"conditional={params.conditional} target={params.target}"

    @classmethod
    def operator(cls, params, context) -> Operator:
        return _ConditionalAnomaly(params)

    @classmethod
    def reads_and_writes(cls, params: ConditionalAnomalyParams) -> tuple[frozenset[str], frozenset[str]]:
        return frozenset((params.conditional, params.target)), frozenset(("output",))
