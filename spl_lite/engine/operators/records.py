"""Operators of the stateless commands: from, into, eval, where, select, fields, rename, rex, union."""
from __future__ import annotations

import numpy as np

from ...core.batch import Batch, object_column
from ...core.regex import RegexTimeout, compile_java, search
from ...plan.commands.eval import Eval
from ...plan.commands.fields import Fields
from ...plan.commands.rename import Rename
from ...plan.commands.rex import Rex
from ...plan.commands.select import Select
from ...plan.commands.sink import Sink
from ...plan.commands.source import Source
from ...plan.commands.union import Union
from ...plan.commands.where import Where
from ..expressions import compile_expression, compile_predicate, current_record_errors, keep_mask
from ..operator import Operator
from . import builds


@builds(Source)
class PassThrough(Operator):
    def __init__(self, node: Source, context):
        pass

    def process(self, batch: Batch) -> Batch:
        return batch


@builds(Sink)
class Emit(Operator):
    def __init__(self, node: Sink, context):
        self.name, self.context = node.name, context

    def process(self, batch: Batch) -> Batch:
        if batch.length:
            self.context.emit(self.name, batch)
        return Batch.empty()


@builds(Eval)
class EvalOperator(Operator):
    def __init__(self, node: Eval, context):
        self.steps = [(name, compile_expression(expr)) for name, expr in node.assignments]

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        columns = dict(batch.columns)
        current = Batch(columns, batch.row_ids, dict(batch.absent))
        for name, evaluate in self.steps:
            columns[name] = evaluate(current)  # `current` shares `columns`: later steps see this one
            current.absent.pop(name, None)  # an assigned field exists in every record
        return current


@builds(Where)
class WhereOperator(Operator):
    def __init__(self, node: Where, context):
        self.predicate = compile_predicate(node.predicate)
        self.errors = current_record_errors()

    def keep(self, batch: Batch) -> np.ndarray:
        """The rows whose predicate is exactly true."""
        return keep_mask(self.predicate(batch), self.errors)

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        keep = self.keep(batch)
        return batch if keep.all() else batch.filter(keep)


@builds(Select)
class SelectOperator(Operator):
    def __init__(self, node: Select, context):
        self.items = [(name, compile_expression(expr)) for name, expr in node.items]

    def process(self, batch: Batch) -> Batch:
        return Batch({name: evaluate(batch) for name, evaluate in self.items}, batch.row_ids)


@builds(Fields)
def fields_operator(node: Fields, context) -> Operator:
    return DropFields(node) if node.drop else KeepFields(node)


class KeepFields(Operator):
    def __init__(self, node: Fields):
        self.items = [(f.name, compile_expression(f)) for f in node.names]

    def process(self, batch: Batch) -> Batch:
        return Batch({name: evaluate(batch) for name, evaluate in self.items}, batch.row_ids)


class DropFields(Operator):
    def __init__(self, node: Fields):
        self.names = {f.name for f in node.names}

    def process(self, batch: Batch) -> Batch:
        names = self.names
        columns = {k: v for k, v in batch.columns.items() if k not in names}
        return Batch(columns, batch.row_ids, {k: m for k, m in batch.absent.items() if k not in names})


@builds(Rename)
class RenameOperator(Operator):
    def __init__(self, node: Rename, context):
        self.pairs = node.pairs

    def process(self, batch: Batch) -> Batch:
        for old, new in self.pairs:
            if old in batch.columns and old != new:
                batch = _rename(batch, old, new)
        return batch


def _rename(batch: Batch, old: str, new: str) -> Batch:
    """Per record: where `old` exists its value moves to `new` (replacing it); where it does not,
    the record is left as it is (spec 5.5), keeping any `new` it had."""
    value = batch.columns[old]
    old_absent = batch.absent.get(old)
    absent = {k: m for k, m in batch.absent.items() if k not in (old, new)}
    if old_absent is not None and old_absent.any():
        kept = batch.columns.get(new)
        if kept is not None:
            value = np.where(old_absent, kept, value)
        new_absent = batch.absent.get(new, np.zeros(batch.length, bool)) if kept is not None else None
        absent[new] = old_absent & (new_absent if new_absent is not None else True)
    columns = {(new if name == old else name): column for name, column in batch.columns.items() if name != new}
    columns[new] = value
    return Batch(columns, batch.row_ids, absent)


@builds(Rex)
class RexOperator(Operator):
    def __init__(self, node: Rex, context):
        self.node = node
        self.regex = compile_java(node.pattern, node.flags)
        self.errors = current_record_errors()

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        matches = [self._search(v) if type(v) is str else None for v in batch.column(self.node.field)]
        columns = dict(batch.columns)
        for group in self.node.groups:
            columns[group] = object_column([m.group(group) if m else None for m in matches])
        return batch.with_columns(columns)

    def _search(self, text: str):
        """The first match, or None (no extraction) when the match runs out of time, counted."""
        try:
            return search(self.regex, text)
        except RegexTimeout as timeout:
            self.errors.record(timeout)
            return None


@builds(Union)
class UnionOperator(Operator):
    def __init__(self, node: Union, context):
        pass

    def process_inputs(self, batches: list[Batch]) -> Batch:
        present = [(i, b) for i, b in enumerate(batches) if b.length]
        if len(present) <= 1:
            return present[0][1] if present else Batch.empty()
        merged = Batch.concat([b for _, b in present])
        branch = np.concatenate([np.full(b.length, i) for i, b in present])
        order = np.lexsort((branch, merged.row_ids))
        return merged.filter(order)
