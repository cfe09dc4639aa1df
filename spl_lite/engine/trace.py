"""`--trace` and `--why`: counts of records in and out of every stage, and what happened to chosen rows.

An Execution built with a Trace wraps each operator in a Traced operator; without one the
operators are the plain ones and nothing here runs. A Traced operator counts the records it is
given and those it gives, and for the rows being watched (their row ids, set by the driver
before each push) keeps each stage's output record, or notes the stage that did not pass them on.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.batch import Batch
from ..plan.logical import Plan
from .operator import Operator


class Traced(Operator):
    """An operator and its counters; everything else is the operator's own."""

    def __init__(self, inner: Operator, stage: "Stage", trace: "Trace"):
        self.inner, self.stage, self.trace = inner, stage, trace

    def _seen(self, inputs: list[Batch], output: Batch) -> Batch:
        stage = self.stage
        stage.records_in += sum(b.length for b in inputs)
        stage.records_out += output.length
        if self.trace.watch:
            self.trace.observe(stage, inputs, output)
        if stage.collected is not None and output.length:
            stage.collected.append(output)
        return output

    def process(self, batch: Batch) -> Batch:
        return self._seen([batch], self.inner.process(batch))

    def process_inputs(self, batches: list[Batch]) -> Batch:
        return self._seen(batches, self.inner.process_inputs(batches))

    def process_keeping(self, batch: Batch, rows: np.ndarray) -> Batch:
        return self._seen([batch], self.inner.process_keeping(batch, rows))

    def flush(self) -> Batch:
        out = self.inner.flush()
        self.stage.records_out += out.length
        self.stage.flushed += out.length
        if self.stage.collected is not None and out.length:
            self.stage.collected.append(out)
        return out

    def late_records(self) -> int:
        return self.inner.late_records()

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state) -> None:
        self.inner.load_state_dict(state)

    def __getattr__(self, name):  # keep(), and whatever else a caller asks of the operator
        return getattr(self.inner, name)


class Stage:
    def __init__(self, node):
        self.node = node
        self.records_in = self.records_out = self.flushed = 0
        self.collected: list[Batch] | None = None  # every output batch, where a report wants them

    @property
    def label(self) -> str:
        text = f"{self.node.command} {self.node.describe()}".strip()
        return text if len(text) <= 60 else text[:57] + "..."

    def to_json(self) -> dict:
        return {"node": self.node.id, "command": self.node.command, "describe": self.node.describe(),
                "inputs": list(self.node.inputs), "records_in": self.records_in, "records_out": self.records_out,
                "released_at_end": self.flushed}


class Trace:
    """The stages of one search's plan, their counters, and the rows watched by `--why`."""

    def __init__(self, plan: Plan, collect: tuple[str, ...] = ()):
        self.plan = plan
        self.stages = [Stage(node) for node in plan.nodes]
        for stage in self.stages:  # `spl-lite report`: the records these commands give, for its charts
            if stage.node.command in collect:
                stage.collected = []
        self.watch: set[int] = set()  # row ids of the events `--why` selected, in the batch being pushed
        self.paths: dict[int, list] = {}  # row id -> [(stage, "passed"/"dropped"/"held", record)]
        self._last: dict[int, dict] = {}  # row id -> its record as the stage before gave it

    def wrap(self, operators: list[Operator]) -> list[Operator]:
        return [Traced(op, stage, self) for op, stage in zip(operators, self.stages)]

    def observe(self, stage: Stage, inputs: list[Batch], output: Batch) -> None:
        came = set()
        for batch in inputs:
            came.update(int(r) for r in batch.row_ids if int(r) in self.watch)
        if not came and stage.node.inputs:
            return
        out_rows = {int(r): i for i, r in enumerate(output.row_ids) if int(r) in self.watch}
        if not stage.node.inputs:
            came = set(out_rows)
        for row in sorted(came):
            path = self.paths.setdefault(row, [])
            if row in out_rows:
                record = next(output.filter(np.array([out_rows[row]])).records())
                path.append((stage, "passed", record))
                self._last[row] = record
            else:
                status = ("written" if stage.node.command == "into" else "held" if stage.node.holds_records
                          else "dropped")
                path.append((stage, status, self._last.get(row, {})))

    def to_json(self) -> dict:
        return {"stages": [stage.to_json() for stage in self.stages]}

    def funnel(self, title: str) -> str:
        width = max(len(s.label) for s in self.stages)
        lines = [f"trace: {title}", f"  {'#':>3}  {'stage':<{width}}  {'in':>10}  {'out':>10}"]
        for stage in self.stages:
            shown_in = f"{stage.records_in:,}"
            extra = f"  ({stage.flushed:,} at end of input)" if stage.flushed else ""
            shown_out = f"{stage.records_out:,}"
            if stage.node.command == "into":  # a sink hands its records to the output, it passes none on
                shown_out, extra = "", "  (to the sink)"
            lines.append(f"  {stage.node.id:>3}  {stage.label:<{width}}  {shown_in:>10}  {shown_out:>10}{extra}")
        return "\n".join(lines)


def gaussian_numbers(value, mean, variance, threshold: float) -> dict:
    """z and the two-sided tail test adaptive_threshold's gaussian algorithm applied (streaming_ml.py)."""
    if value is None or mean is None or variance is None:
        return {}
    sd = math.sqrt(variance)
    diff = float(value) - mean
    z = (math.inf if diff > 0 else -math.inf if diff < 0 else math.nan) if sd == 0.0 else diff / sd
    p = 0.5 * math.erfc(-z / math.sqrt(2))
    return {"sd": sd, "z": z, "p": p, "threshold": threshold, "upper": 1.0 - threshold}


def explain_stage(stage: Stage, status: str, record: dict, previous: dict) -> list[str]:
    """Lines saying what one stage did with the watched record."""
    node = stage.node
    head = f"  #{node.id} {stage.label}: "
    if status == "dropped":
        lines = [head + "DROPPED here"]
        reads = node.reads()
        names = sorted(reads) if reads is not None else []
        if names:
            lines.append("      it read: " + ", ".join(f"{n}={_show(previous.get(n))}" for n in names))
        return lines
    if status == "written":
        return [head + "written"]
    if status == "held":
        return [head + "taken into an aggregate (stats); not followed further"]
    lines = [head + "passed"]
    writes = [n for n in record if n in node.writes()] if node.command not in ("from", "select", "fields") else []
    if writes:
        lines.append("      set: " + ", ".join(f"{n}={_show(record.get(n))}" for n in writes))
    if node.command == "conditional_anomaly":
        lines.append(f"      output is the lift P({node.target} | {node.conditional}) / P({node.target}) = "
                     f"n(pair)*N / (n({node.conditional})*n({node.target})), counted over the records so far "
                     "including this one")
    if node.command == "adaptive_threshold":
        threshold = node.threshold if node.threshold is not None and node.threshold == node.threshold else (
            0.01 if node.algorithm == "gaussian" else 0.1)
        value = record.get(node.value)
        if node.algorithm == "gaussian":
            numbers = gaussian_numbers(value, record.get("mean"), record.get("variance"), threshold)
            if numbers:
                lines.append(f"      {node.value}={_show(value)}: z=({_show(value)} - mean)/sqrt(variance) = {_show(numbers['z'])}, "
                             f"p = Phi(z) = {_show(numbers['p'])}; label = p < {threshold:g} or p > {numbers['upper']:g} "
                             f"-> {record.get('label')}")
            else:
                lines.append(f"      {node.value}={_show(value)}: no history for this entity yet (or no value), label false")
        else:
            lines.append(f"      {node.value}={_show(value)}: quantile={_show(record.get('quantile'))}; label = quantile < "
                         f"{threshold:g} or > {1 - threshold:g} -> {record.get('label')}")
    return lines


def _show(value) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value if len(value) <= 80 else value[:77] + "..."
    return str(value) if value is not None else "null"
