"""`adaptive_threshold`: flags outliers of a numeric field per entity over an event-time window (spec 8.3)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import BAD_ARGUMENT, SplError, did_you_mean
from ..runtime.batch import Batch, object_column
from ..runtime.operator import Operator
from ..runtime.streaming_ml import AdaptiveThreshold as AdaptiveThresholdState
from . import Argument, Command
from .arguments import argument_span, keyword_arguments
from .eval import add_fields


@dataclass(frozen=True)
class AdaptiveThresholdParams:
    algorithm: str
    entity: str | None
    value: str
    timestamp: str
    window_ms: int | None
    threshold: float | None

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("mean", "variance", "label") if self.algorithm == "gaussian" else ("quantile", "label")


_ALGORITHMS = ("gaussian", "quantile")


class _AdaptiveThreshold(Operator):
    def __init__(self, params: AdaptiveThresholdParams):
        self.params = params
        self.state = AdaptiveThresholdState(params.algorithm, params.window_ms, params.threshold)

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        p = self.params
        entities = batch.column(p.entity) if p.entity else None
        scored = self.state.score(entities, batch.column(p.value), batch.column(p.timestamp))
        columns = dict(batch.columns)
        for name in p.outputs:
            columns[name] = object_column(scored[name])
        return batch.with_columns(columns)

    def state_dict(self) -> dict:
        return self.state.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.state = AdaptiveThresholdState.from_state_dict(state)


class AdaptiveThreshold(Command):
    name = "adaptive_threshold"
    summary = "gaussian or quantile outlier label per entity (adds mean/variance or quantile, and label)"
    usage = ('adaptive_threshold [algorithm="gaussian"|"quantile"] [entity="<field>"] [value="<field>"] '
             '[timestamp="<field>"] [window=<ms>] [threshold=<p>]')
    arguments = (
        Argument("algorithm", '"gaussian"', "gaussian (mean and variance of the history) or quantile (rank in it)"),
        Argument("entity", "none: one model for all records", "field whose value selects a separate history"),
        Argument("value", '"input"', "the numeric field to judge"),
        Argument("timestamp", '"timestamp"', "the event-time field (epoch ms) that moves the window"),
        Argument("window", "unbounded (also for 0 or less)", "history length in milliseconds of event time"),
        Argument("threshold", "0.01 gaussian, 0.1 quantile", "per-tail probability: label when below it or above 1 - it"),
        Argument("eps", "0.01", "accepted for DSP compatibility; the computation is exact"),
    )
    outputs = (
        "the input fields, plus mean, variance and label (gaussian) or quantile and label (quantile); each record "
        "is judged against the earlier records of its entity in the window, then added to them"
    )

    @classmethod
    def plan(cls, node, input_id, planner) -> int:
        args = keyword_arguments(
            node,
            {
                "algorithm": (str,),
                "entity": (str,),
                "value": (str,),
                "timestamp": (str,),
                "window": (int,),
                "threshold": (float,),
                "eps": (float,),
            },
        )
        algorithm = args.get("algorithm", "gaussian").lower()
        if algorithm not in _ALGORITHMS:
            raise SplError(
                BAD_ARGUMENT,
                f"unknown algorithm `{algorithm}`",
                argument_span(node, "algorithm"),
                hint=did_you_mean(algorithm, _ALGORITHMS) or "the algorithm is `gaussian` or `quantile`",
            )
        threshold = args.get("threshold")
        if threshold is not None and not 0 < threshold < 0.5:
            raise SplError(
                BAD_ARGUMENT,
                "`threshold` is a per-tail probability between 0 and 0.5",
                argument_span(node, "threshold"),
            )
        window = args.get("window")
        params = AdaptiveThresholdParams(
            algorithm,
            args.get("entity"),
            args.get("value", "input"),
            args.get("timestamp", "timestamp"),
            window if window is not None and window > 0 else None,
            threshold,
        )
        fields = add_fields(planner.node(input_id).fields, params.outputs)
        return planner.add(cls.name, (input_id,), params, fields, node.span)

    @classmethod
    def describe(cls, params: AdaptiveThresholdParams) -> str:
        parts = [f"algorithm={params.algorithm}", f"value={params.value}"]
        if params.entity:
            parts.append(f"entity={params.entity}")
        parts.append(f"window={params.window_ms}ms" if params.window_ms else "window=unbounded")
        if params.threshold is not None:
            parts.append(f"threshold={params.threshold}")
        return " ".join(parts)

    @classmethod
    def operator(cls, params, context) -> Operator:
        return _AdaptiveThreshold(params)

    @classmethod
    def reads_and_writes(cls, params: AdaptiveThresholdParams) -> tuple[frozenset[str], frozenset[str]]:
        reads = {params.value, params.timestamp} | ({params.entity} if params.entity else set())
        return frozenset(reads), frozenset(params.outputs)
