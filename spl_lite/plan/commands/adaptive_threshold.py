"""`adaptive_threshold`: flags outliers of a numeric field per entity over an event-time window (spec 8.3)."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import BAD_ARGUMENT, SplError, did_you_mean
from ..logical import Node
from . import Argument, Command, add_fields
from .arguments import argument_span, keyword_arguments

_ALGORITHMS = ("gaussian", "quantile")
# The per-tail threshold when none is given (spec 8.3, PROPOSED).
DEFAULT_THRESHOLDS = {"gaussian": 0.01, "quantile": 0.1}


@dataclass(frozen=True, kw_only=True)
class AdaptiveThreshold(Node):
    command = "adaptive_threshold"
    stateless = False
    order_sensitive = True
    passes_through = True
    algorithm: str
    entity: str | None
    value: str
    timestamp: str
    window_ms: int | None
    threshold: float | None

    @property
    def outputs(self) -> tuple[str, ...]:
        return outputs_of(self.algorithm)

    def reads(self) -> frozenset[str]:
        return frozenset({self.value, self.timestamp} | ({self.entity} if self.entity else set()))

    def writes(self) -> frozenset[str]:
        return frozenset(self.outputs)

    def describe(self) -> str:
        parts = [f"algorithm={self.algorithm}", f"value={self.value}"]
        if self.entity:
            parts.append(f"entity={self.entity}")
        parts.append(f"window={self.window_ms}ms" if self.window_ms else "window=unbounded")
        if self.threshold is not None:
            parts.append(f"threshold={self.threshold}")
        return " ".join(parts)


def outputs_of(algorithm: str) -> tuple[str, ...]:
    return ("mean", "variance", "label") if algorithm == "gaussian" else ("quantile", "label")


class AdaptiveThresholdCommand(Command):
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
        fields = add_fields(planner.node(input_id).fields, outputs_of(algorithm))
        return planner.add(
            AdaptiveThreshold, (input_id,), fields, node.span,
            algorithm=algorithm,
            entity=args.get("entity"),
            value=args.get("value", "input"),
            timestamp=args.get("timestamp", "timestamp"),
            window_ms=window if window is not None and window > 0 else None,
            threshold=threshold,
        )

    @classmethod
    def references(cls, syntax, node: AdaptiveThreshold):
        """`value` and `timestamp` have defaults (`input`, `timestamp`): a default read where no
        such field exists is pointed at the command's name."""
        given = {a.name.lower() for a in syntax.args if hasattr(a, "name")}
        for key, name in (("value", node.value), ("entity", node.entity), ("timestamp", node.timestamp)):
            if name is None:
                continue
            if key in given:
                yield name, argument_span(syntax, key), ()
            else:
                yield name, syntax.name_span, (), f'`{key}=` is not given and defaults to `{name}`: add `{key}="<field>"`'
