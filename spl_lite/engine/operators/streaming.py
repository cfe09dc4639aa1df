"""Operators of the streaming-ML commands; their state lives in engine/streaming_ml.py."""
from __future__ import annotations

import numpy as np

from ...core.batch import Batch, object_column
from ...plan.commands.adaptive_threshold import AdaptiveThreshold
from ...plan.commands.conditional_anomaly import ConditionalAnomaly
from ...plan.commands.first_time_event import FirstTimeEvent
from ..operator import Operator
from ..streaming_ml import AdaptiveThreshold as AdaptiveThresholdState
from ..streaming_ml import ConditionalAnomaly as ConditionalAnomalyState
from ..streaming_ml import FirstTimeEvent as FirstTimeEventState
from . import builds


@builds(ConditionalAnomaly)
class ConditionalAnomalyOperator(Operator):
    def __init__(self, node: ConditionalAnomaly, context):
        self.node = node
        self.state = ConditionalAnomalyState()

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        scores = self.state.score(batch.column(self.node.conditional), batch.column(self.node.target))
        return batch.with_column("output", object_column(scores))

    def process_keeping(self, batch: Batch, rows: np.ndarray) -> Batch:
        if not batch.length:
            return batch
        scores = self.state.score(batch.column(self.node.conditional), batch.column(self.node.target), rows)
        return batch.filter(rows).with_column("output", object_column(scores))

    def state_dict(self) -> dict:
        return self.state.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.state = ConditionalAnomalyState.from_state_dict(state)


@builds(AdaptiveThreshold)
class AdaptiveThresholdOperator(Operator):
    def __init__(self, node: AdaptiveThreshold, context):
        self.node = node
        self.state = AdaptiveThresholdState(node.algorithm, node.window_ms, node.threshold)

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        node = self.node
        entities = batch.column(node.entity) if node.entity else None
        scored = self.state.score(entities, batch.column(node.value), batch.column(node.timestamp))
        columns = dict(batch.columns)
        for name in node.outputs:
            columns[name] = object_column(scored[name])
        return batch.with_columns(columns)

    def state_dict(self) -> dict:
        return self.state.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.state = AdaptiveThresholdState.from_state_dict(state)


@builds(FirstTimeEvent)
class FirstTimeEventOperator(Operator):
    def __init__(self, node: FirstTimeEvent, context):
        self.node = node
        self.state = FirstTimeEventState()

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        flags = self.state.score([batch.column(c) for c in self.node.columns])
        return batch.with_column(self.node.output, object_column(flags))

    def state_dict(self) -> dict:
        return self.state.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.state = FirstTimeEventState.from_state_dict(state)
