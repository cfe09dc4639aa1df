"""The triage options of `spl-lite run` (docs/triage.md): --time-format, --trace, --why, --provenance.

Everything here is set up only when one of them is given; a run without them builds none of it.
`Lineage` follows each batch from the reader to the searches: which input line (file, line
number, raw record id) each record of the batch came from, by its row id.
"""
from __future__ import annotations

import sys

import orjson

from ..core.batch import Batch, object_column
from ..engine.trace import Trace, explain_stage
from ..io import windows
from ..io.formats import RAW, InputConverter
from ..io.timeformat import iso_emit
from ..plan.commands.stats import Stats


class Selector:
    """`line:N` or `FIELD=VALUE` of --why."""

    def __init__(self, text: str):
        self.text = text
        self.line = self.field = self.value = None
        if text.startswith("line:") and text[5:].strip().isdigit():
            self.line = int(text[5:])
        elif "=" in text and text.split("=", 1)[0].strip():
            field, value = text.split("=", 1)
            self.field, self.value = field.strip(), value
        else:
            raise ValueError(f"--why {text!r}: give `line:N` or `FIELD=VALUE`")

    def matches(self, event: dict, line: int | None) -> bool:
        if self.line is not None:
            return line == self.line
        for where in (event, event.get("input_event")):
            if where.__class__ is dict and self.field in where and _text(where[self.field]) == self.value:
                return True
        return False


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()


class Triage:
    """What the triage options of one run need, and what they print at the end."""

    def __init__(self, args, names: list[str], plans, stream=None):
        self.args, self.names, self.stream = args, names, stream or sys.stderr
        self.selectors = [Selector(text) for text in (getattr(args, "why", None) or ())]
        self.provenance = bool(getattr(args, "provenance", False))
        self.raw_fields = bool(getattr(args, "raw_fields", False))
        self.tracing = bool(getattr(args, "trace", False) or getattr(args, "trace_json", None) or self.selectors)
        self.iso = getattr(args, "time_format", "epoch") == "iso"
        collect = tuple(getattr(args, "collect", ()) or ())
        self.tracing = self.tracing or bool(collect)
        self.traces = [Trace(plan, collect) for plan in plans] if self.tracing else [None] * len(plans)
        # Searches whose records are aggregates (a stats node): no one input line to point to.
        self.aggregating = [any(isinstance(node, Stats) for node in plan.nodes) for plan in plans]
        self.matched: list[tuple[int, str, int | None, dict, str]] = []  # row id, file, line, event, selector
        self._rows: dict[int, dict] = {}  # row id -> provenance, of the batch being pushed

    @staticmethod
    def wanted(args) -> bool:
        return bool(getattr(args, "trace", False) or getattr(args, "trace_json", None) or getattr(args, "why", None)
                    or getattr(args, "collect", None)
                    or getattr(args, "provenance", False) or getattr(args, "raw_fields", False) or getattr(args, "time_format", "epoch") != "epoch")

    @property
    def needs_lineage(self) -> bool:
        return self.provenance or bool(self.selectors) or self.raw_fields

    def one_process_reason(self) -> str | None:
        """Lineage follows whole events read in one process (workers decode elsewhere)."""
        if self.needs_lineage:
            return "--provenance" if self.provenance else "--why" if self.selectors else "--raw-fields"
        if self.tracing:
            return "--trace"
        return None

    def emit(self, index: int, emit):
        if self.iso:
            emit = iso_emit(emit)
        if self.provenance and not self.aggregating[index]:
            inner = emit

            def emit(sink: str, batch: Batch) -> None:
                inner(sink, self._with_provenance(batch))
        return emit

    def _with_provenance(self, batch: Batch) -> Batch:
        rows = self._rows
        return batch.with_column("provenance", object_column([rows.get(int(r)) for r in batch.row_ids]))

    def before_push(self, events, converted, first_row_id: int, reader, input_format: str) -> None:
        """Called with each batch before it goes through the searches (one process, whole events)."""
        self._rows = {}
        if events.__class__ is not list:  # not reached: lineage reads whole events (run.py)
            return
        lines = reader.batch_lines
        name, numbers = lines if lines is not None and len(lines[1]) == len(events) else (None, None)
        kept = self._kept(events, converted, input_format)
        items = getattr(converted, "_items", None)
        mixed = getattr(converted, "_mixed", False)
        if self.raw_fields and mixed:
            ssa = converted.shape("ssa")  # built now, kept by `converted` for the searches that read it
            for position, (kind, found) in enumerate(items):
                if kind == RAW:
                    ssa[position]["raw"] = windows.raw_fields(found)
        for position, index in enumerate(kept):
            row = first_row_id + position
            line = numbers[index] if numbers is not None else None
            if self.provenance:
                where = {"file": name, "line": line}
                if mixed and items[position][0] == RAW:
                    found = items[position][1]
                    where["record_id"] = found.get("record_id")
                    where["computer"] = found.get("computer")
                self._rows[row] = where
            for selector in self.selectors:
                if selector.matches(events[index], line):
                    self.matched.append((row, name, line, events[index], selector.text))
        if self.selectors:
            watch = {row for row, *_ in self.matched if row >= first_row_id}
            for trace in self.traces:
                trace.watch = watch

    @staticmethod
    def _kept(events: list, converted, input_format: str) -> list[int]:
        """The index in `events` of each record the converter kept (it skips raw records that
        are no process creation)."""
        if converted.length == len(events):
            return list(range(len(events)))
        alone = InputConverter(input_format)  # its counts are thrown away
        return [i for i, event in enumerate(events) if alone.convert([event]).length]

    def report(self, executions) -> None:
        """The funnels, the --why explanations and the JSON trace, at the end of the run."""
        if self.provenance and any(self.aggregating):
            names = ", ".join(n for n, a in zip(self.names, self.aggregating) if a)
            print(f"spl-lite: --provenance: no provenance on the records of {names} (aggregated by stats)",
                  file=self.stream)
        if not self.tracing:
            return
        several = len(self.names) > 1
        counts = [{"records_out": e.records_out, "records_to_write_null": e.records_discarded,
                   "late_records_dropped": e.late_records()} for e in executions]
        if getattr(self.args, "trace", False) or getattr(self.args, "trace_json", None):
            for name, trace, count in zip(self.names, self.traces, counts):
                print(trace.funnel(name), file=self.stream)
                print(f"  {count['records_out']:,} records out, {count['late_records_dropped']:,} late records dropped"
                      + (f", {count['records_to_write_null']:,} to write_null" if count["records_to_write_null"] else ""),
                      file=self.stream)
        for row, file, line, event, selector in self.matched:
            where = f"{file}:{line}" if line is not None else f"record {row + 1}"
            print(f"why {selector}: {where}", file=self.stream)
            for name, trace in zip(self.names, self.traces):
                if several:
                    print(f" search {name}:", file=self.stream)
                for text in self.why_lines(trace, row):
                    print(text, file=self.stream)
        for selector in self.selectors:
            if not any(s == selector.text for *_, s in self.matched):
                print(f"why {selector.text}: no input event matched", file=self.stream)
        if getattr(self.args, "trace_json", None):
            document = {"searches": [{"name": n, **c, **t.to_json()} for n, t, c in zip(self.names, self.traces, counts)],
                        "why": [{"selector": s, "file": f, "line": l, "row": r,
                                 "searches": {n: self.why_json(t, r) for n, t in zip(self.names, self.traces)}}
                                for r, f, l, _, s in self.matched]}
            with open(self.args.trace_json, "wb") as handle:
                handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str) + b"\n")

    @staticmethod
    def why_lines(trace: Trace, row: int) -> list[str]:
        path = trace.paths.get(row)
        if not path:
            return ["  (not read by this search's source)"]
        lines, previous = [], {}
        for stage, status, record in path:
            lines += explain_stage(stage, status, record, previous)
            previous = record
        last_stage, last_status, _ = path[-1]
        verdict = {"written": "written to the output (a detection)", "dropped": f"dropped by #{last_stage.node.id}",
                   "held": f"aggregated by #{last_stage.node.id}"}.get(last_status, f"reached #{last_stage.node.id}")
        lines.append(f"  => {verdict}")
        return lines

    @staticmethod
    def why_json(trace: Trace, row: int) -> list[dict]:
        return [{"node": stage.node.id, "command": stage.node.command, "status": status,
                 "record": record if status == "passed" else None} for stage, status, record in trace.paths.get(row, [])]
