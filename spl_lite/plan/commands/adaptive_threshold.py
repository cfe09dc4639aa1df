"""`adaptive_threshold`: flags outliers of a numeric field per entity over an event-time window (spec 8.3)."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import BAD_ARGUMENT, SplError, did_you_mean
from ..logical import Node
from . import Command, add_fields
from .arguments import argument_span, keyword_arguments

_ALGORITHMS = ("gaussian", "quantile")


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
