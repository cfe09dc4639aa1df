"""Lowering of a logical plan to a Flink SQL script, and running it on a local PyFlink mini-cluster.

The plan is walked node by node (never the text); each node becomes a temporary view. The script
is built by careful construction rather than with sqlglot: sqlglot has no Flink dialect, and the
constructs used here (PROCTIME(), OVER windows on a time attribute, `ARRAY[...]`, named ROW casts,
the connector DDL) would each need a dialect override, so a few quoting helpers (`_ident`,
`_string`) are the whole of the printing.

Values: the keys a plan reads of `input_event` are declared with one kind each (the schema:
`--input-schema`, or for `run` read from the input file), so every value has a static kind at
compile time, as in the DuckDB lowering:

    null, bool (BOOLEAN), int (BIGINT), double (DOUBLE), string (STRING), ("list", kind) (ARRAY;
    ("list", kind, n) for a list literal of n items), ("items", (kind, ...)) (a list literal whose
    items are of different kinds: a ROW of its positions), ("map", ((key, kind), ...)) (a named ROW:
    create_map with literal keys; the empty map `{}`, which a ROW cannot be, is a BOOLEAN that is
    TRUE when it is not null), "event" (the JSON text of a source field, only written)

The source is Flink's JSON format with a typed column per key read, or, for a plan that writes the
event or reads `_datamodels`, one STRING per line (the `raw` format) with JSON_VALUE per key read,
so that the event is written as it came. The sink writes one line a record, built in SQL
(`json_text`): Flink's JSON format and JSON functions sort the keys of objects. `=` is null-safe (IS NOT DISTINCT FROM),
AND/OR/NOT are SQL's (Kleene's) logic, `where` keeps rows whose predicate IS TRUE, integer `/` and
`%` are Java's and null on 0. Flink's REGEXP functions are Java's own regex, so patterns pass as
they are.

Arrival order: Flink's OVER windows must be ordered by a time attribute, ascending. The source
declares a processing-time attribute; a non-partitioned running COUNT(*) over it numbers the
records (`__ord`), and every order-sensitive command is a running aggregate over the same
attribute. Processing time is arrival order only where one task sees the records in file order,
so the script runs at parallelism 1 (`SET 'parallelism.default' = '1'`) when the plan holds an
order-sensitive command; a plan of stateless commands may run wider. The sink writes `__ord` with
each record, and `run` writes records in that order.
"""
from __future__ import annotations

import collections
import glob
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from ..core.errors import BAD_INPUT, NOT_LOWERED, SplError
from ..core.regex import compile_java
from ..plan.logical import Node, Plan
from ..syntax import ast
from .lowering import ExpressionLowering, function_support, not_lowered

ENGINE = "Flink"
EVENT_SOURCES = ("read_ssa_enriched_events", "read_ba_enriched_events", "enriched_source")
# The kinds a key of the event may be declared with, by their `--input-schema` names.
SCHEMA_KINDS = {"string": "string", "long": "int", "double": "double", "boolean": "bool"}
_SQL_TYPES = {"string": "STRING", "int": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN", "null": "STRING",
              "event": "STRING"}  # "event": the JSON text of a source field, written as it is
_RUNNING = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
_ROWTIME = "`rt`"  # the source's event time when windows close at the end of the input (Compiler.rowtime_at_end)
# The source's fields and the columns that hold them (the event's text when it is written).
EVENT_COLUMNS = {"input_event": "__input_event", "_datamodels": "__datamodels", "body": "__body"}
_INPUT_PATH = "{input}"
_OUTPUT_PATH = "{output}"

Kind = Any


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


EMPTY_MAP: Kind = ("map", ())
EMPTY_MAP_SQL = "TRUE"  # the empty map's one value: a ROW has at least one field


def _item(position: int) -> str:
    """The ROW field holding item `position` of an "items" list."""
    return _ident(f"i{position}")


def sql_type(kind: Kind) -> str:
    if kind == EMPTY_MAP:
        return "BOOLEAN"
    if isinstance(kind, tuple) and kind[0] == "list":
        return f"ARRAY<{sql_type(kind[1])}>"
    if isinstance(kind, tuple) and kind[0] == "items":
        return "ROW<" + ", ".join(f"{_item(i)} {sql_type(k)}" for i, k in enumerate(kind[1])) + ">"
    if isinstance(kind, tuple) and kind[0] == "map":
        return "ROW<" + ", ".join(f"{_ident(k)} {sql_type(v)}" for k, v in kind[1]) + ">"
    return _SQL_TYPES[kind]


def _null(kind: Kind) -> str:
    return f"CAST(NULL AS {sql_type(kind)})"


def _kind_name(kind: Kind) -> str:
    return kind[0] if isinstance(kind, tuple) else kind


@dataclass(frozen=True)
class V:
    """A lowered expression and its kind."""

    sql: str
    kind: Kind


@dataclass
class Rel:
    """A node's output: its view and its fields in order as (field, column, kind)."""

    view: str
    columns: list[tuple[str, str, Kind]]

    def lookup(self, name: str) -> tuple[str, Kind] | None:
        for field_name, column, kind in self.columns:
            if field_name == name:
                return column, kind
        return None


def _set(columns, name, column, kind):
    """Field `name` set to `column`: in its place if present, else appended (eval's rule)."""
    if any(c[0] == name for c in columns):
        return [(f, column, kind) if f == name else (f, c, k) for f, c, k in columns]
    return list(columns) + [(name, column, kind)]


def json_text(sql: str, kind: Kind, span=None) -> str:
    """The JSON text of a value, as the Python engine writes it (keys in their order, non-finite doubles
    as null), built in SQL: Flink's JSON_STRING sorts the keys of a ROW."""
    if kind == "null":
        return "'null'"
    if kind == "event":  # the line or JSON text itself
        return sql
    if kind == "int":
        return f"COALESCE(CAST({sql} AS STRING), 'null')"
    if kind == "bool":
        return f"CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' ELSE 'null' END"
    if kind == "double":
        # + 0.0 turns -0.0 into 0.0 (spec 6.6).
        return (f"CASE WHEN ABS({sql}) <= 1.7976931348623157E308 THEN JSON_STRING({sql} + CAST(0 AS DOUBLE)) "
                "ELSE 'null' END")
    if kind == EMPTY_MAP:
        return f"CASE WHEN {sql} IS NULL THEN 'null' ELSE '{{}}' END"
    if isinstance(kind, tuple) and kind[0] == "items":
        items = " || ',' || ".join(json_text(f"({sql}).{_item(i)}", k, span) for i, k in enumerate(kind[1]))
        return f"CASE WHEN {sql} IS NULL THEN 'null' ELSE '[' || {items} || ']' END"
    if isinstance(kind, tuple) and kind[0] == "map":
        entries = " || ',' || ".join(_string(orjson.dumps(key).decode() + ":") + " || " +
                                     json_text(f"({sql}).{_ident(key)}", value, span) for key, value in kind[1])
        return f"CASE WHEN {sql} IS NULL THEN 'null' ELSE '{{' || {entries} || '}}' END"
    if isinstance(kind, tuple) and kind[0] == "list" and len(kind) == 3:  # a list literal: its length is known
        items = " || ',' || ".join(json_text(f"({sql})[{i}]", kind[1], span) for i in range(1, kind[2] + 1))
        return f"CASE WHEN {sql} IS NULL THEN 'null' ELSE '[' || {items} || ']' END"
    if isinstance(kind, tuple) and kind[0] == "list" and _kind_name(kind[1]) in ("double", "map", "list"):
        raise not_lowered(ENGINE, f"writing a list of {_kind_name(kind[1])}", "Flink's JSON_STRING writes "
                          "non-finite doubles as text and sorts the keys of a ROW", span)
    return f"COALESCE(JSON_STRING({sql}), 'null')"  # strings and lists of strings, integers, booleans


def _common_kind(kinds: list[Kind]) -> Kind | None:
    """The kind all of these values fit: null fits any, and maps with the same keys in the same order
    fit field by field (a field null in one map takes its kind from another). None if there is none."""
    known = [k for k in kinds if k != "null"]
    if not known:
        return "null"
    if all(k == known[0] for k in known):
        return known[0]
    if not all(isinstance(k, tuple) and k[0] == "map" for k in known):
        return None
    keys = [tuple(key for key, _ in k[1]) for k in known]
    if any(k != keys[0] for k in keys):
        return None
    fields = []
    for position, key in enumerate(keys[0]):
        field_kind = _common_kind([k[1][position][1] for k in known])
        if field_kind is None:
            return None
        fields.append((key, field_kind))
    return ("map", tuple(fields))


# ---- the event schema ----
def parse_schema(text: str) -> dict[str, Kind]:
    """`key:type,key:type` (types string, long, double, boolean) -> {key: kind}."""
    schema = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, type_name = part.rpartition(":")
        if not sep or not key or type_name.strip().lower() not in SCHEMA_KINDS:
            raise SplError(BAD_INPUT, f"--input-schema: `{part}` is not key:type (type one of "
                           f"{', '.join(SCHEMA_KINDS)})")
        schema[key.strip()] = SCHEMA_KINDS[type_name.strip().lower()]
    return schema


def infer_schema(path: str, keys: list[str]) -> tuple[dict[str, Kind], bool, bool]:
    """The kind of each key in the events of a JSON-lines file, whether the events are wrapped in an
    `input_event` object (SSA form), and whether every `_datamodels` list holds strings only. A key
    holding values of several kinds, or maps, or lists of anything but strings, cannot be declared."""
    kinds: dict[str, set] = {k: set() for k in keys}
    wrapped: set[bool] = set()
    datamodels_strings = True
    with open(path, "rb") as stream:
        for line in stream:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if type(event) is not dict:
                continue
            inner = event.get("input_event")
            wrapped.add(type(inner) is dict)
            if type(inner) is dict:
                event = inner
            datamodels = event.get("_datamodels")
            if type(datamodels) is list and _value_kind(datamodels) != ("list", "string"):
                datamodels_strings = False
            for key in keys:
                value = event.get(key)
                if value is not None:
                    kinds[key].add(_value_kind(value))
    if len(wrapped) > 1:
        raise SplError(NOT_LOWERED, f"{path} does not lower to Flink: some events are wrapped in `input_event` "
                       "and some are not, and the Flink source declares one shape",
                       hint="run it on the default engine (drop --engine)")
    schema = {}
    for key, found in kinds.items():
        if len(found) > 1 or found & {"list", "map"}:
            shown = ", ".join(sorted(map(_kind_name, found)))
            raise SplError(NOT_LOWERED, f"key `{key}` of the events does not lower to Flink: its values are "
                           f"of kinds {shown}, and a Flink column holds one kind: a scalar or a list of strings",
                           hint="run it on the default engine (drop --engine)")
        schema[key] = found.pop() if found else "string"
    return schema, wrapped == {True}, datamodels_strings


def _value_kind(value: Any) -> str:
    kind = type(value)
    if kind is bool:
        return "bool"
    if kind is int:
        return "int"
    if kind is float:
        return "double"
    if kind is str:
        return "string"
    if kind is list:
        return ("list", "string") if all(type(item) is str for item in value) else "list"
    return "map"


# ---- the script ----
@dataclass
class Script:
    """One plan as a Flink SQL script: the source and sink DDL, the views, the INSERT."""

    source_ddl: str
    kafka_template: str
    functions: list[str]
    views: list[tuple[str, str]]
    sink_ddl: str
    insert: str
    ordered: bool
    # The sink writes a changelog (Debezium JSON: each record's line added or retracted), not lines.
    changelog: bool = False

    def statements(self, input_path: str, output_path: str) -> list[str]:
        """The DDL, the views and the INSERT, with the input file and the output directory filled in."""
        views = [f"CREATE TEMPORARY VIEW {_ident(name)} AS\n{body}" for name, body in self.views]
        return [self.source_ddl.replace(_INPUT_PATH, input_path), self.sink_ddl.replace(_OUTPUT_PATH, output_path),
                *self.functions, *views, self.insert]

    def text(self) -> str:
        """The script for the SQL client (paths as the placeholders {input} and {output})."""
        lines = ["-- spl-lite: a search lowered to Flink SQL. Replace {input} (a JSON-lines file) and",
                 "-- {output} (a directory), then run it with the Flink SQL client (sql-client.sh -f).", ""]
        if _OUTPUT_PATH not in self.sink_ddl:
            lines[0:2] = ["-- spl-lite: a search lowered to Flink SQL. Replace {input} (a JSON-lines file), then run",
                          "-- it with the Flink SQL client (sql-client.sh -f). It writes to write_null: records are "
                          "discarded."]
        if self.ordered:
            lines += ["-- Order-sensitive commands order by processing time: arrival order at parallelism 1.",
                      "SET 'parallelism.default' = '1';", ""]
        source, *rest = self.statements(_INPUT_PATH, _OUTPUT_PATH)
        lines += [source + ";", "", self.kafka_template, ""]
        lines += [statement + ";\n" for statement in rest]
        return "\n".join(lines)


@dataclass
class Compiler:
    plan: Plan
    schema: dict[str, Kind]
    wrapped: bool = False
    views: list[tuple[str, str]] = field(default_factory=list)
    rels: dict[int, Rel] = field(default_factory=dict)
    # The keys of input_event the plan reads: {key: kind}, the source's columns.
    key_kinds: dict[str, Kind] = field(default_factory=dict)
    counter: int = 0
    functions: list[str] = field(default_factory=list)
    # The source's key columns as (column, key), and where its numbered view is in `views`.
    key_columns: list[tuple[str, str]] = field(default_factory=list)
    numbered_view: int = 0
    # Whether the events' `_datamodels` are lists of strings (an ARRAY<STRING>), else JSON text only written.
    datamodels_strings: bool = True
    # Whether the source reads each line whole (a search writing the event or reading `_datamodels`) or
    # as typed JSON columns.
    whole_lines: bool = False
    reads_datamodels: bool = False
    # Whether the records are a GROUP BY's updates (stats), which the sink writes as a changelog.
    changelog: bool = False
    # The columns whose values a Python function computes (directly or from such a column).
    python_columns: set[str] = field(default_factory=set)
    # Whether the source declares `rt`, one event time for every record whose watermark passes it only at the
    # end of the input: tumbling stats windows then close there, in one sorted batch an order-sensitive
    # command after them can read (see node_stats).
    rowtime_at_end: bool = False

    def python_function(self, name: str) -> str:
        """The SQL name of one of flink_functions' Python functions, declared in the script."""
        if name not in self.functions:
            self.functions.append(name)
        return f"spl_{name}"

    @staticmethod
    def fail(what: str, reason: str, span) -> SplError:
        return not_lowered(ENGINE, what, reason, span)

    def uses_python(self, sql: str) -> bool:
        """Whether `sql` calls a Python function or reads a column one computes (the planner merges
        the views' projections, so a column stands for its expression)."""
        return any(f"spl_{name}(" in sql for name in self.functions) or \
            any(_ident(column) in sql for column in self.python_columns)

    def new_column(self) -> str:
        self.counter += 1
        return f"c{self.counter}"

    def new_view(self, hint: str, select: str) -> str:
        name = f"n{len(self.views)}_{hint}"
        self.views.append((name, select))
        return name

    def project(self, rel: Rel, extra=(), columns=None, where: str | None = None, hint: str = "",
                extra_first: bool = False) -> str:
        """SELECT the order keys, the given columns (default rel's) and extra (column, sql) FROM rel."""
        cols = rel.columns if columns is None else columns
        names = ["`__ord`", "`pt`"]
        seen = {c for c, _ in extra}
        for _, column, _ in cols:
            if column not in seen and not column.startswith("\0"):
                names.append(_ident(column))
                seen.add(column)
        self.python_columns.update(column for column, sql in extra if self.uses_python(sql))
        computed = [f"{sql} AS {_ident(column)}" for column, sql in extra]
        names = computed + names if extra_first else names + computed
        select = "SELECT " + ", ".join(names) + f"\nFROM {_ident(rel.view)}"
        if where is not None:
            select += f"\nWHERE {where}"
        return self.new_view(hint, select)

    # ---- the walk ----
    def compile(self) -> Script:
        from ..io.sinks import SINKS

        sinks = [n for n in self.plan.nodes if n.command == "into"]
        writing = [n for n in sinks if SINKS[n.name].writes]
        if len(writing) > 1:
            raise self.fail("a search with several writing `into`", "the job writes one stream of records; "
                            "run each statement as its own search", writing[1].span)
        if not sinks:
            raise self.fail("a search without `into`", "a Flink job needs a sink", None)
        # Without a writing sink (write_null), the records reaching the last `into` are computed and
        # discarded by Flink's blackhole connector, as the Python engine counts and drops them.
        sink = writing[0] if writing else sinks[-1]
        for node in self.plan.nodes:
            if node.id > sink.id:
                break
            handler = getattr(self, "node_" + node.command, None)
            if handler is None:
                raise self.fail(f"command `{node.command}`", "no lowering", node.span)
            if node.command != "into":
                self.rels[node.id] = handler(node)
        rel = self.rels[sink.inputs[0]]
        shown = [(f, c, k) for f, c, k in rel.columns if not f.startswith("\0")]
        self.whole_lines = self.reads_datamodels or any(c in EVENT_COLUMNS.values() for _, c, _ in shown)
        if self.wrapped and any(c == EVENT_COLUMNS["input_event"] for _, c, _ in shown):
            name = next(f for f, c, _ in shown if c == EVENT_COLUMNS["input_event"])
            raise self.fail(f"writing the source's field `{name}` of events wrapped in `input_event`",
                            "Flink's JSON functions rewrite an object with its keys sorted, so only an unwrapped "
                            "event line is written as it is", sink.span)
        self.views[self.numbered_view] = (self.views[self.numbered_view][0], self.numbered_select())
        # The sink writes each record as one line built here, not by Flink's JSON format: Flink's JSON
        # functions sort the keys of objects, where the Python engine keeps a map's and an event's order.
        sink_format = "debezium-json" if self.changelog else "raw"
        connector = (f"'connector' = 'filesystem',\n  'path' = '{_OUTPUT_PATH}',\n  'format' = '{sink_format}'"
                     if writing else "'connector' = 'blackhole'")
        sink_ddl = f"CREATE TEMPORARY TABLE `spl_output` (\n  `line` STRING\n) WITH (\n  {connector}\n)"
        order = [_ident(c) for f, c, _ in reversed(rel.columns) if f.startswith("\0order")]
        key = " || ',' || ".join(f"CAST({c} AS STRING)" for c in ["`__ord`", *order])
        pieces = [_string('{"__ord":') + (f" || '[' || {key} || ']'" if order else f" || {key}")]
        pieces += [_string("," + orjson.dumps(f).decode() + ":") + " || " + json_text(_ident(c), k, sink.span)
                   for f, c, k in shown]
        insert = ("INSERT INTO `spl_output`\nSELECT " + "\n  || ".join(pieces) + " || '}'" +
                  f"\nFROM {_ident(rel.view)}")
        ordered = any(n.order_sensitive for n in self.plan.nodes)
        functions = [f"CREATE TEMPORARY SYSTEM FUNCTION spl_{name} AS 'spl_lite.engine.flink_functions.{name}' "
                     "LANGUAGE PYTHON" for name in self.functions]
        return Script(self.source_ddl(), self.kafka_template(), functions, self.views, sink_ddl, insert, ordered,
                      self.changelog)

    def _key_path(self, event: str, key: str) -> str:
        if "'" in key or "\\" in key:
            raise self.fail(f"reading the event key `{key}` of a whole line", "no JSON path names it", None)
        return _string(f"{event}['{key}']")

    def numbered_select(self) -> str:
        """The source's records numbered in arrival order, with the keys read and, for a search that
        writes the event or reads `_datamodels`, the line read whole."""
        extra = []
        event = "$['input_event']" if self.wrapped else "$"
        for column, key in self.key_columns:
            kind = self.key_kinds[key]
            if self.whole_lines:
                path = self._key_path(event, key)
                text = f"JSON_VALUE(`line`, {path})"
                read = {"string": text, "bool": f"JSON_VALUE(`line`, {path} RETURNING BOOLEAN)",
                        ("list", "string"): f"JSON_QUERY(`line`, {path} RETURNING ARRAY<STRING> NULL ON EMPTY "
                                            "NULL ON ERROR)"}.get(kind, f"CAST({text} AS {sql_type(kind)})")
            else:
                read = f"`input_event`.{_ident(key)}" if self.wrapped else _ident(key)
            extra.append(f"{read} AS {_ident(column)}")
        if self.whole_lines:
            datamodels = f"{event}['_datamodels']"
            if self.datamodels_strings:  # spec 7.1: a list, else []
                datamodels = (f"JSON_QUERY(`line`, {_string(datamodels)} RETURNING ARRAY<STRING> EMPTY ARRAY ON EMPTY "
                              "EMPTY ARRAY ON ERROR)")
            else:
                datamodels = f"JSON_QUERY(`line`, {_string(datamodels)})"
                datamodels = f"CASE WHEN {datamodels} IS JSON ARRAY THEN {datamodels} ELSE '[]' END"
            # Wrapped, the event would come out of JSON_QUERY with its keys sorted: compile() refuses to write it.
            extra += [f"{'CAST(NULL AS STRING)' if self.wrapped else '`line`'} AS `__input_event`",
                      f"{datamodels} AS `__datamodels`"]
        else:  # neither written nor read (else the lines are read whole): only the views' column lists name them
            extra += [f"{_null(kind)} AS {_ident(column)}" for column, kind in self.event_columns()[:2]]
        extra.append(f"{EMPTY_MAP_SQL} AS `__body`")  # spec 7.1: the source's body is an empty map
        where = "\nWHERE `line` IS JSON OBJECT" if self.whole_lines else ""
        if self.rowtime_at_end:
            extra.append(_ROWTIME)
        return (f"SELECT COUNT(*) OVER (ORDER BY `pt` {_RUNNING}) AS `__ord`, `pt`" +
                "".join(", " + e for e in extra) + "\nFROM `spl_events`" + where)

    def event_columns(self) -> list[tuple[str, Kind]]:
        """The columns of the source's fields input_event, _datamodels and body, with their kinds."""
        datamodels = ("list", "string") if self.datamodels_strings else "event"
        return [(EVENT_COLUMNS["input_event"], "event"), (EVENT_COLUMNS["_datamodels"], datamodels),
                (EVENT_COLUMNS["body"], EMPTY_MAP)]

    def _event_columns(self) -> list[str]:
        if self.whole_lines:
            return ["`line` STRING"]
        fields = [f"{_ident(k)} {sql_type(kind)}" for k, kind in self.key_kinds.items()]
        if self.wrapped:
            return ["`input_event` ROW<" + ", ".join(fields) + ">"] if fields else []
        return fields

    def _format(self) -> str:
        if self.whole_lines:  # one STRING a line: the event written as it came
            return "  'format' = 'raw'"
        return "  'format' = 'json',\n  'json.fail-on-missing-field' = 'false',\n  'json.ignore-parse-errors' = 'true'"

    def source_ddl(self) -> str:
        columns = self._event_columns() + ["`pt` AS PROCTIME()"]
        if self.rowtime_at_end:
            columns += [f"{_ROWTIME} AS TO_TIMESTAMP_LTZ(0, 3)", f"WATERMARK FOR {_ROWTIME} AS {_ROWTIME} - INTERVAL "
                        "'0.001' SECOND"]
        return ("CREATE TEMPORARY TABLE `spl_events` (\n  " + ",\n  ".join(columns) +
                f"\n) WITH (\n  'connector' = 'filesystem',\n  'path' = '{_INPUT_PATH}',\n{self._format()}\n)")

    def kafka_template(self) -> str:
        columns = self._event_columns() + [
            "`offset` BIGINT METADATA VIRTUAL",
            "`event_time` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'",
            "`pt` AS PROCTIME()",
            "WATERMARK FOR `event_time` AS `event_time` - INTERVAL '5' SECOND",
        ]
        lines = ["The same source read from Kafka (one partition keeps arrival order):",
                 "CREATE TEMPORARY TABLE `spl_events` ("]
        if self.rowtime_at_end:
            lines[0:0] = ["Not for this search: its windows close when the input ends (`rt`), which a topic never does."]
        lines += [f"  {c}," for c in columns[:-1]] + [f"  {columns[-1]}", ") WITH ("]
        lines += ["  'connector' = 'kafka',", "  'topic' = 'events',",
                  "  'properties.bootstrap.servers' = 'localhost:9092',",
                  "  'scan.startup.mode' = 'earliest-offset',"]
        lines += (["  'format' = 'raw'"] if self.whole_lines else
                  ["  'format' = 'json',", "  'json.ignore-parse-errors' = 'true'"]) + [");"]
        return "\n".join("-- " + line for line in lines)

    # ---- commands ----
    def _input(self, node: Node) -> Rel:
        return self.rels[node.inputs[0]]

    def node_from(self, node: Node) -> Rel:
        if node.name not in EVENT_SOURCES:
            why = ("the event's own fields are not known when the script is written" if node.name == "source"
                   else "no lowering")
            raise self.fail(f"source `{node.name}`", why, node.span)
        columns = []
        for i, key in enumerate(event_keys(self.plan)):
            self.key_kinds[key] = self.schema.get(key, "string")
            self.key_columns.append((f"k{i}", key))
            columns.append((f"\0key {key}", f"k{i}", self.key_kinds[key]))
        stats = [n.id for n in self.plan.nodes if n.command == "stats"]
        self.rowtime_at_end = bool(stats) and any(n.order_sensitive and n.command not in ("stats", "union") and
                                                  n.id > min(stats) for n in self.plan.nodes)
        if self.rowtime_at_end:
            columns.append(("\0rowtime", _ROWTIME.strip("`"), "int"))
        # Filled in by compile(): whether the event lines are read whole depends on what the search writes.
        self.numbered_view = len(self.views)
        whole = [(name, column, kind) for name, (column, kind) in zip(EVENT_COLUMNS, self.event_columns())]
        return Rel(self.new_view("numbered", ""), whole + columns)

    def node_into(self, node: Node) -> None:
        return None

    def node_eval(self, node: Node) -> Rel:
        rel = self._input(node)
        for name, expression in node.assignments:
            value = Expressions(self, rel).lower(expression)
            column = self.new_column()
            columns = _set(rel.columns, name, column, value.kind)
            rel = Rel(self.project(rel, [(column, value.sql)], columns, hint="eval"), columns)
        return rel

    def node_where(self, node: Node) -> Rel:
        rel = self._input(node)
        predicate = Expressions(self, rel).truth(node.predicate)
        return Rel(self.project(rel, where=f"({predicate.sql}) IS TRUE", hint="where"), rel.columns)

    def node_select(self, node: Node) -> Rel:
        rel = self._input(node)
        lowering = Expressions(self, rel)
        columns, extra = [], []
        for name, expression in node.items:
            value = lowering.lower(expression)
            column = self.new_column()
            extra.append((column, value.sql))
            columns = [c for c in columns if c[0] != name] + [(name, column, value.kind)]
        return Rel(self.project(rel, extra, self._hidden(rel) + columns, hint="select"), self._hidden(rel) + columns)

    @staticmethod
    def _hidden(rel: Rel) -> list:
        """The event's key columns, carried while a later node may still read input_event."""
        return [c for c in rel.columns if c[0].startswith("\0")]

    def node_fields(self, node: Node) -> Rel:
        rel = self._input(node)
        names = [f.name for f in node.names]
        if node.drop:
            return Rel(rel.view, [c for c in rel.columns if c[0] not in names])
        columns = []
        for f in node.names:
            found = rel.lookup(f.name)
            if found is None:
                column = self.new_column()
                rel = Rel(self.project(rel, [(column, _null("null"))], hint="fields"),
                          rel.columns + [(f"\0{column}", column, "null")])
                found = (column, "null")
            columns = [c for c in columns if c[0] != f.name] + [(f.name, found[0], found[1])]
        return Rel(rel.view, self._hidden(rel) + columns)

    def node_rename(self, node: Node) -> Rel:
        rel = self._input(node)
        columns = list(rel.columns)
        for old, new in node.pairs:
            names = [c[0] for c in columns]
            if old in names and old != new:
                columns = [c for c in columns if c[0] != new]
                index = [c[0] for c in columns].index(old)
                columns[index] = (new, columns[index][1], columns[index][2])
        return Rel(rel.view, columns)

    def node_rex(self, node: Node) -> Rel:
        rel = self._input(node)
        source = Expressions(self, rel).field_value(node.field)
        if source.kind != "string":
            extra = []
            columns = rel.columns
            for group in node.groups:
                column = self.new_column()
                extra.append((column, _null("string")))
                columns = _set(columns, group, column, "string")
            return Rel(self.project(rel, extra, columns, hint="rex"), columns)
        pattern = (f"(?{node.flags})" if node.flags else "") + node.pattern
        numbers = compile_java(node.pattern, node.flags).groupindex
        extra, columns = [], rel.columns
        for group in node.groups:
            column = self.new_column()
            extra.append((column, f"REGEXP_EXTRACT({source.sql}, {_string(pattern)}, {numbers[group]})"))
            columns = _set(columns, group, column, "string")
        return Rel(self.project(rel, extra, columns, hint="rex"), columns)

    def _key(self, rel: Rel, name: str, span, command: str) -> str | None:
        """A grouping key: equal exactly when the values are equal (`=`); None for an absent field."""
        found = rel.lookup(name)
        if found is None or found[1] == "null":
            return None
        if found[1] not in ("string", "int", "bool"):
            raise self.fail(f"`{command}` over field `{name}`", f"its values are of kind {_kind_name(found[1])}; "
                            "only strings, integers and booleans are grouped", span)
        return _ident(found[0])

    def _running_count(self, rel: Rel, partition: list[str], hint: str) -> tuple[Rel, str]:
        """rel with one more column: the count of records so far in arrival order, per partition."""
        column = self.new_column()
        by = f"PARTITION BY {', '.join(partition)} " if partition else ""
        over = f"COUNT(*) OVER ({by}ORDER BY `pt` {_RUNNING})"
        # The count first: the next view then reorders the columns, and the planner keeps that projection
        # (it drops one that only renames, and two running counts would then both be named w0$o0).
        view = self.project(rel, [(column, over)], hint=hint, extra_first=True)
        return Rel(view, rel.columns + [(f"\0{column}", column, "int")]), _ident(column)

    def _ordered_input(self, node: Node) -> Rel:
        """The input of an order-sensitive command, which must reach it in arrival order."""
        rel = self._input(node)
        if any(c[0] == "\0windows unordered" for c in rel.columns):
            raise self.fail(f"command `{node.command}` after `stats`", "the windows' records have no arrival number "
                            "(they are a GROUP BY's updates; only tumbling windows are read in order)", node.span)
        after_stats = any(c[0] == "\0after stats" for c in rel.columns)  # its order column is the windows' own
        if node.command == "stats" and after_stats:
            raise self.fail("command `stats` after `stats`", "the windows' records have no arrival number", node.span)
        if node.command in ("first_time_event", "conditional_anomaly") and after_stats:
            raise self.fail(f"command `{node.command}` after `stats`", "its running counts are partitioned: over the "
                            "windows' event time Flink hands the records on partition by partition, out of order",
                            node.span)
        if any(c[0].startswith("\0order") for c in rel.columns) and not after_stats:
            raise self.fail(f"command `{node.command}` after `union`", "the union's records reach it in no known "
                            "order: processing time orders each branch alone", node.span)
        return rel

    def node_first_time_event(self, node: Node) -> Rel:
        rel = self._ordered_input(node)
        keys = [self._key(rel, name, node.span, "first_time_event") for name in node.columns]
        keys = [k if k is not None else "CAST(NULL AS STRING)" for k in keys]
        counted, count = self._running_count(rel, keys, "first_time")
        column = self.new_column()
        columns = _set(counted.columns, node.output, column, "bool")
        return Rel(self.project(counted, [(column, f"{count} = 1")], columns, hint="first_time"), columns)

    def node_conditional_anomaly(self, node: Node) -> Rel:
        rel = self._ordered_input(node)
        c_key = self._key(rel, node.conditional, node.span, "conditional_anomaly")
        t_key = self._key(rel, node.target, node.span, "conditional_anomaly")
        column = self.new_column()
        if c_key is None or t_key is None:
            columns = _set(rel.columns, "output", column, "null")
            return Rel(self.project(rel, [(column, _null("double"))], columns, hint="lift"), columns)
        present = self.new_column()
        base = Rel(self.project(rel, [(present, f"{c_key} IS NOT NULL AND {t_key} IS NOT NULL")], hint="lift_present"),
                   rel.columns + [(f"\0{present}", present, "bool")])
        counts = {}
        # Every count is over the records with both sides present (the others are not counted).
        for label, partition in (("n_all", []), ("n_c", [c_key]), ("n_t", [t_key]), ("n_ct", [c_key, t_key])):
            base, counts[label] = self._running_count(base, [_ident(present)] + partition, "lift_" + label)
        lift = (f"CASE WHEN {_ident(present)} THEN CAST({counts['n_ct']} * {counts['n_all']} AS DOUBLE) / "
                f"CAST({counts['n_c']} * {counts['n_t']} AS DOUBLE) END")
        columns = _set(rel.columns, "output", column, "double")
        return Rel(self.project(base, [(column, lift)], columns, hint="lift"), columns)

    def node_adaptive_threshold(self, node: Node) -> Rel:
        """The engine's own model as a Python function (engine/flink_functions.py), fed every record in
        arrival order: Flink's OVER aggregates sum doubles where the model's history is exact, and Python
        aggregate functions do not run in OVER windows."""
        rel = self._ordered_input(node)
        lowering = Expressions(self, rel)
        value, timestamp = lowering.field_value(node.value), lowering.field_value(node.timestamp)
        entity = lowering.field_value(node.entity) if node.entity else V(_null("null"), "null")
        for name, found in ((node.value, value), (node.timestamp, timestamp), (node.entity, entity)):
            if isinstance(found.kind, tuple) or found.kind == "event":
                raise self.fail(f"adaptive_threshold over field `{name}`", f"its values are of kind "
                                f"{_kind_name(found.kind)}; only scalars are passed to the model", node.span)
        # A running count over every record: the function checks it saw each one, in order.
        counted, seq = self._running_count(rel, [], "at_seq")
        function = self.python_function("adaptive_" + node.algorithm)
        threshold = "CAST(NULL AS DOUBLE)" if node.threshold is None else f"CAST({node.threshold!r} AS DOUBLE)"
        window = "CAST(NULL AS BIGINT)" if node.window_ms is None else f"CAST({node.window_ms} AS BIGINT)"
        call = (f"{function}({seq}, {_string(node.algorithm)}, {window}, {threshold}, "
                f"{'TRUE' if node.entity else 'FALSE'}, {entity.sql}, {value.sql}, {timestamp.sql})")
        scored = self.new_column()
        with_model = Rel(self.project(counted, [(scored, call)], hint="at_model"),
                         counted.columns + [(f"\0{scored}", scored, "model")])
        extra, columns = [], rel.columns
        for name in node.outputs:
            column = self.new_column()
            extra.append((column, f"{_ident(scored)}.{_ident(name)}"))
            columns = _set(columns, name, column, "bool" if name == "label" else "double")
        view = self.project(with_model, extra, columns, hint="at")
        if len(extra) > 1:
            # The model's function is not deterministic and is read once per output, so Flink's planner
            # never merges its call into a later projection (it merges only where such a call is read
            # once): a map built over the outputs holds no Python call, and its ROW plans.
            self.python_columns.difference_update([scored, *(column for column, _ in extra)])
        return Rel(view, columns)

    def node_stats(self, node: Node) -> Rel:
        """Event-time windows as the engine's (engine/windows.py) in plain SQL, no Flink window: the
        watermark is the running max of event time in arrival order (an OVER aggregate over `pt`); a
        record goes to each window [k*slide, k*slide + size) holding it whose end + grace is past that
        watermark (the late rule); a GROUP BY window end and keys aggregates the panes. The GROUP BY
        updates its rows as records come, so the sink writes a changelog (`Script.changelog`) that `run`
        applies. The engine emits windows by end, then by the order their groups entered it (each
        window's trigger record comes no earlier than an earlier-ending one's): the order key is
        [window end, first record of the pane]. `union` after it is refused: its records have no arrival
        number.

        An order-sensitive command after tumbling windows reads them in that order: the source then declares
        `rt`, one event time for all records whose watermark passes it only when the input ends, and a
        window TVF over `rt` (one window holding every record; a GROUP BY of it gives final rows, not
        updates) closes there; a temporal sort by [window end, first record] hands them on with `rt`'s
        window time as `pt`, an event-time attribute adaptive_threshold's running count orders by (ties in
        arrival order). On an input that never ends (Kafka), such a search writes nothing. Sliding windows
        stay refused there (Flink's CROSS JOIN UNNEST drops the event-time attribute), and so do
        first_time_event and conditional_anomaly (see _ordered_input)."""
        rel = self._ordered_input(node)
        size, slide, grace = node.size_ms, node.slide_ms or node.size_ms, node.grace_ms or 0
        count = -(-size // slide)
        # Whether the windows close at the end of the input, in order (the source's `rt` reaches this node).
        in_order = rel.lookup("\0rowtime") is not None and count == 1
        rowtime = f", {_ROWTIME}" if in_order else ""
        lowering = Expressions(self, rel)
        time_value = lowering.lower(node.timestamp)
        if time_value.kind == "int":
            event_time = time_value.sql
        elif time_value.kind == "double":  # floored when finite, as _event_time does
            event_time = (f"CASE WHEN ABS({time_value.sql}) <= 1.7976931348623157E308 "
                          f"THEN CAST(FLOOR({time_value.sql}) AS BIGINT) END")
        else:
            event_time = "CAST(NULL AS BIGINT)"  # no record has a time: no window
        keys = []
        for group in node.group_by:
            if len(group.path) != 1:
                raise self.fail("`stats` by a dotted path", "no lowering", group.span)
            key = self._key(rel, group.path[0], group.span, "stats")  # None: absent, one null group
            keys.append(("CAST(NULL AS STRING)", "null") if key is None else (key, rel.lookup(group.path[0])[1]))
        arguments = [V("CAST(1 AS BIGINT)", "int") if argument is None else lowering.lower(argument)
                     for _, argument, _ in node.aggregations]
        # Per record: its keys, its aggregations' arguments, its event time and the watermark it sees.
        t, wm = self.new_column(), self.new_column()
        key_columns = [self.new_column() for _ in keys]
        argument_columns = [self.new_column() for _ in arguments]
        inputs = [f"{sql} AS {_ident(c)}" for (sql, _), c in zip(keys, key_columns)]
        inputs += [f"{a.sql} AS {_ident(c)}" for a, c in zip(arguments, argument_columns)]
        timed = self.new_view("stats_time", f"SELECT `__ord`, `pt`{rowtime}, {event_time} AS {_ident(t)}, " +
                              ", ".join(inputs) +
                              f"\nFROM {_ident(rel.view)}")
        watermarked = self.new_view("stats_watermark", f"SELECT *, MAX({_ident(t)}) OVER (ORDER BY `pt` {_RUNNING}) "
                                    f"AS {_ident(wm)}\nFROM {_ident(timed)}")
        # The windows holding each record: starts base, base - slide, ... while start > t - size.
        base = f"({_ident(t)} - MOD(MOD({_ident(t)}, {slide}) + {slide}, {slide}))"
        end = f"({base} - {_ident('k')} * {slide} + {size})" if count > 1 else f"({base} + {size})"
        expanded = f"FROM {_ident(watermarked)}" + (
            f" CROSS JOIN UNNEST(ARRAY[{', '.join(map(str, range(count)))}]) AS w({_ident('k')})" if count > 1 else "")
        panes_end = self.new_column()
        placed = self.new_view("stats_panes", f"SELECT `__ord`{rowtime}, {end} AS {_ident(panes_end)}, " +
                               ", ".join(_ident(c) for c in key_columns + argument_columns) + f"\n{expanded}\n"
                               f"WHERE {_ident(t)} IS NOT NULL AND {end} - {size} > {_ident(t)} - {size} "
                               f"AND {end} + {grace} > {_ident(wm)}")
        outputs, columns = [], []
        names = iter(node.fields)
        for (_, kind), column in zip(keys, key_columns):
            name, out = next(names), self.new_column()
            outputs.append(f"{_ident(column)} AS {_ident(out)}")
            columns.append((name, out, kind))
        for (function, argument, _), value, column in zip(node.aggregations, arguments, argument_columns):
            sql, kind = self._aggregate(function, V(_ident(column), value.kind), argument, node)
            name, out = next(names), self.new_column()
            outputs.append(f"{sql} AS {_ident(out)}")
            columns.append((name, out, kind))
        for name, offset in zip(names, (-size, 0, -1)):
            out = self.new_column()
            outputs.append(f"{_ident(panes_end)} + ({offset}) AS {_ident(out)}")
            columns.append((name, out, "int"))
        first = self.new_column()
        group_by = ", ".join(_ident(c) for c in [panes_end, *key_columns])
        if in_order:
            view = self.new_view("stats", f"SELECT {_ident(panes_end)} AS `__ord`, `window_time` AS `pt`, "
                                 f"MIN(`__ord`) AS {_ident(first)}, " + ", ".join(outputs) +
                                 f"\nFROM TABLE(TUMBLE(TABLE {_ident(placed)}, DESCRIPTOR({_ROWTIME}), INTERVAL '1' "
                                 f"SECOND))\nGROUP BY `window_start`, `window_end`, `window_time`, {group_by}")
            view = self.new_view("stats_sorted", f"SELECT *\nFROM {_ident(view)}\nORDER BY `pt`, `__ord`, "
                                 f"{_ident(first)}")
            return Rel(view, [(f"\0order {first}", first, "int"), ("\0after stats", "\0", "null"), *columns])
        view = self.new_view("stats", f"SELECT {_ident(panes_end)} AS `__ord`, CAST(NULL AS TIMESTAMP(3)) AS `pt`, "
                             f"MIN(`__ord`) AS {_ident(first)}, " + ", ".join(outputs) + f"\nFROM {_ident(placed)}\n"
                             f"GROUP BY {group_by}")
        self.changelog = True
        return Rel(view, [(f"\0order {first}", first, "int"), ("\0after stats", "\0", "null"),
                          ("\0windows unordered", "\0", "null"), *columns])

    def _aggregate(self, function: str, value: V, argument, node: Node) -> tuple[str, Kind]:
        """One stats aggregation over a pane's records, as engine/windows.py's AGGREGATIONS compute it."""
        x, kind = value.sql, value.kind
        if function == "count":
            return ("COUNT(*)" if argument is None else f"COUNT({x})"), "int"
        if kind == "event" or (isinstance(kind, tuple) and function != "count"):
            raise self.fail(f"`{function}` of values of kind {_kind_name(kind)}", "no lowering", node.span)
        number = kind in ("int", "double")
        if function in ("sum", "avg") and not number:
            return _null("null"), "null"  # non-numbers are skipped
        if function == "sum":
            return f"SUM({x})", kind
        if function == "avg":
            return f"CAST(SUM({x}) AS DOUBLE) / CAST(COUNT({x}) AS DOUBLE)", "double"
        if function in ("min", "max"):
            if kind not in ("int", "double", "string"):
                return _null("null"), "null"  # booleans and nulls take no part
            # NaN takes no part; strings compare by code point, as UTF-8 bytes do.
            return f"{function.upper()}({f'CASE WHEN {x} = {x} THEN {x} END' if kind == 'double' else x})", kind
        if function == "dc":
            if kind not in ("int", "string", "bool", "null"):
                raise self.fail(f"`dc` of values of kind {_kind_name(kind)}", "no exact lowering", node.span)
            return f"COUNT(DISTINCT {x})", "int"
        if function in ("first", "last"):
            if kind == "null":
                return _null("null"), "null"
            return f"{function.upper()}_VALUE({x})", kind  # the first / last non-null in arrival order
        raise self.fail(f"`stats` aggregation `{function}`", "it keeps the distinct values in first-seen order: "
                        "not lowered", node.span)

    def node_union(self, node: Node) -> Rel:
        """UNION ALL of branches with the same fields. Arrival order is the engine's: by source record,
        then branch in the order named (spec 5.8), which Flink's UNION ALL does not keep: each branch
        adds its position as an order column (`\0order`), and the sink writes the order key
        [`__ord`, last union's branch, ..., first union's branch] that `run` sorts by."""
        rels = [self.rels[i] for i in node.inputs]
        if any(c[0] == "\0after stats" for rel in rels for c in rel.columns):
            raise self.fail("`union` after `stats`", "the windows' records have no arrival number to merge by",
                            node.span)
        shown = [[c for c in rel.columns if not c[0].startswith("\0")] for rel in rels]
        names = [f for f, _, _ in shown[0]]
        for branch in shown[1:]:
            if [f for f, _, _ in branch] != names:
                raise self.fail("`union` of branches with different fields", "a field one branch lacks is absent "
                                "from its records, and a UNION ALL row has every column", node.span)
        orders = [[c for c in rel.columns if c[0].startswith("\0order")] for rel in rels]
        depth = max(map(len, orders))
        # The event's key columns, while every branch still carries them (they come from the one source).
        keys = [c for c in rels[0].columns if c[0].startswith("\0key ") and all(c in rel.columns for rel in rels)]
        columns = []
        for position, name in enumerate(names):
            branch_columns = [branch[position][1] for branch in shown]
            kind = _common_kind([branch[position][2] for branch in shown])
            if kind is None or (kind == "event" and len(set(branch_columns)) > 1):
                raise self.fail(f"`union` of branches where field `{name}` is of different kinds",
                                "a column holds one kind", node.span)
            same = len(set(branch_columns)) == 1 and all(branch[position][2] == kind for branch in shown)
            columns.append((name, branch_columns[0] if same else self.new_column(), kind))
        order_columns = [self.new_column() for _ in range(depth + 1)]
        selects = []
        for index, (rel, branch, order) in enumerate(zip(rels, shown, orders)):
            parts = ["`__ord`", "`pt`"]
            parts += [f"{_ident(order[i][1]) if i < len(order) else 'CAST(0 AS BIGINT)'} AS {_ident(column)}"
                      for i, column in enumerate(order_columns[:-1])]
            parts.append(f"CAST({index} AS BIGINT) AS {_ident(order_columns[-1])}")
            parts += [_ident(column) for _, column, _ in keys]
            for (_, column, kind), (_, own, own_kind) in zip(columns, branch):
                value = _null(kind) if own_kind == "null" else _ident(own)
                parts.append(value if own == column else f"{value} AS {_ident(column)}")
                if own in self.python_columns:
                    self.python_columns.add(column)
            selects.append("SELECT " + ", ".join(parts) + f"\nFROM {_ident(rel.view)}")
        view = self.new_view("union", "\nUNION ALL\n".join(selects))
        return Rel(view, [(f"\0order {column}", column, "int") for column in order_columns] + keys + columns)


NOT_LOWERED_FUNCTIONS = {
    "abs": "not lowered yet", "ceil": "not lowered yet", "ceiling": "not lowered yet", "floor": "not lowered yet",
    "sqrt": "not lowered yet", "exp": "Java's Math.exp edge cases are not lowered yet",
    "pow": "Java's Math.pow edge cases are not lowered yet",
    "case": "not lowered yet", "in": "the function form is not lowered yet (the `IN` operator is)",
    "tostring": "Java's text of a double is not lowered yet", "to_string": "Java's text of a double is not lowered yet",
    "length": "not lowered yet", "substr": "not lowered yet", "mvrange": "not lowered yet",
    # These two lower for a null argument only (to null): listed here all the same, as they lower no JSON.
    "from_json_object": "a map whose keys are known only at run time has no Flink type (a ROW's are fixed); "
                        "only a null argument lowers (to null)",
    "deserialize_json_object": "a map whose keys are known only at run time has no Flink type (a ROW's are "
                               "fixed); only a null argument lowers (to null)",
    "serialize_json": "Flink's JSON functions sort the keys of objects (not lowered yet)",
    "to_json_string": "Flink's JSON functions sort the keys of objects (not lowered yet)",
}

COMMAND_SUPPORT = {
    "from": "read_ssa/ba_enriched_events, enriched_source: typed JSON columns, or each line whole when the event "
            "is written; a running count over processing time numbers the records (not `source`: its fields are "
            "not known when the script is written)",
    "eval": "yes", "where": "yes", "select": "yes", "fields": "yes", "rename": "yes",
    "rex": "REGEXP_EXTRACT (Java's regex)",
    "union": "UNION ALL with an order key (source record, then branch) the sink writes; branches with the same "
             "fields; no order-sensitive command after it",
    "stats": "tumbling, sliding, grace, late records: a running-max watermark, GROUP BY window end written as a "
             "changelog; count, sum, avg, min, max, dc, first, last (not values); adaptive_threshold after tumbling "
             "windows, which then close at the end of the input (a window TVF over a constant event time), no other "
             "order-sensitive command after it",
    "first_time_event": "a running count over processing time (parallelism 1)",
    "conditional_anomaly": "running counts over processing time (parallelism 1)",
    "adaptive_threshold": "the engine's model as a Python function fed every record in arrival order (parallelism 1)",
    "into": "one writing sink per search; write_null: Flink's blackhole connector",
}


def function_lowering() -> dict[str, str | None]:
    """Every registry function: None when Flink lowers it, else why not."""
    from ..functions import FUNCTIONS

    return function_support(FUNCTIONS, lambda name: hasattr(Expressions, "f_" + name) and
                            name not in NOT_LOWERED_FUNCTIONS, NOT_LOWERED_FUNCTIONS, ENGINE)


# ---------------------------------------------------------------------------------------------
class Expressions(ExpressionLowering):
    """Lowering of expressions (AST, names bound) over one relation's columns."""

    engine = ENGINE
    not_lowered_functions = NOT_LOWERED_FUNCTIONS

    def __init__(self, compiler: Compiler, rel: Rel):
        self.compiler, self.rel = compiler, rel

    def field_value(self, name: str) -> V:
        found = self.rel.lookup(name)
        if found is None:
            return V(_null("null"), "null")
        if found[0] == EVENT_COLUMNS["_datamodels"]:
            self.compiler.reads_datamodels = True
        return V(_ident(found[0]), found[1])

    def lower(self, node: ast.Expr) -> V:
        value = super().lower(node)
        if value.kind == "event":
            shown = node.path[0] if isinstance(node, ast.Field) else "input_event"
            raise self.fail(f"the source's field `{shown}` as a value", "the event is written as it came or read "
                            "by key (map_get(input_event, \"key\")), never computed on", node.span)
        return value

    def x_Literal(self, node: ast.Literal) -> V:
        value = node.value
        if value is None:
            return V(_null("null"), "null")
        if value is True or value is False:
            return V("TRUE" if value else "FALSE", "bool")
        if isinstance(value, int):
            if not -(2**63) < value < 2**63:
                raise self.fail("integer literal", "beyond 64 bits", node.span)
            return V(f"CAST({value} AS BIGINT)", "int")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail("a literal that is not finite", "no lowering", node.span)
            return V(f"CAST({value!r} AS DOUBLE)", "double")
        if isinstance(value, str):
            return V(_string(value), "string")
        raise self.fail("literal", f"of type {type(value).__name__}", node.span)

    def x_Duration(self, node: ast.Duration) -> V:
        return V(f"CAST({node.millis} AS BIGINT)", "int")

    def x_Field(self, node: ast.Field) -> V:
        if len(node.path) > 1 and self.is_event(node.path[0]):  # input_event.key is map_get(input_event, "key")
            value, rest = self.event_key(node.path[1]), node.path[2:]
        else:
            value, rest = self.field_value(node.path[0]), node.path[1:]
        for key in rest:
            value = self._get(value, key, node.span)
        return value

    def is_event(self, name: str) -> bool:
        """Whether field `name` is the source's event (not a field a command has set since)."""
        found = self.rel.lookup(name)
        return found is not None and found[0] == EVENT_COLUMNS["input_event"]

    def event_key(self, key: str) -> V:
        """Key `key` of the source's event: its column (see event_keys)."""
        found = self.rel.lookup(f"\0key {key}")
        return V(_null("null"), "null") if found is None else V(_ident(found[0]), found[1])

    def x_Index(self, node: ast.Index) -> V:
        """`list[i]` (negative from the end, null out of range) and `map["key"]`; null for anything else."""
        index = node.index.value if isinstance(node.index, ast.Literal) else None
        if not isinstance(index, (int, str)) or isinstance(index, bool):
            raise self.fail("indexing with an index that is not an integer or string literal", "no lowering",
                            node.index.span)
        target = self.lower(node.target)
        kind = target.kind
        if isinstance(index, str):
            return self._get(target, index, node.span) if isinstance(kind, tuple) and kind[0] == "map" else \
                V(_null("null"), "null")
        if isinstance(kind, tuple) and kind[0] == "list":
            return self.list_item(target, index)
        if isinstance(kind, tuple) and kind[0] == "items":
            position = index if index >= 0 else len(kind[1]) + index
            if 0 <= position < len(kind[1]):
                return V(f"({target.sql}).{_item(position)}", kind[1][position])
        return V(_null("null"), "null")

    @staticmethod
    def list_item(values: V, index: int) -> V:
        """Item `index` of a list (0-based, negative from the end), null out of range."""
        size = f"CARDINALITY({values.sql})"
        if index >= 0:
            return V(f"CASE WHEN {size} > {index} THEN ({values.sql})[{index + 1}] END", values.kind[1])
        return V(f"CASE WHEN {size} >= {-index} THEN ({values.sql})[{size} + {index + 1}] END", values.kind[1])

    def _get(self, value: V, key: str, span) -> V:
        if value.kind == "null":
            return value
        if isinstance(value.kind, tuple) and value.kind[0] == "map":
            for k, kind in value.kind[1]:
                if k == key:
                    return V(f"({value.sql}).{_ident(k)}", kind)
            return V(_null("null"), "null")
        raise self.fail(f"reading key `{key}`", f"of a value of kind {_kind_name(value.kind)}", span)

    def x_ListLiteral(self, node: ast.ListLiteral) -> V:
        items = [self.lower(i) for i in node.items]
        if not items:
            return self.empty_list("null")
        kind = _common_kind([i.kind for i in items])
        if kind is None:  # a ROW of its positions: written item by item, read by a literal index only
            kinds = tuple(i.kind for i in items)
            row = "ROW(" + ", ".join(self._as(i, i.kind) for i in items) + ")"
            return V(f"CAST({row} AS {sql_type(('items', kinds))})", ("items", kinds))
        # Maps whose null fields are typed in another item are cast to the one ROW type.
        lowered = [self._as(i, kind) if i.kind in ("null", kind) else f"CAST({i.sql} AS {sql_type(kind)})"
                   for i in items]
        # The length is part of the kind: the sink writes such a list item by item (see json_text).
        return V("ARRAY[" + ", ".join(lowered) + "]", ("list", kind, len(items)))

    @staticmethod
    def empty_list(item: Kind) -> V:
        """An empty ARRAY of `item` (ARRAY[] has no type: one null item, removed)."""
        return V(f"ARRAY_REMOVE(ARRAY[{_null(item)}], {_null(item)})", ("list", item))

    @staticmethod
    def _as(value: V, kind: Kind) -> str:
        return _null(kind) if value.kind == "null" else value.sql

    # ---- predicates ----
    def truth(self, node: ast.Expr) -> V:
        value = self.lower(node)
        return value if value.kind == "bool" else V("CAST(NULL AS BOOLEAN)", "bool")

    def x_Logical(self, node: ast.Logical) -> V:
        joiner = " AND " if node.op.lower() == "and" else " OR "
        return V("(" + joiner.join(f"({self.truth(o).sql})" for o in node.operands) + ")", "bool")

    def x_Unary(self, node: ast.Unary) -> V:
        if node.op == "not":
            return V(f"(NOT ({self.truth(node.operand).sql}))", "bool")
        value = self.lower(node.operand)
        if value.kind not in ("int", "double"):
            return V(_null("null"), "null")
        return V(f"(-({value.sql}))", value.kind)

    def x_IsNull(self, node: ast.IsNull) -> V:
        value = self.lower(node.value)
        check = "TRUE" if value.kind == "null" else f"({value.sql}) IS NULL"
        return V(f"(NOT {check})" if node.negated else check, "bool")

    def equality(self, left: V, right: V, span) -> str:
        """Null-safe `=` (never null): null = null, numbers by value, no coercion between kinds."""
        if left.kind == "null" or right.kind == "null":
            other = right if left.kind == "null" else left
            return "TRUE" if other.kind == "null" else f"({other.sql}) IS NULL"
        if left.kind in ("int", "double") and right.kind in ("int", "double"):
            if "double" in (left.kind, right.kind):
                a, b = f"CAST({left.sql} AS DOUBLE)", f"CAST({right.sql} AS DOUBLE)"
                # NaN equals nothing (Flink's = on doubles follows Java's ==, where NaN == NaN is false).
                return f"COALESCE({a} = {b}, {a} IS NULL AND {b} IS NULL)"
            return f"({left.sql} IS NOT DISTINCT FROM {right.sql})"
        if left.kind == right.kind and left.kind in ("string", "bool"):
            return f"({left.sql} IS NOT DISTINCT FROM {right.sql})"
        if left.kind != right.kind and not (isinstance(left.kind, tuple) or isinstance(right.kind, tuple)):
            return f"({left.sql} IS NULL AND {right.sql} IS NULL)"
        raise self.fail(f"`=` between values of kinds {_kind_name(left.kind)} and {_kind_name(right.kind)}",
                        "no exact lowering", span)

    def x_In(self, node: ast.In) -> V:
        value = self.lower(node.value)
        tests = []
        for option in node.options:
            lowered = self.lower(option)
            if isinstance(lowered.kind, tuple) and lowered.kind[0] == "list":
                tests.append(self.contains(lowered, value, option.span))
                continue
            if isinstance(lowered.kind, tuple):
                raise self.fail("`in` with a map", "no lowering", option.span)
            tests.append(self.equality(value, lowered, node.span))
        found = "(" + " OR ".join(tests) + ")" if tests else "FALSE"
        return V(f"(NOT {found})" if node.negated else found, "bool")

    def contains(self, items: V, value: V, span) -> str:
        """`value IN (items)` for a list: null-safe equality with any element; a null list is a null."""
        kind = items.kind[1]
        if value.kind not in ("null", kind) and {value.kind, kind} <= {"int", "double"} or \
                isinstance(value.kind, tuple) or kind not in ("string", "int", "bool", "null"):
            raise self.fail(f"`in` of a {_kind_name(value.kind)} in a list of {_kind_name(kind)}", "no exact "
                            "lowering", span)
        has_null = f"(CARDINALITY(ARRAY_REMOVE({items.sql}, {_null(kind)})) < CARDINALITY({items.sql}))"
        when_null = f"({items.sql} IS NULL OR COALESCE({has_null}, FALSE))"
        if value.kind == "null":
            return when_null
        found = f"COALESCE(ARRAY_CONTAINS({items.sql}, {value.sql}), FALSE)" if value.kind == kind else "FALSE"
        return f"(CASE WHEN {value.sql} IS NULL THEN {when_null} ELSE {found} END)"

    def x_Binary(self, node: ast.Binary) -> V:
        op = node.op.lower()
        left, right = self.lower(node.left), self.lower(node.right)
        if op in ("=", "!="):
            test = self.equality(left, right, node.span)
            return V(f"(NOT {test})" if op == "!=" else test, "bool")
        if op in ("<", "<=", ">", ">="):
            return self.ordering(op, left, right, node.span)
        if op == "like":
            return self.call_like(left, node.right, node)
        if op in ("+", "-", "*", "/", "%"):
            return self.arithmetic(op, left, right, node.span)
        raise self.fail(f"operator `{node.op}`", "no lowering", node.span)

    def ordering(self, op: str, left: V, right: V, span) -> V:
        if "null" in (left.kind, right.kind):
            return V("CAST(NULL AS BOOLEAN)", "bool")
        if left.kind in ("int", "double") and right.kind in ("int", "double"):
            if "double" in (left.kind, right.kind):
                a, b = f"CAST({left.sql} AS DOUBLE)", f"CAST({right.sql} AS DOUBLE)"
                # A comparison with NaN is null, as in the Python engine.
                return V(f"CASE WHEN {a} = {a} AND {b} = {b} THEN {a} {op} {b} END", "bool")
            return V(f"({left.sql} {op} {right.sql})", "bool")
        if left.kind == right.kind and left.kind in ("string", "bool"):
            if left.kind == "string":
                raise self.fail(f"`{op}` between strings", "Flink compares strings by their UTF-8 bytes, the "
                                "Python engine by code points of UTF-16", span)
            return V(f"({left.sql} {op} {right.sql})", "bool")
        if isinstance(left.kind, tuple) or isinstance(right.kind, tuple):
            raise self.fail(f"`{op}` between kinds {_kind_name(left.kind)} and {_kind_name(right.kind)}",
                            "no exact lowering", span)
        return V("CAST(NULL AS BOOLEAN)", "bool")

    def arithmetic(self, op: str, left: V, right: V, span) -> V:
        if "null" in (left.kind, right.kind):
            return V(_null("null"), "null")
        if op == "+" and left.kind == right.kind == "string":
            return V(f"({left.sql} || {right.sql})", "string")
        if left.kind not in ("int", "double") or right.kind not in ("int", "double"):
            if isinstance(left.kind, tuple) or isinstance(right.kind, tuple):
                raise self.fail(f"`{op}` on kinds {_kind_name(left.kind)} and {_kind_name(right.kind)}",
                                "no exact lowering", span)
            return V(_null("null"), "null")
        a, b = left.sql, right.sql
        if left.kind == right.kind == "int":
            if op == "/":
                return V(f"CASE WHEN {b} <> 0 THEN CAST({a} / {b} AS BIGINT) END", "int")
            if op == "%":
                return V(f"CASE WHEN {b} <> 0 THEN MOD({a}, {b}) END", "int")
            return V(f"({a} {op} {b})", "int")
        a, b = f"CAST({a} AS DOUBLE)", f"CAST({b} AS DOUBLE)"
        if op == "%":
            raise self.fail("`%` on doubles", "no exact lowering", span)
        return V(f"({a} {op} {b})", "double")

    def call_like(self, text: V, pattern_node, node) -> V:
        if not isinstance(pattern_node, ast.Literal) or not isinstance(pattern_node.value, str):
            raise self.fail("`like` with a pattern that is not a string literal", "no lowering", node.span)
        if text.kind != "string":
            return V("CAST(NULL AS BOOLEAN)", "bool")
        pattern = pattern_node.value
        if "\\" not in pattern:
            return V(f"({text.sql} LIKE {_string(pattern)})", "bool")
        # Flink's LIKE reads a backslash as an escape, the Python engine's has no escape character: the
        # pattern as a Java regex over the whole string (a backslash before any other character is that character).
        body = "".join(".*" if c == "%" else "." if c == "_" else c if c.isalnum() else "\\" + c for c in pattern)
        regex = _string("(?s)\\A" + body + "\\z")
        return V(f"REGEXP({text.sql}, {regex})", "bool")

    # ---- calls ----
    def f_map_get(self, node, args) -> V:
        key = self._literal_arg(node, args, 1)
        target = args[0]
        if isinstance(target, ast.Field) and len(target.path) == 1 and self.is_event(target.path[0]):
            return self.event_key(key)
        return self._get(self.lower(target), key, node.span)

    def f_ucast(self, node, args) -> V:
        from ..functions.cast import parse_type

        target = parse_type(self._literal_arg(node, args, 1))
        if target == "collection":
            return self._ucast_list(node, args)
        wanted = {"string": "string", "long": "int", "integer": "int", "double": "double", "float": "double",
                  "boolean": "bool"}.get(target)
        if wanted is None:
            raise self.fail(f"ucast to \"{target}\"", "only string, long, integer, double, float and boolean lower",
                            node.span)
        value, default = self.lower(args[0]), self.lower(args[2])
        if default.kind not in ("null", wanted):
            raise self.fail("ucast with a default of another kind", "a column holds one kind", args[2].span)
        fallback = self._as(default, wanted)
        if value.kind == wanted:
            return V(value.sql if default.kind == "null" else f"COALESCE({value.sql}, {fallback})", wanted)
        if wanted == "double" and value.kind == "int":
            return V(f"COALESCE(CAST({value.sql} AS DOUBLE), {fallback})", wanted)
        return V(fallback, wanted)

    def _ucast_list(self, node, args) -> V:
        """ucast to collection<T>: a list passes as it is, anything else gives the default."""
        value = self.lower(args[0])
        is_list = isinstance(value.kind, tuple) and value.kind[0] == "list"
        empty_default = isinstance(args[2], ast.ListLiteral) and not args[2].items
        if isinstance(value.kind, tuple) and value.kind[0] == "items":
            raise self.fail("ucast of a list of items of different kinds to a collection", "a Flink ARRAY holds "
                            "one kind", node.span)
        if empty_default:  # [] takes the type of the list it stands in for
            default = self.empty_list(value.kind[1] if is_list else "string")
        else:
            default = self.lower(args[2])
        if not is_list:
            return default
        kind = ("list", value.kind[1])
        if default.kind == "null":
            return V(value.sql, kind)
        if _common_kind([kind, default.kind[:2] if isinstance(default.kind, tuple) else default.kind]) != kind:
            raise self.fail("ucast with a default of another kind", "a column holds one kind", args[2].span)
        return V(f"COALESCE({value.sql}, {default.sql})", kind)

    def f_parse_double(self, node, args) -> V:
        """Java's Double.parseDouble as the registry parses it, a Python function; a number is itself."""
        value = self.lower(args[0])
        if value.kind in ("int", "double"):
            return V(f"CAST({value.sql} AS DOUBLE)", "double")
        if value.kind != "string":
            return V(_null("double"), "double")
        return V(f"{self.compiler.python_function('parse_double')}({value.sql})", "double")

    def f_cast(self, node, args) -> V:
        """cast between the basic kinds where Flink gives the Python engine's value; the text of a double
        (Java's) and parsing doubles are refused."""
        from ..functions.cast import parse_type

        target = parse_type(self._literal_arg(node, args, 1))
        value = self.lower(args[0])
        kind = value.kind
        if kind == "null":
            return value
        if target == "string":
            if kind == "string":
                return value
            if kind == "int":
                return V(f"CAST({value.sql} AS STRING)", "string")
            if kind == "bool":
                return V(f"CASE WHEN {value.sql} THEN 'true' WHEN NOT {value.sql} THEN 'false' END", "string")
            if isinstance(kind, tuple):
                return V(_null("null"), "null")  # a list or map is no basic type: null
        elif target == "long":
            if kind == "int":
                return value
            if kind == "double":
                return V(f"CASE WHEN ABS({value.sql}) <= 1.7976931348623157E308 THEN CAST(FLOOR({value.sql}) AS BIGINT) "
                         "END", "int")
            if kind == "string":
                return self.f_parse_long(node, args[:1])
            return V(_null("int"), "int")
        elif target in ("double", "float"):
            if kind in ("int", "double"):
                return V(f"CAST({value.sql} AS DOUBLE)", "double")
            if kind != "string":
                return V(_null("double"), "double")
        elif target == "boolean":
            if kind == "bool":
                return value
            if kind == "string":
                return V(f"CASE WHEN LOWER({value.sql}) IN ('true', 'false') THEN LOWER({value.sql}) = 'true' END", "bool")
            return V(_null("bool"), "bool")
        raise self.fail(f"cast of a value of kind {_kind_name(kind)} to \"{target}\"", "no exact lowering", node.span)

    def f_parse_long(self, node, args) -> V:
        value = self.lower(args[0])
        if value.kind == "int":
            return value
        if value.kind != "string":
            return V(_null("null"), "null")
        t = value.sql
        # Long.parseLong's syntax; out of range is null (TRY_CAST).
        return V(f"CASE WHEN REGEXP({t}, '^[+-]?[0-9]+$') THEN TRY_CAST(REGEXP_REPLACE({t}, '^[+]', '') "
                 "AS BIGINT) END", "int")

    def _string_function(self, node, args, sql_name: str) -> V:
        value = self.lower(args[0])
        if value.kind != "string":
            return V(_null("null"), "null")
        return V(f"{sql_name}({value.sql})", "string")

    def f_lower(self, node, args) -> V:
        return self._string_function(node, args, "LOWER")

    def f_upper(self, node, args) -> V:
        return self._string_function(node, args, "UPPER")

    def f_len(self, node, args) -> V:
        """Characters as the registry counts them, code points: CHAR_LENGTH counts UTF-16 units, so each
        character beyond the BMP (two units) is first replaced by one."""
        value = self.lower(args[0])
        if value.kind != "string":
            return V(_null("null"), "null")  # the Python engine's error: not a string
        return V(f"CAST(CHAR_LENGTH(REGEXP_REPLACE({value.sql}, '[\\x{{10000}}-\\x{{10FFFF}}]', '_')) AS BIGINT)",
                 "int")

    def f_cidrmatch(self, node, args) -> V:
        """The registry's cidrmatch as a Python function: its parsing of addresses and blocks is Python's
        ipaddress module's."""
        cidr_range, ip = self.lower(args[0]), self.lower(args[1])
        if cidr_range.kind != "string" or ip.kind != "string":
            return V(_null("bool"), "bool")  # null, or the Python engine's error: not a string
        return V(f"{self.compiler.python_function('cidrmatch')}({cidr_range.sql}, {ip.sql})", "bool")

    def f_from_json_object(self, node, args) -> V:
        value = self.lower(args[0])
        if value.kind == "null":
            return value
        raise self.fail(f"from_json_object of a value of kind {_kind_name(value.kind)}", NOT_LOWERED_FUNCTIONS[
            node.name], node.span)

    f_deserialize_json_object = f_from_json_object

    def f_split(self, node, args) -> V:
        delimiter = self._literal_arg(node, args, 1)
        if not delimiter:
            raise self.fail("split with an empty delimiter", "no lowering", node.span)
        value = self.lower(args[0])
        if value.kind != "string":
            return V(_null("null"), "null")
        return V(f"SPLIT({value.sql}, {_string(delimiter)})", ("list", "string"))

    def f_mvindex(self, node, args) -> V:
        values = self.lower(args[0])
        index = self._literal_arg(node, args, 1, (int,))
        if isinstance(index, bool):
            raise self.fail("mvindex with a boolean index", "no lowering", node.span)
        if values.kind == "null":
            return values
        if not (isinstance(values.kind, tuple) and values.kind[0] == "list"):
            raise self.fail(f"mvindex of a value of kind {_kind_name(values.kind)}", "no lowering", node.span)
        return self.list_item(values, index)

    def f_mvappend(self, node, args) -> V:
        items, kinds = [], set()
        # A list literal's items are appended one by one, as the registry's mvappend flattens a list.
        for arg in (item for a in args for item in (a.items if isinstance(a, ast.ListLiteral) else (a,))):
            value = self.lower(arg)
            if value.kind == "null":
                continue
            if value.kind not in ("string", "int", "bool", "double"):
                raise self.fail(f"mvappend of a value of kind {_kind_name(value.kind)}", "no lowering", arg.span)
            kinds.add(value.kind)
            items.append(value.sql)
        if not kinds:
            return self.empty_list("null")  # every value null: []
        if len(kinds) > 1:
            raise self.fail("mvappend of values of different kinds", "a Flink ARRAY holds one kind", node.span)
        kind = kinds.pop()
        # Null items are skipped (ARRAY_REMOVE with a null needle removes the nulls).
        return V(f"ARRAY_REMOVE(ARRAY[{', '.join(items)}], {_null(kind)})", ("list", kind))

    def f_create_map(self, node, args) -> V:
        items = list(args[0].items) if len(args) == 1 and isinstance(args[0], ast.ListLiteral) else list(args)
        if len(items) % 2:
            raise self.fail("create_map with an odd number of items", "no lowering", node.span)
        entries: dict[str, V] = {}
        for key, value in zip(items[::2], items[1::2]):
            if not isinstance(key, ast.Literal) or not (key.value is None or isinstance(key.value, str)):
                raise self.fail("create_map with a key that is not a string literal",
                                "map keys are fixed at compile time (a ROW)", key.span)
            if key.value is not None:
                entries[key.value] = self.lower(value)
        if not entries:
            return V(EMPTY_MAP_SQL, EMPTY_MAP)
        kind = ("map", tuple((k, v.kind) for k, v in entries.items()))
        row = "ROW(" + ", ".join(self._as(v, v.kind) for v in entries.values()) + ")"
        if any(_kind_name(v.kind) == "map" for v in entries.values()) and self.compiler.uses_python(row):
            raise self.fail("a map holding both a map and a value a Python function computes", "Flink's planner "
                            "fails to split the Python function out of the nested ROW (a ClassCastException in "
                            "its Python calc split)", node.span)
        return V(f"CAST({row} AS {sql_type(kind)})", kind)

    def x_MapLiteral(self, node: ast.MapLiteral) -> V:
        return self.f_create_map(node, [part for entry in node.entries for part in entry])

    def _double_function(self, args, sql: str) -> V:
        value = self.lower(args[0])
        if value.kind not in ("int", "double"):
            return V(_null("null"), "null")
        return V(sql.format(x=f"CAST({value.sql} AS DOUBLE)"), "double")

    def f_log(self, node, args) -> V:
        if len(args) > 1 and self._literal_arg(node, args, 1, (int, float)) != 10:
            raise self.fail("log with a base other than 10", "no lowering yet", node.span)
        return self._double_function(args, self.compiler.python_function("log10") + "({x})")

    def f_ln(self, node, args) -> V:
        return self._double_function(args, self.compiler.python_function("ln") + "({x})")

    def f_time(self, node, args) -> V:
        """The processing time as the registry's `time` reads it, in a Python function Flink does not
        fold to a constant (engine/flink_functions.py)."""
        return V(f"{self.compiler.python_function('time')}()", "int")

    def f_strftime(self, node, args) -> V:
        """The registry's own strftime as a Python function (engine/flink_functions.py): DSP's directives
        are not DATE_FORMAT's Java patterns, and a Python function gives the same text by construction."""
        moment, fmt = self.lower(args[0]), self.lower(args[1])
        zone = self.lower(args[2]) if len(args) > 2 else V(_null("string"), "null")
        if moment.kind not in ("int", "double") or fmt.kind != "string" or zone.kind not in ("string", "null"):
            return V(_null("string"), "string")  # the Python engine's error or null: null
        call = self.compiler.python_function("strftime")
        return V(f"{call}({moment.sql}, {fmt.sql}, {self._as(zone, 'string')})", "string")

    def f_coalesce(self, node, args) -> V:
        values = [self.lower(a) for a in args]
        kinds = {v.kind for v in values if v.kind != "null"}
        if len(kinds) > 1:
            raise self.fail("coalesce of values of different kinds", "a column holds one kind", node.span)
        kind = kinds.pop() if kinds else "null"
        return V("COALESCE(" + ", ".join(self._as(v, kind) for v in values) + ")", kind)

    def _pattern(self, node, regex) -> str:
        """A literal regex (`/.../flags` or a string) as Java's pattern text."""
        if isinstance(regex, ast.Regex):
            return (f"(?{regex.flags})" if regex.flags else "") + regex.pattern
        if isinstance(regex, ast.Literal) and isinstance(regex.value, str):
            return regex.value
        raise self.fail(f"`{node.name}` with a pattern that is not a literal", "no lowering", regex.span)

    def f_match(self, node, args) -> V:
        pattern = self._pattern(node, args[1])
        value = self.lower(args[0])
        if value.kind != "string":
            return V("CAST(NULL AS BOOLEAN)", "bool")
        return V(f"REGEXP({value.sql}, {_string(pattern)})", "bool")

    f_match_regex = f_match

    def f_replace(self, node, args) -> V:
        """Flink's REGEXP_REPLACE inserts the replacement as it is, where the Python engine reads Java's
        `$n`, `${name}` and `\\x` in it: a replacement with `$` or a backslash does not lower."""
        pattern = self._pattern(node, args[1])
        replacement = self._literal_arg(node, args, 2)
        if "$" in replacement or "\\" in replacement:
            raise self.fail("`replace` with `$` or a backslash in the replacement", "Flink's REGEXP_REPLACE "
                            "inserts it literally, without Java's group references", args[2].span)
        text = self.lower(args[0])
        if text.kind != "string":
            return V(_null("null"), "null")
        return V(f"REGEXP_REPLACE({text.sql}, {_string(pattern)}, {_string(replacement)})", "string")

    def f_if(self, node, args) -> V:
        predicate, then, otherwise = (self.lower(a) for a in args)
        kind = _common_kind([then.kind, otherwise.kind])
        if kind is None:
            raise self.fail("`if` with branches of different kinds", "a column holds one kind", node.span)
        if predicate.kind not in ("bool", "null"):
            return V(_null("null"), "null")  # the Python engine's error: a condition that is not a boolean
        if predicate.kind == "null":  # counts as false
            return V(self._as(otherwise, kind), kind)
        return V(f"CASE WHEN {predicate.sql} THEN {self._as(then, kind)} ELSE {self._as(otherwise, kind)} END", kind)

    def f_like(self, node, args) -> V:
        return self.call_like(self.lower(args[0]), args[1], node)

    def f_concat(self, node, args) -> V:
        pieces = []
        for arg in args:
            for item in (arg.items if isinstance(arg, ast.ListLiteral) else (arg,)):
                value = self.lower(item)
                if value.kind == "string":
                    pieces.append(value.sql)
                elif value.kind == "int":
                    pieces.append(f"CAST({value.sql} AS STRING)")
                elif value.kind == "bool":
                    pieces.append(f"CASE WHEN {value.sql} THEN 'true' WHEN NOT {value.sql} THEN 'false' END")
                elif value.kind == "null":
                    pieces.append(_null("string"))
                else:
                    raise self.fail(f"the text of a value of kind {_kind_name(value.kind)}", "Flink's text form "
                                    "differs", item.span)
        return V("(" + " || ".join(pieces) + ")" if pieces else "''", "string")


def compile_plan(plan: Plan, schema: dict[str, Kind] | None = None, wrapped: bool = False,
                 datamodels_strings: bool = True) -> Script:
    """The plan as a Flink SQL script; E0405 for what does not lower."""
    return Compiler(plan, dict(schema or {}), wrapped, datamodels_strings=datamodels_strings).compile()


def event_keys(plan: Plan) -> list[str]:
    """The keys the plan reads of the event: every map_get(input_event, "literal") and input_event.key.
    Any other use of input_event is refused when its expression is lowered."""
    keys = set()
    for node in plan.nodes:
        for expression in node.expressions():
            for part in ast.walk(expression):
                if isinstance(part, ast.Call) and part.name == "map_get" and len(part.args) == 2:
                    target, key = part.args
                    if isinstance(target, ast.Field) and target.path == ("input_event",) and \
                            isinstance(key, ast.Literal) and isinstance(key.value, str):
                        keys.add(key.value)
                elif isinstance(part, ast.Field) and len(part.path) > 1 and part.path[0] == "input_event":
                    keys.add(part.path[1])
    return sorted(keys)


def compile_for_file(plan: Plan, path: str) -> Script:
    """The plan as a script over one JSON-lines file, its event schema read from the file."""
    return compile_plan(plan, *infer_schema(path, event_keys(plan)))


def run_script(script: Script, input_path: str, parallelism: int | None = None) -> Iterator[dict]:
    """Run the script on a local PyFlink mini-cluster; the records in arrival order."""
    (records,) = run_scripts([(script, input_path)], parallelism)
    return iter(records)


def run_scripts(jobs: list[tuple[Script, str]], parallelism: int | None = None) -> list[list[dict]]:
    """Run several scripts, each over its input file, as ONE job on a local PyFlink mini-cluster (one
    INSERT per script in a statement set: the JVM, the cluster and the Python workers start once);
    each script's records in arrival order. Each script's tables and views live in a database of their
    own, so that their names do not meet. The job runs at parallelism 1 when any script is ordered."""
    try:
        from pyflink.table import EnvironmentSettings, TableEnvironment
    except ImportError:  # pragma: no cover - depends on the installation
        raise SplError(NOT_LOWERED, "--engine flink needs PyFlink", hint="pip install 'spl-lite[flink]'") from None
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("python.executable", sys.executable)  # the Python workers import spl_lite
    parallelism = parallelism or (1 if any(script.ordered for script, _ in jobs) else None)
    if parallelism:
        env.get_config().set("parallelism.default", str(parallelism))
    declared: set[str] = set()  # the Python functions are system-wide: declared once
    with tempfile.TemporaryDirectory(prefix="spl-lite-flink-") as directory:
        statement_set = env.create_statement_set()
        outputs = []
        for number, (script, input_path) in enumerate(jobs):
            output = os.path.join(directory, str(number))
            outputs.append(output)
            env.execute_sql(f"CREATE DATABASE `search{number}`")
            env.use_database(f"search{number}")
            *setup, insert = script.statements(os.path.abspath(input_path), output)
            for statement in setup:
                if statement not in declared:
                    env.execute_sql(statement)
                if statement in script.functions:
                    declared.add(statement)
            statement_set.add_insert_sql(insert)
        statement_set.execute().wait()
        return [_records_in(output, script.changelog) for output, (script, _) in zip(outputs, jobs)]


def _records_in(output: str, changelog: bool) -> list[dict]:
    """The records a script's sink wrote to the directory `output`, in arrival order (`__ord`, then the
    order columns). A changelog's lines are added and retracted: what stays is the records."""
    lines: collections.Counter = collections.Counter()
    for part in glob.glob(os.path.join(output, "**", "part-*"), recursive=True):
        with open(part, "rb") as stream:
            for line in filter(None, map(bytes.strip, stream)):
                if not changelog:
                    lines[line] += 1
                    continue
                change = orjson.loads(line)
                if change["before"] is not None:
                    lines[change["before"]["line"]] -= 1
                if change["after"] is not None:
                    lines[change["after"]["line"]] += 1
    rows = [orjson.loads(line) for line, count in lines.items() for _ in range(count)]
    rows.sort(key=lambda row: row["__ord"])
    for row in rows:
        del row["__ord"]
    return rows
