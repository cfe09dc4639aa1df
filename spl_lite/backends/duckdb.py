"""Lowering of a logical plan to one DuckDB SQL query, and running it (`--engine duckdb`).

The plan is walked node by node (never the text); each node becomes one or more CTEs built as
sqlglot expressions. Every SPL value gets a static kind at compile time:

    null, bool, int (BIGINT), double (DOUBLE), string (VARCHAR), json (a value of the input event,
    DuckDB JSON, where JSON null counts as null), ("list", kind) (a DuckDB LIST), ("map", ((key,
    kind), ...)) (a STRUCT: create_map with literal keys)

and every operator is lowered for the kinds of its operands, with the Python engine's rules
(null-safe `=`, Kleene AND/OR/NOT, `where` keeps only true, Java integer division). A kind or a
construct without a faithful lowering raises the E0405 diagnostic (lowering.not_lowered).

Arrival order: the source numbers its records (`read_json(...) WITH ORDINALITY`, one read per input
file, file index first), and every order-sensitive operator is a window function over that number.
Where the plan reads only some keys of its events, `run` reads just those (Compiler.keyed_source).

`compile_plan(plan)` gives a `Lowered` (the query and how to turn its rows into records);
`Lowered.run(paths)` runs it with DuckDB, imported only then.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Iterator

import sqlglot
from sqlglot import exp

from ..core.errors import NOT_LOWERED, SplError
from ..functions import FUNCTIONS
from ..plan.commands.adaptive_threshold import DEFAULT_THRESHOLDS, outputs_of
from ..plan.logical import Node, Plan
from ..syntax import ast
from .duckdb_functions import (COMPARE, EQUALS, JSON_OF_DOUBLE, NEGATE, QUANTILES, REX_GROUP, PythonFunction,
                               arithmetic_call, json_value, registry_call)
from .lowering import ExpressionLowering, function_support, not_lowered, re2_pattern, z_cutoffs

ENGINE = "DuckDB"
# The order key of what is emitted at the end of input: after every record.
_AFTER_ALL = 2**62
# A record's arrival number is file * _FILE_STRIDE + line: ordered as (file, line) without a sort of
# the whole input (a row_number window over it was the largest cost after the read), and below
# _AFTER_ALL for up to 2**22 input files of up to 2**40 lines each.
_FILE_STRIDE = 2**40
DIALECT = "duckdb"

Kind = Any  # str, or a tuple ("list", kind) / ("map", ((key, kind), ...))
NUMBERS = ("int", "double")


def _tpl(text: str, **parts: exp.Expression) -> exp.Expression:
    """A fixed SQL shape (code, not data) with :name placeholders filled by sqlglot expressions."""
    # DuckDB's dialect spells a placeholder $name (`:` would read as a prefix alias).
    text = _PLACEHOLDER.sub(r"$\1", text)
    return exp.replace_placeholders(sqlglot.parse_one(text, read=DIALECT), **parts)


_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _lit(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if value is True or value is False:
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.cast(exp.Literal.number(value), "BIGINT")
    if isinstance(value, float):
        return exp.cast(exp.Literal.string(repr(value)), "DOUBLE")
    return exp.Literal.string(value)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


@dataclass(frozen=True)
class V:
    """A lowered expression and its kind."""

    sql: exp.Expression
    kind: Kind

    @property
    def is_null_literal(self) -> bool:
        return self.kind == "null"


@dataclass
class Rel:
    """A node's output: its CTE, its fields in order as (field, column, kind), its order keys."""

    cte: str
    columns: list[tuple[str, str, Kind]]
    order: list[str]
    # `from source`: the event's own JSON object (a column) and what was done to it since, in order:
    # ("set", name, column, kind), ("drop", names), ("rename", old, new). `columns` then lists every
    # column carried (the event's first); the record is built from them when written.
    rest: str | None = None
    ops: tuple = ()

    def lookup(self, name: str) -> tuple[str, Kind] | None:
        if self.rest is not None:
            raise AssertionError("lookup on a `from source` relation")
        for field_name, column, kind in self.columns:
            if field_name == name:
                return column, kind
        return None

    def value(self, name: str) -> "V | None":
        """The field's value; None where no record has it (a `from source` record may lack any field)."""
        if self.rest is None:
            found = self.lookup(name)
            return None if found is None else V(_col(found[0]), found[1])
        for op in reversed(self.ops):
            if op[0] == "set" and op[1] == name:
                return V(_col(op[2]), op[3])
            if op[0] == "drop" and name in op[1]:
                return None
            if op[0] == "rename" and op[1] != op[2]:
                if name == op[2]:
                    name = op[1]
                elif name == op[1]:
                    return None
        path = '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return V(_tpl("json_extract(:v, :p)", v=_col(self.rest), p=exp.Literal.string(path)), "json")

    def assign(self, name: str, column: str, kind: Kind) -> tuple[list, tuple]:
        """(columns, ops) after setting field `name` to `column` (eval's rule: in place, else appended)."""
        if self.rest is None:
            return _set(self.columns, name, column, kind), ()
        return self.columns + [("\0op", column, kind)], self.ops + (("set", name, column, kind),)

    def with_(self, cte: str, columns=None, ops=None) -> "Rel":
        return Rel(cte, self.columns if columns is None else columns, self.order, self.rest,
                   self.ops if ops is None else ops)


@dataclass
class Lowered:
    """One plan as one DuckDB query: its SQL, its output fields and their kinds."""

    query: exp.Expression
    fields: list[tuple[str, Kind]]
    inputs: int
    writes: bool
    ops: tuple | None = None  # `from source`: fields are the carried columns, the record built by these
    # The Python functions the query calls (duckdb_functions), registered on the connection by `run`.
    functions: tuple[PythonFunction, ...] = ()
    # The same query reading only the keys the plan reads (Compiler.keyed_source), None when the plan
    # needs more of its events; `run` takes it when there is one.
    keyed_query: exp.Expression | None = None

    def sql(self, pretty: bool = True) -> str:
        return self.query.sql(dialect=DIALECT, pretty=pretty)

    def script(self) -> str:
        """The query as `compile --to duckdb` prints it: the Python functions it needs first, as comments."""
        notes = ""
        if self.functions:
            notes = ("-- This query calls Python functions of spl-lite that must be registered on the connection\n"
                     "-- (`spl-lite run --engine duckdb` registers them; from Python: Lowered.register(connection)):\n"
                     + "".join(f"--   {f.signature()}: {f.description}\n" for f in self.functions))
        return notes + self.sql() + ";"

    def register(self, connection) -> None:
        for function in self.functions:
            function.register(connection)

    def run(self, paths: list[str], threads: int | None = None, keyed: bool = True) -> Iterator[dict]:
        """The output records, in the order the Python engine writes them (`keyed=False`: by the plain
        query, which the tests compare with the keyed one)."""
        try:
            import duckdb
        except ImportError:  # pragma: no cover - depends on the installation
            raise SplError(
                NOT_LOWERED, "--engine duckdb needs the duckdb package",
                hint="pip install 'spl-lite[duckdb]'",
            ) from None
        if not self.writes:
            return
        config = {"threads": threads} if threads else {}
        con = duckdb.connect(config=config)
        try:
            if con.execute("SELECT count(*) FROM duckdb_settings() WHERE name = 'asof_loop_join_threshold'").fetchone()[0]:
                con.execute("SET asof_loop_join_threshold = 0")
            self.register(con)
            params = {f"path{i}": str(p) for i, p in enumerate(paths)}
            if len(paths) != self.inputs:
                raise ValueError(f"compiled for {self.inputs} input(s), given {len(paths)}")
            query = self.keyed_query if keyed and self.keyed_query is not None else self.query
            cursor = con.execute(query.sql(dialect=DIALECT), params)
            rows = cursor.fetchmany(8192)
            names = [name for name, _ in self.fields]
            converters = [_converter(kind) for _, kind in self.fields]
            while rows:
                for row in rows:
                    record = {n: c(v) for n, c, v in zip(names, converters, row)}
                    yield record if self.ops is None else _built(record, self.ops)
                rows = cursor.fetchmany(8192)
        finally:
            con.close()


def _built(columns: dict, ops: tuple) -> dict:
    """A `from source` record: the event's own object with the ops applied (as the Python engine's
    dict assignments, deletions and renames do it)."""
    record = columns["\0rest"]
    record = dict(record) if type(record) is dict else {}
    for op in ops:
        if op[0] == "set":
            record[op[1]] = columns[op[2]]
        elif op[0] == "drop":
            for name in op[1]:
                record.pop(name, None)
        elif op[1] in record and op[1] != op[2]:
            record.pop(op[2], None)
            record = {(op[2] if k == op[1] else k): v for k, v in record.items()}
    return record


def _converter(kind: Kind):
    """DuckDB's Python value of a column of `kind` -> the SPL value the Python engine would hold."""
    if kind == "json":
        return json_value
    if isinstance(kind, tuple) and kind[0] == "list":
        inner = _converter(kind[1])
        return lambda v: None if v is None else [inner(x) for x in v]
    if isinstance(kind, tuple) and kind[0] == "map":
        parts = [(k, _converter(k_kind)) for k, k_kind in kind[1]]
        return lambda v: None if v is None else {k: c(v[k]) for k, c in parts}
    if kind == "double":
        return lambda v: None if v is None else float(v)
    return lambda v: v


# ---------------------------------------------------------------------------------------------
class Compiler:
    def __init__(self, plan: Plan, inputs: int = 1):
        self.plan = plan
        self.inputs = max(1, inputs)
        self.ctes: list[tuple[str, exp.Expression]] = []
        self.names = itertools.count()
        self.rels: dict[int, Rel] = {}
        # The keys the plan reads of input_event, all extracted in one parse of each event
        # (json_extract with a list of paths): {event column: (keys column, {key: 1-based index})}.
        from ..plan.rules.projection import keys_read

        self.keys = sorted(keys_read(plan) or ())
        self.event_keys: dict[str, tuple[str, dict[str, int]]] = {}
        self.functions: dict[str, PythonFunction] = {}
        # The keyed reads (Compiler.keyed_source): {CTE name: its definition there (None: not needed)}
        # and the source columns they cannot give (the whole event), which the query may then only carry.
        self.keyed_ctes: dict[str, exp.Expression | None] = {}
        self.keyed_missing: set[str] = set()

    # ---- helpers ----
    def new_cte(self, select: exp.Expression, hint: str) -> str:
        name = f"n{len(self.ctes)}_{hint}"
        self.ctes.append((name, select))
        return name

    def new_column(self) -> str:
        return f"c{next(self.names)}"

    @staticmethod
    def fail(what: str, reason: str, span) -> SplError:
        return not_lowered(ENGINE, what, reason, span)

    def project(self, rel: Rel, extra: list[tuple[str, exp.Expression]] | None = None,
                columns: list[tuple[str, str, Kind]] | None = None, where: exp.Expression | None = None,
                hint: str = "") -> str:
        """SELECT order keys, the given columns (default rel's) and extra (column, expr) FROM rel."""
        cols = rel.columns if columns is None else columns
        select = exp.select(*[_col(o) for o in rel.order])
        seen = set()
        for _, column, _ in cols:
            if column not in seen and column not in dict(extra or []):
                select = select.select(_col(column), append=True)
                seen.add(column)
        for column, value in extra or []:
            select = select.select(exp.alias_(value, column, quoted=True), append=True)
        select = select.from_(exp.to_identifier(rel.cte))
        if where is not None:
            select = select.where(where)
        return self.new_cte(select, hint)

    # ---- the walk ----
    def compile(self) -> Lowered:
        sinks = [n for n in self.plan.nodes if n.command == "into"]
        from ..io.sinks import SINKS

        writing = [n for n in sinks if SINKS[n.name].writes]
        if len(writing) > 1:
            raise self.fail("a search with several writing `into`", "the engine writes one stream of records; "
                            "run each statement as its own search", writing[1].span)
        for node in self.plan.nodes:
            if writing and node.id > writing[0].id:
                break
            handler = getattr(self, "node_" + node.command, None)
            if handler is None:
                raise self.fail(f"command `{node.command}`", "no lowering yet", node.span)
            if node.command != "into":
                self.rels[node.id] = handler(node)
        if not writing:
            query = exp.select(exp.Literal.number(1)).where(exp.false())
            return Lowered(query, [], self.inputs, False)
        rel = self.rels[writing[0].inputs[0]]
        lowered = self._lowered(rel, self.ctes)
        keyed = [(name, self.keyed_ctes.get(name, cte)) for name, cte in self.ctes]
        keyed = [(name, cte) for name, cte in keyed if cte is not None]
        if self.keyed_ctes and _only_carried(keyed, self.keyed_missing, lowered.query):
            lowered.keyed_query = self._lowered(rel, keyed).query
        return lowered

    def _lowered(self, rel: Rel, ctes: list[tuple[str, exp.Expression]]) -> Lowered:
        """The query writing `rel` with these CTEs."""
        if rel.rest is not None:
            carried = list(dict((c, k) for _, c, k in rel.columns).items())
            select = exp.select(*[_col(c) for c, _ in carried]).from_(exp.to_identifier(rel.cte))
            select = _with_ctes(select.order_by(*[_col(o) for o in rel.order]), ctes)
            fields = [("\0rest" if c == rel.rest else c, k) for c, k in carried]
            return Lowered(select, fields, self.inputs, True, rel.ops, tuple(self.functions.values()))
        shown = [(f, c, k) for f, c, k in rel.columns if not f.startswith("\0")]
        select = exp.select(*[exp.alias_(_col(c), f, quoted=True) for f, c, _ in shown]) \
            if shown else exp.select(exp.Null())
        select = _with_ctes(select.from_(exp.to_identifier(rel.cte)).order_by(*[_col(o) for o in rel.order]), ctes)
        return Lowered(select, [(f, k) for f, _, k in shown], self.inputs, True, None,
                       tuple(self.functions.values()))

    # ---- commands ----
    def node_from(self, node: Node) -> Rel:
        if node.name not in ("read_ssa_enriched_events", "read_ba_enriched_events", "enriched_source", "source"):
            raise self.fail(f"source `{node.name}`", "no lowering", node.span)
        reads = []
        for i in range(self.inputs):
            read = _tpl(
                "SELECT :file AS file, ordinality AS line, json AS j FROM read_json(:path, "
                "format = 'newline_delimited', records = false, columns = {'json': 'JSON'}, "
                "ignore_errors = true, maximum_object_size = 1073741824) WITH ORDINALITY",
                file=exp.Literal.number(i), path=exp.Placeholder(this=f"path{i}"),
            )
            reads.append(read)
        raw = reads[0]
        for more in reads[1:]:
            raw = exp.union(raw, more, distinct=False)
        raw_name = self.new_cte(raw, "read")
        event, models, body = self.new_column(), self.new_column(), self.new_column()
        select = _tpl(
            "SELECT file * :file_stride + line AS __ord, "
            "CASE WHEN json_type(j, '$.input_event') = 'OBJECT' THEN j -> '$.input_event' ELSE j END AS :event "
            "FROM :raw WHERE json_type(j) = 'OBJECT'",
            event=exp.to_identifier(event, quoted=True), raw=exp.to_identifier(raw_name),
            file_stride=exp.Literal.number(_FILE_STRIDE),
        )
        events = self.new_cte(select, "events")
        with_models = _tpl(
            "SELECT __ord, :event, CASE WHEN json_type(:event, '$._datamodels') = 'ARRAY' "
            "THEN :event -> '$._datamodels' ELSE CAST('[]' AS JSON) END AS :models, "
            "CAST('{}' AS JSON) AS :body FROM :events",
            event=_col(event), models=exp.to_identifier(models, quoted=True),
            body=exp.to_identifier(body, quoted=True), events=exp.to_identifier(events),
        )
        if node.name == "source":
            return Rel(events, [("\0rest", event, "json")], ["__ord"], rest=event)
        if self.keys:
            keys_column = self.new_column()
            paths = exp.Array(expressions=[exp.Literal.string(_json_path(k)) for k in self.keys])
            with_models = with_models.select(
                exp.alias_(exp.func("json_extract", _col(event), paths), keys_column, quoted=True), append=True)
            self.event_keys[event] = (keys_column, {k: i + 1 for i, k in enumerate(self.keys)})
            name = self.new_cte(with_models, "source")
            self.keyed_source(raw_name, events, name, event, models, body, keys_column)
            return Rel(name, [("input_event", event, "json"), ("_datamodels", models, "json"), ("body", body, "json"),
                              ("\0keys", keys_column, "hidden")], ["__ord"])
        name = self.new_cte(with_models, "source")
        return Rel(name, [("input_event", event, "json"), ("_datamodels", models, "json"), ("body", body, "json")],
                   ["__ord"])

    def keyed_source(self, raw: str, events: str, source: str, event: str, models: str, body: str,
                     keys_column: str) -> None:
        """The source CTEs of the keyed read: `read_json` of each line as a STRUCT of the keys read
        (and `input_event`, for the SSA wrapper), which spares parsing each line again and moving it
        whole (the read is about 8 times faster than the plain one). It is decided per line: a line
        that is null or not JSON reads as a NULL struct, no event, as in the plain read; a line that
        is an object without any of those keys, an array or a scalar all read as a struct of NULLs,
        and of those only the objects are events, which a second, light pass over the file
        (read_ndjson_objects, the line's first character) tells. The query is kept only where the
        whole event is merely carried."""
        wanted = [*self.keys, "input_event"]
        if len({k.lower() for k in wanted}) < len(wanted):
            return  # DuckDB's struct field names ignore case
        struct = exp.DataType.build("STRUCT(" + ", ".join(
            exp.to_identifier(k, quoted=True).sql(dialect=DIALECT) + " JSON" for k in wanted) + ")", dialect=DIALECT)
        columns = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier("v"),
                                                         expression=exp.Literal.string(struct.sql(dialect=DIALECT)))])
        reads, lines = [], []
        for i in range(self.inputs):
            number = dict(file=exp.Literal.number(i), stride=exp.Literal.number(_FILE_STRIDE),
                          path=exp.Placeholder(this=f"path{i}"))
            reads.append(_tpl(
                "SELECT :file * :stride + ordinality AS __ord, v FROM read_json(:path, format = 'newline_delimited', "
                "records = false, columns = :columns, ignore_errors = true, maximum_object_size = 1073741824) "
                "WITH ORDINALITY", columns=columns, **number))
            # The lines that are not objects, numbered as read_json numbers them (both skip blank lines;
            # tests check it). The text test spares typing the objects, nearly every line.
            lines.append(_tpl(
                "SELECT :file * :stride + ordinality AS __ord FROM read_ndjson_objects(:path, ignore_errors = true, "
                "maximum_object_size = 1073741824) WITH ORDINALITY "
                "WHERE NOT starts_with(json, '{') AND json_type(json) <> 'OBJECT'", **number))
        raw_select, not_objects = reads[0], lines[0]
        for more in reads[1:]:
            raw_select = exp.union(raw_select, more, distinct=False)
        for more in lines[1:]:
            not_objects = exp.union(not_objects, more, distinct=False)

        def field(key: str) -> exp.Expression:
            return exp.func("struct_extract", _col("v"), exp.Literal.string(key))

        wrapper = field("input_event")
        own = exp.Array(expressions=[field(k) for k in self.keys])
        wrapped = exp.func("json_extract", wrapper,
                           exp.Array(expressions=[exp.Literal.string(_json_path(k)) for k in self.keys]))
        none_read = exp.and_(*[exp.Is(this=field(k), expression=exp.Null()) for k in wanted])
        parts = dict(event=exp.to_identifier(event, quoted=True), models=exp.to_identifier(models, quoted=True),
                     body=exp.to_identifier(body, quoted=True), keys=exp.to_identifier(keys_column, quoted=True),
                     wrapper=wrapper, wrapped=wrapped, own=own, none_read=none_read, raw=exp.to_identifier(raw),
                     not_objects=exp.to_identifier(events))
        self.keyed_ctes = {raw: raw_select, events: not_objects, source: _tpl(
            "SELECT __ord, CAST(NULL AS JSON) AS :event, CAST(NULL AS JSON) AS :models, CAST(NULL AS JSON) AS :body, "
            "CASE WHEN json_type(:wrapper) = 'OBJECT' THEN :wrapped ELSE :own END AS :keys FROM :raw "
            "WHERE v IS NOT NULL AND NOT (:none_read AND __ord IN (SELECT __ord FROM :not_objects))", **parts)}
        self.keyed_missing |= {event, models, body}

    def node_into(self, node: Node) -> None:
        return None  # the writing sink's input is the query's result (compile)

    def _input(self, node: Node) -> Rel:
        return self.rels[node.inputs[0]]

    def node_eval(self, node: Node) -> Rel:
        rel = self._input(node)
        for name, expression in node.assignments:
            value = Expressions(self, rel).lower(expression)
            column = self.new_column()
            columns, ops = rel.assign(name, column, value.kind)
            cte = self.project(rel, [(column, value.sql)], columns, hint="eval")
            rel = rel.with_(cte, columns, ops)
        return rel

    def node_where(self, node: Node) -> Rel:
        rel = self._input(node)
        predicate = Expressions(self, rel).truth(node.predicate)
        cte = self.project(rel, where=exp.Is(this=exp.paren(predicate.sql), expression=exp.true()), hint="where")
        return rel.with_(cte)

    def node_select(self, node: Node) -> Rel:
        rel = self._input(node)
        lowering = Expressions(self, rel)
        columns, extra = [], []
        for name, expression in node.items:
            value = lowering.lower(expression)
            column = self.new_column()
            extra.append((column, value.sql))
            columns = [c for c in columns if c[0] != name] + [(name, column, value.kind)]
        cte = self.project(rel, extra, columns, hint="select")
        return Rel(cte, columns, rel.order)

    def node_fields(self, node: Node) -> Rel:
        rel = self._input(node)
        names = [f.name for f in node.names]
        if node.drop:
            if rel.rest is not None:
                return rel.with_(rel.cte, ops=rel.ops + (("drop", tuple(names)),))
            columns = [c for c in rel.columns if c[0] not in names]
            return Rel(self.project(rel, columns=columns, hint="fields"), columns, rel.order)
        columns, extra = [], []
        for f in node.names:
            found = rel.value(f.name) or V(exp.Null(), "null")  # a listed field a record lacks is null
            column = self.new_column()
            extra.append((column, found.sql))
            columns = [c for c in columns if c[0] != f.name] + [(f.name, column, found.kind)]
        return Rel(self.project(rel, extra, columns, hint="fields"), columns, rel.order)

    def node_rename(self, node: Node) -> Rel:
        rel = self._input(node)
        if rel.rest is not None:
            return rel.with_(rel.cte, ops=rel.ops + tuple(("rename", old, new) for old, new in node.pairs))
        columns = list(rel.columns)
        for old, new in node.pairs:
            names = [c[0] for c in columns]
            if old in names and old != new:
                columns = [c for c in columns if c[0] != new]
                index = [c[0] for c in columns].index(old)
                columns[index] = (new, columns[index][1], columns[index][2])
        return Rel(rel.cte, columns, rel.order)

    def node_rex(self, node: Node) -> Rel:
        rel = self._input(node)
        source = Expressions(self, rel).field_value(node.field, node.span)
        text = Expressions.as_string(source)
        pattern, _ = re2_pattern(node.pattern, node.flags)
        if pattern is None or _optional_groups(node.pattern):
            # A Java construct RE2 has not, or a group that may take no part in a match (regexp_extract
            # gives '' where the engine gives null): the engine's own matcher, in Python.
            self.functions[REX_GROUP.name] = REX_GROUP
            target, extra = rel, []
            for group in node.groups:
                column = self.new_column()
                extra.append((column, exp.Anonymous(this=REX_GROUP.name, expressions=[
                    text, exp.Literal.string(node.pattern), exp.Literal.string(node.flags),
                    exp.Literal.string(group)])))
                columns, ops = target.assign(group, column, "string")
                target = target.with_(target.cte, columns, ops)
            return target.with_(self.project(rel, extra, target.columns, hint="rex"))
        matched = self.new_column()
        base = self.project(rel, [(matched, _tpl("regexp_matches(:t, :p)", t=text, p=exp.Literal.string(pattern)))],
                            hint="rex")
        original = rel
        rel = rel.with_(base, rel.columns + [("\0matched", matched, "bool")])
        names = _group_names(node.pattern)
        extra = []
        target = original
        for group in node.groups:
            column = self.new_column()
            # regexp_extract by the group's number (by name it wants the list of every name).
            extra.append((column, _tpl("CASE WHEN :m THEN regexp_extract(:t, :p, :g) END", m=_col(matched), t=text,
                                       p=exp.Literal.string(pattern), g=exp.Literal.number(names.index(group) + 1))))
            columns, ops = target.assign(group, column, "string")
            target = target.with_(target.cte, columns, ops)
        cte = self.project(rel, extra, target.columns, hint="rex")
        return target.with_(cte)

    def node_union(self, node: Node) -> Rel:
        """UNION ALL ordered as the Python engine merges (spec 5.8): by the branches' first order key (the
        source record a record came from), then the branch's position, then the branch's own order."""
        branches = [self.rels[i] for i in node.inputs]
        if any(b.rest is not None for b in branches):
            raise self.fail("command `union` of `from source` pipelines", "their records' fields are only known "
                            "at run time", node.span)
        shown = [[c for c in b.columns if not c[0].startswith("\0")] for b in branches]
        names = [f for f, _, _ in shown[0]]
        if any([f for f, _, _ in columns] != names for columns in shown[1:]):
            raise self.fail("command `union` of branches with different fields", "a record keeps only its own "
                            "fields, in an order that depends on which branches have records in a batch", node.span)
        kinds = []
        for i, name in enumerate(names):
            found = {columns[i][2] for columns in shown} - {"null"}
            if len(found) > 1:
                if "double" in found or any(isinstance(k, tuple) for k in found):
                    raise self.fail(f"command `union` with field `{name}` of kinds "
                                    f"{', '.join(sorted(map(_kind_name, found)))}", "a column holds one kind", node.span)
                found = {"json"}
            kinds.append(found.pop() if found else "null")
        width = max(len(b.order) for b in branches)
        order = [self.new_column() for _ in range(width + 1)]
        columns = [(name, self.new_column(), kind) for name, kind in zip(names, kinds)]
        selects = []
        for position, (branch, own) in enumerate(zip(branches, shown)):
            keys = [_col(o) for o in branch.order]
            keys = keys[:1] + [exp.Literal.number(position)] + keys[1:] + [exp.Literal.number(0)] * (width - len(keys))
            select = exp.select(*[exp.alias_(exp.cast(k, "BIGINT"), o, quoted=True) for k, o in zip(keys, order)])
            lowering = Expressions(self, branch)
            for (_, column, kind), (name, target, wanted) in zip(own, columns):
                value = V(_col(column), kind)
                sql = lowering.as_json(value, node.span) if wanted == "json" and kind != "json" else value.sql
                select = select.select(exp.alias_(sql, target, quoted=True), append=True)
            selects.append(select.from_(exp.to_identifier(branch.cte)))
        merged = selects[0]
        for select in selects[1:]:
            merged = exp.union(merged, select, distinct=False)
        return Rel(self.new_cte(merged, "union"), columns, order)

    def node_stats(self, node: Node) -> Rel:
        """Event-time windows exactly as engine/windows.py emits them (spec 5.7).

        With wm(i) the largest event time up to record i: record i joins the pane (window end E, group)
        for every window [E - size, E) holding its time with E + grace > wm(i) (else it is late), and
        window E is emitted at the first record with wm >= E + grace (at the end of input if none),
        its groups in the order they entered it. Output order: the emitting record, E, the group's entry.
        """
        rel = self._input(node)
        lowering = Expressions(self, rel)
        size, slide, grace = node.size_ms, node.slide_ms or node.size_ms, node.grace_ms or 0
        ts = self._event_time(lowering.lower(node.timestamp), node.timestamp.span)
        groups = [(g.name, lowering.lower(g)) for g in node.group_by]
        values = [(f, None if a is None else lowering.lower(a), n, a.span if a is not None else node.span)
                  for f, a, n in node.aggregations]
        order = [o for o in rel.order]
        rows_select = exp.select(*[_col(o) for o in order], exp.alias_(
            exp.Window(this=exp.func("row_number"), order=exp.Order(expressions=[exp.Ordered(this=_col(o))
                                                                                for o in order])), "__pos"),
            exp.alias_(ts, "__ts"))
        for i, (name, value) in enumerate(groups):
            rows_select = rows_select.select(exp.alias_(self._key_of(value, f"`stats` BY `{name}`", node.span),
                                                        f"__k{i}"), exp.alias_(value.sql, f"__g{i}"), append=True)
        for j, (_, value, _, _) in enumerate(values):
            if value is not None:
                rows_select = rows_select.select(exp.alias_(value.sql, f"__a{j}"), append=True)
        numbered = self.new_cte(rows_select.from_(exp.to_identifier(rel.cte)), "stats_rows")
        names = dict(numbered=exp.to_identifier(numbered), size=exp.Literal.number(size),
                     slide=exp.Literal.number(slide), grace=exp.Literal.number(grace),
                     copies=exp.Literal.number(-(-size // slide)))
        timed = self.new_cte(_tpl("SELECT *, max(__ts) OVER (ORDER BY __pos ROWS UNBOUNDED PRECEDING) AS __wm "
                                  "FROM :numbered WHERE __ts IS NOT NULL", **names), "stats_timed")
        names["timed"] = exp.to_identifier(timed)
        # Every window [start, start + size) with start = k * slide holding ts, the latest first.
        placed = self.new_cte(_tpl(
            "SELECT * FROM (SELECT r.*, r.__ts - ((r.__ts % :slide) + :slide) % :slide - w.k * :slide + :size AS __end "
            "FROM :timed AS r CROSS JOIN range(0, :copies) AS w(k)) WHERE __end > __ts AND __end + :grace > __wm",
            **names), "stats_placed")
        keys = [exp.column(f"__k{i}") for i in range(len(groups))]
        panes_select = exp.select(exp.column("__end"), exp.alias_(exp.func("min", exp.column("__pos")), "__first"))
        kinds = []
        for i, (name, value) in enumerate(groups):
            panes_select = panes_select.select(exp.alias_(
                exp.func("arg_min", exp.column(f"__g{i}"), exp.column("__pos")), f"__g{i}"), append=True)
            kinds.append(value.kind)
        for j, (function, value, name, span) in enumerate(values):
            sql, kind = self._aggregate(function, None if value is None else V(exp.column(f"__a{j}"), value.kind),
                                        name, span)
            panes_select = panes_select.select(exp.alias_(sql, f"__v{j}"), append=True)
            kinds.append(kind)
        panes_select = panes_select.from_(exp.to_identifier(placed)).group_by(exp.column("__end"), *keys)
        panes = self.new_cte(panes_select, "stats_panes")
        names["panes"] = exp.to_identifier(panes)
        steps = self.new_cte(_tpl("SELECT __wm AS step_wm, min(__pos) AS step_pos FROM :timed GROUP BY __wm", **names),
                             "stats_steps")
        names["steps"] = exp.to_identifier(steps)
        triggered = self.new_cte(_tpl("SELECT p.*, s.step_pos AS __trigger FROM :panes AS p ASOF LEFT JOIN :steps AS s "
                                      "ON p.__end + :grace <= s.step_wm", **names), "stats_triggered")
        # The emitting record's order keys (after every record for what the end of input flushes), then E,
        # then the group's entry into the window.
        new_order = [self.new_column() for _ in order] + [self.new_column(), self.new_column()]
        select = exp.select(*[exp.alias_(exp.func("coalesce", _col(o, "t"), exp.Literal.number(_AFTER_ALL)),
                                         n, quoted=True) for o, n in zip(order, new_order)])
        select = select.select(exp.alias_(_col("__end", "p"), new_order[-2], quoted=True),
                               exp.alias_(_col("__first", "p"), new_order[-1], quoted=True), append=True)
        columns = []
        outputs = [exp.column(f"__g{i}", "p") for i in range(len(groups))] + \
                  [exp.column(f"__v{j}", "p") for j in range(len(values))] + [
            _tpl("p.__end - :size", **names), exp.column("__end", "p"), _tpl("p.__end - 1")]
        for field, sql, kind in zip(node.fields, outputs, kinds + ["int", "int", "int"]):
            column = self.new_column()
            select = select.select(exp.alias_(sql, column, quoted=True), append=True)
            columns = [c for c in columns if c[0] != field] + [(field, column, kind)]
        select = select.from_(exp.alias_(exp.to_identifier(triggered), "p")).join(
            exp.alias_(exp.to_identifier(timed), "t"), on=_tpl("t.__pos = p.__trigger"), join_type="LEFT")
        return Rel(self.new_cte(select, "stats"), columns, new_order)

    def _event_time(self, value: V, span) -> exp.Expression:
        """Epoch milliseconds as BIGINT, as engine/windows.py reads them: fractional doubles floored, else null."""
        if value.kind == "int":
            return value.sql
        if value.kind == "double":
            return _tpl("CASE WHEN isfinite(:v) THEN TRY_CAST(floor(:v) AS BIGINT) END", v=value.sql)
        if value.kind == "json":
            return _tpl("CASE json_type(:v) WHEN 'BIGINT' THEN CAST(:v AS BIGINT) WHEN 'UBIGINT' THEN TRY_CAST(:v AS BIGINT) "
                        "WHEN 'DOUBLE' THEN TRY_CAST(floor(CAST(:v AS DOUBLE)) AS BIGINT) END", v=value.sql)
        return exp.cast(exp.Null(), "BIGINT")

    def _aggregate(self, function: str, value: V | None, name: str, span) -> tuple[exp.Expression, Kind]:
        """One aggregation over a pane's rows (engine/windows.py AGGREGATIONS), and its kind."""
        if function == "count":
            if value is None:
                return exp.func("count", exp.Star()), "int"
            if value.kind == "json":
                return _tpl("count(*) FILTER (WHERE NOT (:v IS NULL OR json_type(:v) = 'NULL'))", v=value.sql), "int"
            return exp.func("count", value.sql), "int"
        if value is None or value.kind == "null":
            if function == "dc":
                return exp.Literal.number(0), "int"
            if function == "values":
                return exp.cast(exp.Array(expressions=[]), "VARCHAR[]"), ("list", "null")
            return exp.Null(), "null"
        v = value.sql
        numeric = "json_type(:v) IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
        # Doubles add in arrival order, one rounding a step, as the Python engine's running sum does.
        ordered_sum = ("CASE WHEN count(:x) > 0 THEN list_reduce(list(:x ORDER BY __pos) FILTER (WHERE :x IS NOT NULL), "
                       "lambda a, b: a + b) END")
        if function in ("sum", "avg"):
            if value.kind == "int":
                total, kind = _tpl("CAST(sum(:v) AS BIGINT)", v=v), "int"
            elif value.kind == "double":
                total, kind = _tpl(ordered_sum, x=v), "double"
            elif value.kind == "json":
                ints = _tpl("CAST(sum(TRY_CAST(:v AS BIGINT)) FILTER (WHERE json_type(:v) IN ('BIGINT', 'UBIGINT')) AS BIGINT)",
                            v=v)
                doubles = _tpl(ordered_sum, x=_tpl(f"CASE WHEN {numeric} THEN CAST(:v AS DOUBLE) END", v=v))
                any_double = _tpl("bool_or(json_type(:v) = 'DOUBLE')", v=v)
                if function == "avg":
                    return _tpl("CASE WHEN :d THEN :f / count(*) FILTER (WHERE " + numeric + ") ELSE CAST(:i AS DOUBLE) / "
                                "count(*) FILTER (WHERE " + numeric + ") END", d=any_double, f=doubles, i=ints, v=v), "double"
                # Both arms as text: a CASE of two to_json calls would be folded into one over the doubles.
                return _tpl("CAST(CASE WHEN :d THEN CAST(to_json(:f) AS VARCHAR) ELSE CAST(:i AS VARCHAR) END AS JSON)",
                            d=any_double, f=doubles, i=ints), "json"
            else:
                return exp.Null(), "null"  # strings and booleans are skipped like nulls
            if function == "avg":
                return _tpl("CAST(:t AS DOUBLE) / count(:v)", t=total, v=v), "double"
            return total, kind
        if function in ("min", "max"):
            pick = "arg_min" if function == "min" else "arg_max"
            # Ties keep the first value seen.
            tie = "__pos" if function == "min" else "-__pos"
            if value.kind in ("int", "string"):
                return exp.func(function, v), value.kind
            if value.kind == "double":
                return _tpl(f"{pick}(:v, {{'x': :v, 'p': {tie}}}) FILTER (WHERE NOT isnan(:v))", v=v), "double"
            if value.kind == "json":
                return _tpl(f"coalesce({pick}(:v, {{'x': TRY_CAST(:v AS DOUBLE), 'p': {tie}}}) FILTER (WHERE {numeric}), "
                            f"{pick}(:v, {{'x': :v ->> '$', 'p': {tie}}}) FILTER (WHERE json_type(:v) = 'VARCHAR'))",
                            v=v), "json"
            if value.kind == "bool":
                return exp.Null(), "null"
        if function == "dc" and value.kind in ("int", "string", "bool", "json"):
            return exp.func("count", exp.Distinct(expressions=[self._key_of(value, f"`dc` of `{name}`", span)])), "int"
        if function in ("first", "last") and not isinstance(value.kind, tuple):
            pick = "arg_min" if function == "first" else "arg_max"
            present = _tpl("NOT (:v IS NULL OR json_type(:v) = 'NULL')", v=v) if value.kind == "json" else \
                _tpl(":v IS NOT NULL", v=v)
            return _tpl(f"{pick}(:v, __pos) FILTER (WHERE :p)", v=v, p=present), value.kind
        if function == "values" and value.kind in ("int", "string", "bool"):
            seen = _tpl("coalesce(list(:v ORDER BY __pos) FILTER (WHERE :v IS NOT NULL), [])", v=v)
            return _tpl("list_filter(:l, lambda x, i: list_position(:l, x) = i)", l=seen), ("list", value.kind)
        raise self.fail(f"`{function}` over values of kind {_kind_name(value.kind)} (`{name}`)",
                        "no exact lowering", span)

    def _key(self, rel: Rel, name: str, span, command: str) -> exp.Expression:
        """A grouping key: equal keys exactly when the values are equal (`=`)."""
        found = rel.value(name)
        return self._key_of(found, f"`{command}` over field `{name}`", span)

    def _key_of(self, found: V | None, what: str, span) -> exp.Expression:
        if found is None or found.kind == "null":
            return exp.Null()
        if found.kind == "json":
            # An event value grouped by a tagged text that is equal exactly when `=` says so: numbers by
            # value (1 and 1.0 alike), strings, booleans; lists and maps by their JSON text.
            return _tpl(
                "CASE json_type(:v) WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN 's' || (:v ->> '$') "
                "WHEN 'BOOLEAN' THEN 'b' || CAST(:v AS VARCHAR) WHEN 'BIGINT' THEN 'n' || CAST(:v AS VARCHAR) "
                "WHEN 'UBIGINT' THEN 'n' || CAST(:v AS VARCHAR) "
                "WHEN 'DOUBLE' THEN 'n' || CASE WHEN CAST(:v AS DOUBLE) = trunc(CAST(:v AS DOUBLE)) "
                "AND abs(CAST(:v AS DOUBLE)) < 9.2e18 THEN CAST(CAST(CAST(:v AS DOUBLE) AS BIGINT) AS VARCHAR) "
                "ELSE CAST(CAST(:v AS DOUBLE) AS VARCHAR) END ELSE 'j' || CAST(:v AS VARCHAR) END", v=found.sql)
        if found.kind not in ("string", "int", "bool"):
            raise self.fail(what, f"its values are of kind {_kind_name(found.kind)}; "
                            "only strings, integers, booleans and event values are grouped", span)
        return found.sql

    def node_first_time_event(self, node: Node) -> Rel:
        rel = self._input(node)
        keys = [self._key(rel, name, node.span, "first_time_event") for name in node.columns]
        window = exp.Window(this=exp.func("row_number"), partition_by=keys,
                            order=exp.Order(expressions=[exp.Ordered(this=_col(o)) for o in rel.order]))
        column = self.new_column()
        value = exp.EQ(this=window, expression=exp.Literal.number(1))
        columns, ops = rel.assign(node.output, column, "bool")
        return rel.with_(self.project(rel, [(column, value)], columns, hint="first_time"), columns, ops)

    def node_conditional_anomaly(self, node: Node) -> Rel:
        rel = self._input(node)
        c_key = self._key(rel, node.conditional, node.span, "conditional_anomaly")
        t_key = self._key(rel, node.target, node.span, "conditional_anomaly")
        column = self.new_column()
        if isinstance(c_key, exp.Null) or isinstance(t_key, exp.Null):
            columns, ops = rel.assign("output", column, "null")
            return rel.with_(self.project(rel, [(column, exp.Null())], columns, hint="lift"), columns, ops)
        order = exp.Order(expressions=[exp.Ordered(this=_col(o)) for o in rel.order])
        present, c_col, t_col = self.new_column(), self.new_column(), self.new_column()
        marked = self.project(rel, [(c_col, c_key), (t_col, t_key)], hint="lift_keys")
        base = rel.with_(marked, rel.columns + [("\0c", c_col, "any"), ("\0t", t_col, "any")])
        marked = self.project(base, [(present, _tpl(":c IS NOT NULL AND :t IS NOT NULL", c=_col(c_col), t=_col(t_col)))],
                              hint="lift_present")
        base = base.with_(marked, base.columns + [("\0present", present, "bool")])
        counts = {}
        extra = []
        for label, partition in (("n_all", []), ("n_c", [c_col]), ("n_t", [t_col]), ("n_ct", [c_col, t_col])):
            counts[label] = self.new_column()
            window = _running(exp.func("count", exp.Star()), [_col(present)] + [_col(p) for p in partition], order)
            extra.append((counts[label], window))
        counted = self.project(base, extra, hint="lift_counts")
        lift = _tpl(
            "CASE WHEN :present THEN CAST(:n_ct * :n_all AS DOUBLE) / CAST(:n_c * :n_t AS DOUBLE) END",
            present=_col(present), **{k: _col(v) for k, v in counts.items()},
        )
        columns, ops = rel.assign("output", column, "double")
        return rel.with_(self.project(base.with_(counted), [(column, lift)], columns, hint="lift"), columns, ops)

    def node_adaptive_threshold(self, node: Node) -> Rel:
        rel = self._input(node)
        outputs = outputs_of(node.algorithm)
        x = rel.value(node.value)
        ts = rel.value(node.timestamp)
        if x is None or ts is None or x.kind == "null" or ts.kind == "null":
            target = rel
            extra = []
            for name in outputs:
                column = self.new_column()
                extra.append((column, exp.false() if name == "label" else exp.Null()))
                columns, ops = target.assign(name, column, "bool" if name == "label" else "null")
                target = target.with_(target.cte, columns, ops)
            return target.with_(self.project(rel, extra, target.columns, hint="at"))
        for name, value in ((node.value, x), (node.timestamp, ts)):
            if value.kind not in NUMBERS + ("json",):
                raise self.fail(f"adaptive_threshold field `{name}`", f"its kind is {_kind_name(value.kind)}; "
                                "only numbers and event values lower", node.span)
        x_sql, ts_sql = exp.cast(self._model_number(x), "DOUBLE"), self._model_number(ts)
        entity = exp.Null()
        if node.entity:
            entity = self._key(rel, node.entity, node.span, "adaptive_threshold entity")
        threshold = node.threshold if node.threshold is not None else DEFAULT_THRESHOLDS[node.algorithm]
        order = [_col(o) for o in rel.order]
        # 1. number the rows in arrival order, and mark the ones scored (number and timestamp present).
        pos, xv, tv, ent, kept = (self.new_column() for _ in range(5))
        numbered = self.project(rel, [
            (pos, exp.Window(this=exp.func("row_number"), order=exp.Order(expressions=[exp.Ordered(this=o) for o in order]))),
            (xv, x_sql),
            (tv, ts_sql),
            (ent, entity),
            (kept, _tpl(":x IS NOT NULL AND NOT isnan(:x) AND :t IS NOT NULL AND NOT isnan(:t)", x=x_sql,
                        t=exp.cast(ts_sql, "DOUBLE"))),
        ], hint="at_rows")
        names = dict(pos=exp.to_identifier(pos, quoted=True), x=exp.to_identifier(xv, quoted=True),
                     ts=exp.to_identifier(tv, quoted=True), ent=exp.to_identifier(ent, quoted=True),
                     kept=exp.to_identifier(kept, quoted=True), src=exp.to_identifier(numbered),
                     window=exp.Literal.number(node.window_ms or 0))
        kept_rows = self.new_cte(_tpl(
            "SELECT :pos AS pos, :x AS x, :ts AS ts, :ent AS ent, "
            "max(:ts) OVER (ORDER BY :pos ROWS UNBOUNDED PRECEDING) AS wm FROM :src WHERE :kept", **names), "at_kept")
        names["kept_rows"] = exp.to_identifier(kept_rows)
        if node.window_ms:
            # e: the first row whose watermark reaches ts + W; the row is in the histories of the rows in (pos, e).
            # The cut-off wm - W as the engine computes it (in doubles for a double watermark), a column of
            # its own: an expression in the ASOF condition would make DuckDB join every pair.
            steps = self.new_cte(_tpl("SELECT wm - :window AS step_cutoff, min(pos) AS step_pos FROM :kept_rows "
                                      "GROUP BY wm", **names), "at_steps")
            names["steps"] = exp.to_identifier(steps)
            expiry = self.new_cte(_tpl(
                "SELECT k.*, s.step_pos AS e FROM :kept_rows AS k ASOF LEFT JOIN :steps AS s "
                "ON k.ts <= s.step_cutoff", **names), "at_expiry")
        else:
            expiry = self.new_cte(_tpl("SELECT k.*, CAST(NULL AS BIGINT) AS e FROM :kept_rows AS k", **names),
                                  "at_expiry")
        names["expiry"] = exp.to_identifier(expiry)
        if node.algorithm == "quantile":
            scored, kinds = self._quantiles(names, threshold), {"quantile": "double"}
        else:
            scored, kinds = self._gaussian(names, threshold), {"mean": "double", "variance": "double"}
        # 3. every row of the input with its scores (null, and label false, where not scored).
        columns = {name: self.new_column() for name in outputs}
        joined = exp.select(*[_col(o, "a") for o in rel.order])
        for column in dict.fromkeys(c for _, c, _ in rel.columns):
            joined = joined.select(_col(column, "a"), append=True)
        for name in outputs:
            value = exp.func("coalesce", _col(name, "b"), exp.false()) if name == "label" else _col(name, "b")
            joined = joined.select(exp.alias_(value, columns[name], quoted=True), append=True)
        joined = joined.from_(exp.alias_(exp.to_identifier(numbered), "a")).join(
            exp.alias_(exp.to_identifier(scored), "b"), on=exp.EQ(this=_col(pos, "a"), expression=_col("pos", "b")),
            join_type="LEFT")
        cte = self.new_cte(joined, "at")
        target = rel
        for name in outputs:
            new_columns, ops = target.assign(name, columns[name], kinds.get(name, "bool"))
            target = target.with_(cte, new_columns, ops)
        return target

    @staticmethod
    def _model_number(value: V) -> exp.Expression:
        """A model input as the Python engine reads it: an integer as it is, a double or a number of the
        event as DOUBLE (time arithmetic in doubles is exact for integers below 2**53), else null."""
        if value.kind == "json":
            return _tpl("CASE WHEN json_type(:v) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST(:v AS DOUBLE) END",
                        v=value.sql)
        return value.sql if value.kind == "int" else exp.cast(value.sql, "DOUBLE")

    def _quantiles(self, names: dict, threshold: float) -> str:
        """2. quantile: each entity's rows as lists in arrival order, ranked by a Python function
        (duckdb_functions.QUANTILES); no SQL aggregate gives the rank of a value among the rows of a
        sliding, non-contiguous frame without visiting every pair."""
        self.functions[QUANTILES.name] = QUANTILES
        ranked = self.new_cte(_tpl(
            "SELECT unnest(p) AS pos, unnest(q) AS quantile FROM (SELECT list(pos ORDER BY pos) AS p, "
            f"{QUANTILES.name}(list(x ORDER BY pos), list(e ORDER BY pos), list(pos ORDER BY pos)) AS q "
            "FROM :expiry GROUP BY ent)", **names), "at_quantiles")
        return self.new_cte(_tpl(
            "SELECT pos, quantile, quantile < :low OR quantile > :high AS label FROM :ranked",
            ranked=exp.to_identifier(ranked), low=_lit(threshold), high=_lit(1.0 - threshold)), "at_label")

    def _gaussian(self, names: dict, threshold: float) -> str:
        """2. gaussian: the history's exact moments from running sums over a stream of join and leave
        events per entity, then mean, variance and the tail rule as cut-offs on z."""
        z_low, z_high = z_cutoffs(threshold)
        moments = self.new_cte(_tpl(
            "SELECT pos, x, ent, e, (e IS NULL OR e > pos) AS joins, "
            # Fixed point in base 2, exact where a value's last bit is worth 2**-64 or more: x * 2**64,
            # and x*x as Dekker's pair (p + e exactly) at 2**64 and 2**128.
            "CAST(x * 18446744073709551616.0 AS HUGEINT) AS sx, "
            "CAST((x * x) * 18446744073709551616.0 AS HUGEINT) AS sq, "
            f"CAST({_product_error('x', 'x')} * 340282366920938463463374607431768211456.0 AS HUGEINT) AS sl, "
            "CAST(dense_rank() OVER (ORDER BY x) AS HUGEINT) AS r FROM :expiry", **names), "at_moments")
        names["moments"] = exp.to_identifier(moments)
        # 2. per entity, a stream of events: a row leaves (at e, before the row at e is scored), is scored,
        # joins (after being scored); running sums over it give each row's history.
        events = self.new_cte(_tpl(
            "SELECT ent, e AS at, 0 AS step, NULL AS pos, NULL AS x, NULL AS r, "
            "-1 AS dn, -sx AS ds, -sq AS dq, -sl AS dl, -r AS dr, -r * r AS dr2 FROM :moments WHERE joins AND e IS NOT NULL "
            "UNION ALL SELECT ent, pos AS at, 1 AS step, pos, x, r, 0, 0, 0, 0, 0, 0 FROM :moments "
            "UNION ALL SELECT ent, pos AS at, 2 AS step, NULL, NULL, NULL, 1, sx, sq, sl, r, r * r FROM :moments WHERE joins",
            **names), "at_events")
        names["events"] = exp.to_identifier(events)
        history = self.new_cte(_tpl(
            "SELECT * FROM (SELECT step, pos, x, r, "
            "sum(dn) OVER w AS n, sum(ds) OVER w AS s, sum(dq) OVER w AS q, sum(dl) OVER w AS ql, sum(dr) OVER w AS sr, sum(dr2) OVER w AS sr2 "
            "FROM :events WINDOW w AS (PARTITION BY ent ORDER BY at, step ROWS UNBOUNDED PRECEDING)) WHERE step = 1",
            **names), "at_history")
        names["history"] = exp.to_identifier(history)
        # Mean and variance rounded once from the (decimal) sums, as the Python engine rounds its exact
        # sums: double-double arithmetic (Dekker's products) on the sums split in two doubles.
        split = self.new_cte(_tpl(
            "SELECT pos, x, r, n, sr, n > 0 AND CAST(n AS HUGEINT) * sr2 = sr * sr AS constant, "
            "CAST(n AS DOUBLE) AS nd, CAST(s AS DOUBLE) * 5.421010862427522e-20 AS s_hi, "
            "CAST(s - CAST(CAST(s AS DOUBLE) AS HUGEINT) AS DOUBLE) * 5.421010862427522e-20 AS s_lo, "
            "CAST(q AS DOUBLE) * 5.421010862427522e-20 AS q_hi, "
            "CAST(q - CAST(CAST(q AS DOUBLE) AS HUGEINT) AS DOUBLE) * 5.421010862427522e-20 "
            "+ CAST(ql AS DOUBLE) * 2.938735877055719e-39 AS q_lo "
            "FROM :history WHERE n > 0", **names), "at_split")
        names["split"] = exp.to_identifier(split)
        products = self.new_cte(_tpl(
            "SELECT *, s_hi * s_hi AS p1, "
            f"{_product_error('s_hi', 's_hi')} + 2 * s_hi * s_lo AS e1, nd * q_hi AS p2, "
            f"{_product_error('nd', 'q_hi')} + nd * q_lo AS e2, s_hi / nd AS m1, nd * nd AS nn FROM :split",
            **names), "at_products")
        names["products"] = exp.to_identifier(products)
        difference = self.new_cte(_tpl(
            "SELECT *, p2 - p1 AS h, (p2 - ((p2 - p1) - ((p2 - p1) - p2))) + (-p1 - ((p2 - p1) - p2)) AS t, "
            f"s_hi - m1 * nd - ({_product_error('m1', 'nd')}) AS m_rem FROM :products", **names), "at_difference")
        names["difference"] = exp.to_identifier(difference)
        normalised = self.new_cte(_tpl(
            "SELECT *, h + (t + e2 - e1) AS hh, (t + e2 - e1) - ((h + (t + e2 - e1)) - h) AS ll, "
            "m1 + (m_rem + s_lo) / nd AS mean FROM :difference", **names), "at_normalised")
        names["normalised"] = exp.to_identifier(normalised)
        quotient = self.new_cte(_tpl("SELECT *, hh / nn AS v1 FROM :normalised", **names), "at_quotient")
        names["quotient"] = exp.to_identifier(quotient)
        stats = self.new_cte(_tpl(
            "SELECT pos, x, r, n, sr, constant, mean, "
            f"v1 + ((hh - v1 * nn - ({_product_error('v1', 'nn')})) + ll) / nn AS variance FROM :quotient "
            "UNION ALL SELECT pos, x, r, n, sr, false, NULL, NULL FROM :history WHERE n = 0", **names), "at_stats")
        names["stats"] = exp.to_identifier(stats)
        names.update(z_low=exp.Literal.number(repr(z_low)), z_high=exp.Literal.number(repr(z_high)))
        return self.new_cte(_tpl(
            "SELECT pos, mean, CASE WHEN constant THEN 0.0 ELSE variance END AS variance, "
            "CASE WHEN n = 0 THEN false WHEN constant THEN r * n <> sr WHEN variance = 0 THEN x <> mean "
            "ELSE (x - mean) / sqrt(variance) <= :z_low OR (x - mean) / sqrt(variance) >= :z_high END AS label "
            "FROM :stats", **names), "at_label")


# strftime's format variables (functions/time.py) in UTC: fixed texts, and DuckDB expressions of the
# moment :t (zero-padded by lpad: DuckDB's own %Y does not pad years before 1000).
_STRFTIME_FIXED = {"Z": "UTC", "z": "+0000", "n": "\n", "t": "\t", "%": "%"}
_STRFTIME_SQL = {
    "Y": "lpad(CAST(year(:t) AS VARCHAR), 4, '0')",
    "m": "lpad(CAST(month(:t) AS VARCHAR), 2, '0')",
    "d": "lpad(CAST(day(:t) AS VARCHAR), 2, '0')",
    "H": "lpad(CAST(hour(:t) AS VARCHAR), 2, '0')",
    "M": "lpad(CAST(minute(:t) AS VARCHAR), 2, '0')",
    "S": "lpad(CAST(second(:t) AS VARCHAR), 2, '0')",
    "j": "lpad(CAST(dayofyear(:t) AS VARCHAR), 3, '0')",
    "y": "lpad(CAST(year(:t) % 100 AS VARCHAR), 2, '0')",
    "F": "lpad(CAST(year(:t) AS VARCHAR), 4, '0') || strftime(:t, '-%m-%d')",
    "T": "strftime(:t, '%H:%M:%S')",
    "R": "strftime(:t, '%H:%M')",
    "s": "CAST(epoch(:t) AS BIGINT)",
}


def _strftime_parts(fmt: str) -> list[tuple[str, str, str, str, str]]:
    """(literal, width, N or Q, ":z", code): the pieces of a format, read as functions/time.py reads it."""
    from ..functions.time import _DIRECTIVE

    parts, at = [], 0
    for found in _DIRECTIVE.finditer(fmt):
        if found.start() > at:
            parts.append((fmt[at:found.start()], "", "", "", ""))
        width, subsecond, colon_z, code = found.groups()
        parts.append(("", width or "", subsecond or "", colon_z or "", code if code is not None else "\0end"))
        at = found.end()
    if at < len(fmt):
        parts.append((fmt[at:], "", "", "", ""))
    return parts


def _with_ctes(select: exp.Select, ctes: list[tuple[str, exp.Expression]]) -> exp.Select:
    for name, cte in ctes:
        select = select.with_(name, as_=cte, copy=False)  # no copy of the query so far per CTE
    return select


def _only_carried(ctes: list[tuple[str, exp.Expression]], columns: set[str], query: exp.Expression) -> bool:
    """Whether these columns are only ever selected as they are (carried, never read or written out)."""
    for _, cte in ctes:
        for column in cte.find_all(exp.Column):
            if column.name in columns and not isinstance(column.parent, exp.Select):
                return False
    written = query.expressions + [query.args.get("order")]
    return not any(column.name in columns for part in written if part for column in part.find_all(exp.Column))


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _product_error(a: str, b: str) -> str:
    """SQL for the rounding error of a * b (Dekker's split, doubles only): a * b + error is exact."""
    def split(v: str) -> tuple[str, str]:
        high = f"(134217729.0 * {v} - (134217729.0 * {v} - {v}))"
        return high, f"({v} - {high})"

    ah, al = split(a)
    bh, bl = split(b)
    return f"((({ah} * {bh} - {a} * {b}) + {ah} * {bl} + {al} * {bh}) + {al} * {bl})"


def _running(function: exp.Expression, partition: list[exp.Expression], order: exp.Order) -> exp.Expression:
    return exp.Window(this=function, partition_by=partition, order=order,
                      spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                                          end="CURRENT ROW"))


def _set(columns, name, column, kind):
    """Field `name` set to `column`: in its place if present, else appended (eval's rule)."""
    if any(c[0] == name for c in columns):
        return [(f, column, kind) if f == name else (f, c, k) for f, c, k in columns]
    return list(columns) + [(name, column, kind)]


def _group_names(pattern: str) -> list[str | None]:
    """Every capturing group of a Java pattern in order: its name, or None when unnamed."""
    import re

    names, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "(":
            named = re.match(r"\(\?P?<([A-Za-z][A-Za-z0-9]*)>", pattern[i:])
            if named:
                names.append(named.group(1))
            elif not pattern.startswith("(?", i):
                names.append(None)
        i += 1
    return names


def _optional_groups(pattern: str) -> bool:
    """Whether a group might not take part in a match: any `|`, `?`, `*` or `{0` after a `)` (crude, safe)."""
    import re

    return "|" in pattern.replace("\\|", "") or bool(re.search(r"\)(\?|\*|\{0)", pattern))


def _holds_double(kind: Kind) -> bool:
    if kind == "double":
        return True
    if isinstance(kind, tuple):
        return _holds_double(kind[1]) if kind[0] == "list" else any(_holds_double(k) for _, k in kind[1])
    return False


def _kind_name(kind: Kind) -> str:
    if isinstance(kind, tuple):
        return "list" if kind[0] == "list" else "map"
    return {"json": "any (a value of the input event)"}.get(kind, kind)


# ---------------------------------------------------------------------------------------------
# The registry's functions DuckDB does not lower, and why; every other one has an `f_` method below
# or is called in Python (PYTHON_CALLS).
NOT_LOWERED_FUNCTIONS: dict[str, str] = {}

# Registry functions SQL has no exact lowering for, called in Python on each row's values
# (duckdb_functions.registry_call, exact by construction), with the kind of value each gives.
PYTHON_CALLS = {
    "replace": "string", "cidrmatch": "bool", "parse_double": "double", "exp": "double", "pow": "double",
    "in": "bool", "length": "int", "substr": "string", "tostring": "string", "to_string": "string",
    "serialize_json": "string", "to_json_string": "string", "from_json_object": "json",
    "deserialize_json_object": "json", "mvrange": "json",
}
# cast's value by its target type (functions/cast.py parse_type); lists and maps are event-shaped values.
_CAST_KINDS = {"string": "string", "integer": "int", "long": "int", "float": "double", "double": "double",
               "boolean": "bool", "any": "json", "map": "json", "collection": "json"}


class Expressions(ExpressionLowering):
    """Lowering of expressions (AST, names bound) over one relation's columns."""

    engine = ENGINE
    not_lowered_functions = NOT_LOWERED_FUNCTIONS

    def __init__(self, compiler: Compiler, rel: Rel):
        self.compiler, self.rel = compiler, rel

    def x_Call(self, node: ast.Call):
        args = [a.value if isinstance(a, ast.NamedArgument) else a for a in node.args]
        if node.name in PYTHON_CALLS and not hasattr(self, "f_" + node.name):
            return self.python_call(node, args, PYTHON_CALLS[node.name])
        try:
            return super().x_Call(node)
        except SplError as refused:
            # A registry function SQL cannot give exactly for these arguments (their kinds are known
            # only at run time, a pattern is not a literal, ...): the function itself, in Python, its
            # value as an event value. Arguments that do not lower keep the first diagnostic.
            # cast's refusal is its target (bytes), which has no SQL value in Python either.
            if refused.code != NOT_LOWERED or node.name not in FUNCTIONS or node.name == "cast":
                raise
            try:
                return self.python_call(node, args, "json")
            except SplError:
                raise refused from None

    def python_call(self, node: ast.Call, args: list, result: Kind) -> V:
        """Registry function `node.name` called in Python on each row's values (a DuckDB Python
        function, registered when the query runs), giving a value of kind `result`."""
        kinds, sql = [], []
        for arg in args:
            if isinstance(arg, ast.Regex):
                kinds.append("regex")
                sql += [exp.Literal.string(arg.pattern), exp.Literal.string(arg.flags)]
                continue
            value = self.lower(arg)
            if value.kind in ("string", "int", "double", "bool", "json"):
                kinds.append(value.kind)
                sql.append(value.sql)
            else:  # null, a list or a map: as an event value
                kinds.append("json")
                sql.append(self.as_json(value, arg.span))
        function = registry_call(node.name, tuple(kinds), result)
        self.compiler.functions[function.name] = function
        return V(function.call(sql), result)

    def f_cast(self, node, args) -> V:
        from ..functions.cast import parse_type

        target = parse_type(self._literal_arg(node, args, 1))
        if target not in _CAST_KINDS:
            raise self.fail(f"cast to \"{target}\"", "DuckDB has no value of that kind", args[1].span)
        return self.python_call(node, args, _CAST_KINDS[target])

    # ---- values ----
    def field_value(self, name: str, span) -> V:
        found = self.rel.value(name)
        return V(exp.Null(), "null") if found is None else found

    def x_Literal(self, node: ast.Literal) -> V:
        value = node.value
        kind = ("null" if value is None else "bool" if isinstance(value, bool) else "int" if isinstance(value, int)
                else "double" if isinstance(value, float) else "string" if isinstance(value, str) else None)
        if kind is None:
            raise self.fail("literal", f"of type {type(value).__name__}", node.span)
        if kind == "int" and not -(2**63) <= value < 2**63:
            raise self.fail("integer literal", "beyond 64 bits", node.span)
        return V(_lit(value), kind)

    def x_Duration(self, node: ast.Duration) -> V:
        return V(_lit(node.millis), "int")

    def x_Field(self, node: ast.Field) -> V:
        value = self.field_value(node.path[0], node.span)
        for key in node.path[1:]:
            value = self._get(value, key, node.span)
        return value

    def _get(self, value: V, key: str, span) -> V:
        if value.kind == "null":
            return value
        if value.kind == "json":
            if isinstance(value.sql, exp.Column) and value.sql.name in self.compiler.event_keys:
                keys_column, index = self.compiler.event_keys[value.sql.name]
                if key in index:
                    return V(exp.Anonymous(this="list_extract", expressions=[
                        _col(keys_column), exp.Literal.number(index[key])]), "json")
            return V(_tpl("json_extract(:v, :p)", v=value.sql, p=exp.Literal.string(_json_path(key))), "json")
        if isinstance(value.kind, tuple) and value.kind[0] == "map":
            for k, kind in value.kind[1]:
                if k == key:
                    return V(exp.Anonymous(this="struct_extract", expressions=[value.sql, exp.Literal.string(k)]), kind)
            return V(exp.Null(), "null")
        return V(exp.Null(), "null")  # a key of anything but a map is null (an error there, in the engine)

    def x_Index(self, node: ast.Index) -> V:
        """`list[i]` (negative from the end, null out of range) and `map["key"]`; null for anything else."""
        target = self.lower(node.target)
        if not isinstance(node.index, ast.Literal) or not isinstance(node.index.value, (int, str)) \
                or isinstance(node.index.value, bool):
            raise self.fail("indexing with an index that is not an integer or string literal", "no lowering",
                            node.index.span)
        index = node.index.value
        is_list = isinstance(target.kind, tuple) and target.kind[0] == "list"
        is_map = isinstance(target.kind, tuple) and target.kind[0] == "map"
        if isinstance(index, str):
            return self._get(target, index, node.span) if is_map or target.kind == "json" else V(exp.Null(), "null")
        if is_list:
            # list_extract: 1-based, negative from the end, null out of range.
            return V(exp.Anonymous(this="list_extract", expressions=[target.sql, exp.Literal.number(
                index + 1 if index >= 0 else index)]), target.kind[1])
        if target.kind == "json":
            path = f"$[{index}]" if index >= 0 else f"$[#{index}]"
            return V(_tpl("json_extract(:v, :p)", v=target.sql, p=exp.Literal.string(path)), "json")
        return V(exp.Null(), "null")

    def x_ListLiteral(self, node: ast.ListLiteral) -> V:
        items = [self.lower(i) for i in node.items]
        kinds = {i.kind for i in items if i.kind != "null"}
        if len(kinds) > 1:
            # Items of several kinds: a list of the event's shape (JSON), as a DuckDB LIST holds one kind.
            return V(exp.func("json_array", *[self.as_json(i, s.span) for i, s in zip(items, node.items)]), "json")
        if not items:
            return V(exp.cast(exp.Literal.string("[]"), "JSON"), "json")
        kind = kinds.pop() if kinds else "null"
        return V(exp.Array(expressions=[i.sql for i in items]), ("list", kind))

    # ---- predicates ----
    def truth(self, node: ast.Expr) -> V:
        """A value used as a predicate: booleans as they are; anything else is null."""
        value = self.lower(node)
        if value.kind == "bool":
            return value
        if value.kind == "json":
            return V(_tpl("CASE WHEN json_type(:v) = 'BOOLEAN' THEN CAST(:v AS BOOLEAN) END", v=value.sql), "bool")
        return V(exp.cast(exp.Null(), "BOOLEAN"), "bool")

    def x_Logical(self, node: ast.Logical) -> V:
        parts = [self.truth(o).sql for o in node.operands]
        joined = exp.and_(*parts) if node.op.lower() == "and" else exp.or_(*parts)
        return V(exp.paren(joined), "bool")

    def x_Unary(self, node: ast.Unary) -> V:
        if node.op == "not":
            return V(exp.paren(exp.not_(self.truth(node.operand).sql)), "bool")
        value = self.lower(node.operand)
        if value.kind == "null":
            return value
        if value.kind == "json":
            self.compiler.functions[NEGATE.name] = NEGATE
            return V(NEGATE.call([value.sql]), "json")
        if value.kind not in NUMBERS:
            return V(exp.Null(), "null")
        return V(exp.paren(exp.Neg(this=value.sql)), value.kind)

    def null_check(self, value: V) -> exp.Expression:
        if value.kind == "null":
            return exp.true()
        if value.kind == "json":
            return _tpl("(:v IS NULL OR json_type(:v) = 'NULL')", v=value.sql)
        return exp.Is(this=value.sql, expression=exp.Null())

    def x_IsNull(self, node: ast.IsNull) -> V:
        check = self.null_check(self.lower(node.value))
        return V(exp.paren(exp.not_(check)) if node.negated else check, "bool")

    def equality(self, left: V, right: V, span) -> exp.Expression:
        """Null-safe `=` (never null): null = null, numbers by value, no coercion between kinds."""
        if left.kind == "null":
            return self.null_check(right)
        if right.kind == "null":
            return self.null_check(left)
        if left.kind == "json" or right.kind == "json":
            other, json_side = (right, left) if left.kind == "json" else (left, right)
            if other.kind == "string":
                return _tpl("coalesce(json_type(:j) = 'VARCHAR' AND (:j ->> '$') = :o, false)", j=json_side.sql, o=other.sql)
            if other.kind == "bool":
                return _tpl("coalesce(json_type(:j) = 'BOOLEAN' AND CAST(:j AS BOOLEAN) = :o, false)", j=json_side.sql,
                            o=other.sql)
            if other.kind == "int":
                # Integers exactly; a double of the event by value (exact up to 2**53).
                return _tpl("coalesce(CASE json_type(:j) WHEN 'BIGINT' THEN CAST(:j AS HUGEINT) = :o "
                            "WHEN 'UBIGINT' THEN CAST(:j AS HUGEINT) = :o "
                            "WHEN 'DOUBLE' THEN CAST(:j AS DOUBLE) = CAST(:o AS DOUBLE) END, false)",
                            j=json_side.sql, o=other.sql)
            if other.kind == "double":
                return _tpl("coalesce(json_type(:j) IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND CAST(:j AS DOUBLE) = :o "
                            "AND NOT isnan(:o), false)", j=json_side.sql, o=other.sql)
            return self._python_equality(left, right, span)
        if left.kind in NUMBERS and right.kind in NUMBERS:
            if "double" in (left.kind, right.kind):
                return _tpl("coalesce(CAST(:a AS DOUBLE) = CAST(:b AS DOUBLE) AND NOT isnan(CAST(:a AS DOUBLE)), "
                            "(:a IS NULL AND :b IS NULL))", a=left.sql, b=right.sql)
            return exp.NullSafeEQ(this=left.sql, expression=right.sql)
        if left.kind == right.kind and left.kind in ("string", "bool"):
            return exp.NullSafeEQ(this=left.sql, expression=right.sql)
        if left.kind != right.kind and not (isinstance(left.kind, tuple) or isinstance(right.kind, tuple)):
            return _tpl("(:a IS NULL AND :b IS NULL)", a=left.sql, b=right.sql)
        return self._python_equality(left, right, span)

    def _python_equality(self, left: V, right: V, span) -> exp.Expression:
        """`=` of lists and maps: the engine's own equality, in Python, on their JSON forms."""
        self.compiler.functions[EQUALS.name] = EQUALS
        return EQUALS.call([self.as_json(left, span), self.as_json(right, span)])

    def x_In(self, node: ast.In) -> V:
        value = self.lower(node.value)
        tests = []
        for option in node.options:
            lowered = self.lower(option)
            if isinstance(lowered.kind, tuple):
                raise self.fail("`in` with a list", "no lowering", option.span)
            if lowered.kind == "json" and value.kind in ("string", "bool"):
                # A list in the event contributes its elements (compared as minified JSON texts).
                tests.append(_tpl("coalesce(CASE WHEN json_type(:o) = 'ARRAY' THEN list_contains(CAST(:o AS JSON[]), "
                                  "to_json(:v)) ELSE :eq END, false)", o=lowered.sql, v=value.sql,
                                  eq=self.equality(value, lowered, node.span)))
                continue
            tests.append(self.equality(value, lowered, node.span))
        found = exp.paren(exp.or_(*tests)) if tests else exp.false()
        return V(exp.paren(exp.not_(found)) if node.negated else found, "bool")

    def x_Binary(self, node: ast.Binary) -> V:
        op = node.op.lower()
        left, right = self.lower(node.left), self.lower(node.right)
        if op in ("=", "!="):
            test = self.equality(left, right, node.span)
            return V(exp.paren(exp.not_(test)) if op == "!=" else test, "bool")
        if op in ("<", "<=", ">", ">="):
            return self.ordering(op, left, right, node.span)
        if op == "like":
            return self.call_like(left, right, node)
        if op in ("+", "-", "*", "/", "%"):
            return self.arithmetic(op, left, right, node.span)
        raise self.fail(f"operator `{node.op}`", "no lowering", node.span)

    def ordering(self, op: str, left: V, right: V, span) -> V:
        builder = {"<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[op]
        if "null" in (left.kind, right.kind):
            return V(exp.cast(exp.Null(), "BOOLEAN"), "bool")
        if left.kind in NUMBERS and right.kind in NUMBERS:
            if "double" in (left.kind, right.kind):
                a, b = exp.cast(left.sql, "DOUBLE"), exp.cast(right.sql, "DOUBLE")
                return V(_tpl("CASE WHEN NOT isnan(:a) AND NOT isnan(:b) THEN :test END", a=a, b=b,
                              test=builder(this=a, expression=b)), "bool")
            return V(exp.paren(builder(this=left.sql, expression=right.sql)), "bool")
        if left.kind == right.kind and left.kind in ("string", "bool"):
            return V(exp.paren(builder(this=left.sql, expression=right.sql)), "bool")
        if left.kind in ("json",) or right.kind in ("json",) or isinstance(left.kind, tuple) or isinstance(right.kind, tuple):
            # A side's kind is known only at run time: the engine's own ordering, in Python.
            self.compiler.functions[COMPARE.name] = COMPARE
            order = COMPARE.call([self.as_json(left, span), self.as_json(right, span)])
            return V(exp.paren(builder(this=order, expression=exp.Literal.number(0))), "bool")
        return V(exp.cast(exp.Null(), "BOOLEAN"), "bool")  # kinds that do not order: null

    def arithmetic(self, op: str, left: V, right: V, span) -> V:
        if "null" in (left.kind, right.kind):
            return V(exp.Null(), "null")
        if op == "+" and left.kind == right.kind == "string":
            return V(exp.paren(exp.DPipe(this=left.sql, expression=right.sql)), "string")
        if op == "+" and {left.kind, right.kind} == {"string", "json"}:
            # string + event value: concatenated when the event value is a string, else null.
            return V(exp.paren(exp.DPipe(this=self.as_string(left), expression=self.as_string(right))), "string")
        if "json" in (left.kind, right.kind) and {left.kind, right.kind} <= {"json", *NUMBERS}:
            # A side's kind is known only at run time: the engine's own arithmetic, in Python.
            function = arithmetic_call(op, (left.kind, right.kind))
            self.compiler.functions[function.name] = function
            return V(function.call([left.sql, right.sql]), "json")
        if left.kind not in NUMBERS or right.kind not in NUMBERS:
            return V(exp.Null(), "null")  # a string, boolean, list or map with a number or event value
        if left.kind == right.kind == "int":
            a, b = left.sql, right.sql
            if op == "/":
                return V(_tpl("CASE WHEN :b <> 0 THEN :a // :b END", a=a, b=b), "int")
            if op == "%":
                return V(_tpl("CASE WHEN :b <> 0 THEN :a % :b END", a=a, b=b), "int")
            builder = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[op]
            return V(exp.paren(builder(this=a, expression=b)), "int")
        a, b = exp.cast(left.sql, "DOUBLE"), exp.cast(right.sql, "DOUBLE")
        if op == "/":
            return V(_tpl("CASE WHEN :b <> 0 THEN :a / :b WHEN :a = 0 OR isnan(:a) THEN 'NaN'::DOUBLE "
                          "WHEN :a > 0 THEN 'Infinity'::DOUBLE ELSE '-Infinity'::DOUBLE END", a=a, b=b), "double")
        if op == "%":
            return V(_tpl("CASE WHEN :b <> 0 THEN fmod(:a, :b) ELSE 'NaN'::DOUBLE END", a=a, b=b), "double")
        builder = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[op]
        return V(exp.paren(builder(this=a, expression=b)), "double")

    @staticmethod
    def as_string(value: V) -> exp.Expression:
        """A string, or null for a value of any other kind (as text_arg would error to null)."""
        if value.kind == "string":
            return value.sql
        if value.kind == "json":
            return _tpl("CASE WHEN json_type(:v) = 'VARCHAR' THEN :v ->> '$' END", v=value.sql)
        return exp.cast(exp.Null(), "VARCHAR")

    def call_like(self, text: V, pattern: V, node) -> V:
        if not isinstance(node.right if isinstance(node, ast.Binary) else node.args[1], ast.Literal) \
                or pattern.kind != "string":
            raise self.fail("`like` with a pattern that is not a string literal", "no lowering", node.span)
        # DuckDB's LIKE has no escape character unless given one: a backslash is literal, as in SPL.
        if text.kind not in ("string", "json", "null"):
            return V(exp.cast(exp.Null(), "BOOLEAN"), "bool")
        return V(exp.Like(this=self.as_string(text), expression=pattern.sql), "bool")

    # ---- calls ----
    def f_map_get(self, node, args) -> V:
        key = self._literal_arg(node, args, 1)
        return self._get(self.lower(args[0]), key, node.span)

    def f_ucast(self, node, args) -> V:
        from ..functions.cast import parse_type

        target = parse_type(self._literal_arg(node, args, 1))
        value, default = self.lower(args[0]), self.lower(args[2])
        if target in ("map", "collection", "any"):
            return self._ucast_json(node, target, value, default)
        wanted = {"string": "string", "long": "int", "integer": "int", "double": "double", "float": "double",
                  "boolean": "bool"}.get(target)
        if wanted is None:
            raise self.fail(f"ucast to \"{target}\"", "only string, long, integer, double, float and boolean lower",
                            node.span)
        if default.kind not in ("null", wanted):
            raise self.fail("ucast with a default of another kind", "a column holds one kind", args[2].span)
        if value.kind == "json":
            checks = {"string": "json_type(:v) = 'VARCHAR'", "int": "json_type(:v) IN ('BIGINT', 'UBIGINT')",
                      "double": "json_type(:v) IN ('BIGINT', 'UBIGINT', 'DOUBLE')", "bool": "json_type(:v) = 'BOOLEAN'"}
            sql_type = {"string": "VARCHAR", "int": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN"}[wanted]
            converted = (_tpl(":v ->> '$'", v=value.sql) if wanted == "string" else
                         exp.cast(value.sql, sql_type))
            return V(_tpl(f"CASE WHEN {checks[wanted]} THEN :c ELSE :d END", v=value.sql, c=converted,
                          d=default.sql), wanted)
        if value.kind == "null":
            return V(default.sql, wanted)
        if value.kind == wanted or (wanted == "double" and value.kind == "int"):
            converted = exp.cast(value.sql, "DOUBLE") if wanted == "double" else value.sql
            return V(exp.func("coalesce", converted, default.sql), wanted)
        return V(default.sql, wanted)

    def as_json(self, value: V, span) -> exp.Expression:
        """A value as DuckDB JSON (null stays SQL NULL)."""
        if value.kind == "json":
            return value.sql
        if value.kind == "null":
            return exp.cast(exp.Null(), "JSON")
        if value.kind == "double":
            self.compiler.functions[JSON_OF_DOUBLE.name] = JSON_OF_DOUBLE
            return exp.cast(JSON_OF_DOUBLE.call([value.sql]), "JSON")
        if _holds_double(value.kind):
            raise self.fail("a double inside an event-shaped value", "DuckDB's JSON text of doubles is not "
                            "the Python engine's", span)
        if isinstance(value.kind, tuple) and value.kind[1] == "null" and value.kind[0] == "list":
            return exp.cast(exp.Literal.string("[]"), "JSON")
        return exp.func("to_json", value.sql)

    def _ucast_json(self, node, target: str, value: V, default: V) -> V:
        """ucast to map, collection or any: checks the type only; the result is kept as JSON."""
        fallback = self.as_json(default, node.span)
        if value.kind == "null":
            return V(fallback, "json")
        if target == "any":
            return V(exp.func("coalesce", self.as_json(value, node.span), fallback), "json")
        if value.kind != "json":
            ok = (target == "map" and isinstance(value.kind, tuple) and value.kind[0] == "map") or \
                 (target == "collection" and isinstance(value.kind, tuple) and value.kind[0] == "list")
            if not ok:
                return V(fallback, "json")
            return V(exp.func("coalesce", self.as_json(value, node.span), fallback), "json")
        wanted = "OBJECT" if target == "map" else "ARRAY"
        return V(_tpl(f"CASE WHEN json_type(:v) = '{wanted}' THEN :v ELSE :d END", v=value.sql, d=fallback), "json")

    def x_MapLiteral(self, node: ast.MapLiteral) -> V:
        if not node.entries:
            return V(exp.cast(exp.Literal.string("{}"), "JSON"), "json")
        return self.f_create_map(node, [part for entry in node.entries for part in entry])

    @staticmethod
    def _json_text(v: exp.Expression) -> exp.Expression:
        """Java's String.valueOf of an event value (a list or map: its JSON text)."""
        return _tpl("CASE json_type(:v) WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN :v ->> '$' "
                    "WHEN 'DOUBLE' THEN CAST(CAST(:v AS DOUBLE) AS VARCHAR) ELSE CAST(:v AS VARCHAR) END", v=v)

    def f_concat(self, node, args) -> V:
        items = [i for a in args for i in (a.items if isinstance(a, ast.ListLiteral) else (a,))]
        values = [self.lower(i) for i in items]
        if any(v.kind not in ("string", "int", "bool", "null") for v in values):
            # Java's text of a double, and event values (a list among several arguments makes the
            # whole null, a lone one is joined): the engine's own concat, in Python. The named form's
            # items go as arguments; a lone item gets an empty text beside it, so that it is not
            # taken for the list of values.
            if len(items) == 1 and len(args) == 1 and isinstance(args[0], ast.ListLiteral):
                items = items + [ast.Literal(value="", span=node.span)]
            return self.python_call(node, items, "string")
        pieces = [v.sql if v.kind == "string" else exp.cast(v.sql, "VARCHAR") for v in values]
        if not pieces:
            return V(exp.Literal.string(""), "string")
        result = pieces[0]
        for piece in pieces[1:]:
            result = exp.DPipe(this=result, expression=piece)
        return V(exp.paren(result), "string")

    def f_time(self, node, args) -> V:
        # Processing time: DuckDB's clock at the query's start (the Python engine reads its clock per batch).
        return V(_tpl("epoch_ms(get_current_timestamp())"), "int")

    def f_strftime(self, node, args) -> V:
        fmt = self._literal_arg(node, args, 1)
        zone = self._literal_arg(node, args, 2, (str, type(None)))
        from ..functions.time import strftime

        if strftime(0, "%z", zone) != "+0000" or strftime(15_778_800_000, "%z", zone) != "+0000":
            raise self.fail(f"strftime in time zone {zone!r}", "only UTC (and the zones that fall back to it) "
                            "lowers", args[2].span)
        value = self.lower(args[0])
        # The time in nanoseconds as functions/time.py counts it: exact for an integer, a fraction of a
        # millisecond rounded half to even at the nanosecond; not a number: null (an error there).
        from_double = "CAST(round_even(CAST(:v AS DOUBLE) * 1000000.0, 0) AS HUGEINT)"
        if value.kind == "int":
            ns = _tpl("CAST(:v AS HUGEINT) * 1000000", v=value.sql)
        elif value.kind == "double":
            ns = _tpl(f"CASE WHEN isfinite(:v) THEN {from_double} END", v=value.sql)
        elif value.kind == "json":
            ns = _tpl(f"CASE json_type(:v) WHEN 'DOUBLE' THEN {from_double} WHEN 'BIGINT' THEN CAST(:v AS HUGEINT) * 1000000 "
                      "WHEN 'UBIGINT' THEN CAST(:v AS HUGEINT) * 1000000 END", v=value.sql)
        else:
            return V(exp.Null(), "null")
        nanos = _tpl("((:ns % 1000000000) + 1000000000) % 1000000000", ns=ns)
        moment = _tpl("make_timestamp(CAST((:ns - :nanos) // 1000 AS BIGINT))", ns=ns, nanos=nanos)
        pieces = []
        for literal, width, subsecond, colon_z, code in _strftime_parts(fmt):
            if literal:
                pieces.append(exp.Literal.string(literal))
            elif subsecond:
                digits = int(width or (3 if subsecond == "Q" else 9))
                pieces.append(_tpl(f"left(lpad(CAST(:nanos AS VARCHAR), 9, '0'), {digits})", nanos=nanos))
            elif colon_z:
                pieces.append(exp.Literal.string("+00:00"))
            elif code in _STRFTIME_FIXED:
                pieces.append(exp.Literal.string(_STRFTIME_FIXED[code]))
            elif code in _STRFTIME_SQL:
                pieces.append(_tpl(_STRFTIME_SQL[code], t=moment))
            else:
                raise self.fail(f"strftime format variable %{code}", "no lowering yet", args[1].span)
        result = pieces[0] if pieces else exp.Literal.string("")
        for piece in pieces[1:]:
            result = exp.DPipe(this=result, expression=piece)
        return V(_tpl("CASE WHEN :ns IS NOT NULL THEN :r END", ns=ns, r=exp.paren(result)), "string")

    def f_if(self, node, args) -> V:
        return self.f_case(node, args)

    def f_case(self, node, args) -> V:
        """The value after the first true condition; a null condition counts as false, any other value
        is an error (the whole call null), as in functions/conditional.py."""
        if len(args) % 2 and node.name == "case":
            raise self.fail("case with an odd number of arguments", "no lowering", node.span)
        pairs = list(zip(args[::2], args[1::2]))
        if node.name == "if":
            pairs = [(args[0], args[1]), (ast.Literal(value=True, span=node.span), args[2])]
        values = [self.lower(v) for _, v in pairs]
        kinds = {v.kind for v in values} - {"null"}
        if len(kinds) > 1:
            raise self.fail(f"`{node.name}` with values of different kinds", "a column holds one kind", node.span)
        kind = kinds.pop() if kinds else "null"
        result = exp.Case()
        for (condition, _), value in zip(pairs, values):
            test = self.lower(condition)
            if test.kind == "json":
                result = result.when(_tpl("json_type(:c) NOT IN ('BOOLEAN', 'NULL')", c=test.sql), exp.Null())
                result = result.when(_tpl("CAST(:c AS BOOLEAN)", c=test.sql), value.sql)
            elif test.kind == "bool":
                result = result.when(test.sql, value.sql)
            elif test.kind != "null":
                result = result.when(exp.true(), exp.Null())
        return V(result if result.args.get("ifs") else exp.Null(), kind)

    def f_parse_long(self, node, args) -> V:
        value = self.lower(args[0])
        if value.kind not in ("string", "json"):
            return V(exp.Null(), "null")  # a number too: only parse_double is lenient (spec 6.1)
        text = self.as_string(value)
        return V(_tpl("CASE WHEN regexp_full_match(:t, '[+-]?[0-9]+') THEN TRY_CAST(:t AS BIGINT) END", t=text), "int")

    def _string_function(self, node, args, sql_name: str, kind="string") -> V:
        value = self.lower(args[0])
        if value.kind not in ("string", "json"):
            return V(exp.Null(), "null")
        return V(exp.func(sql_name, self.as_string(value)), kind)

    def f_lower(self, node, args) -> V:
        return self._string_function(node, args, "lower")

    def f_upper(self, node, args) -> V:
        return self._string_function(node, args, "upper")

    def f_len(self, node, args) -> V:
        return self._string_function(node, args, "length", "int")

    def f_split(self, node, args) -> V:
        delimiter = self._literal_arg(node, args, 1)
        if not delimiter:
            raise self.fail("split with an empty delimiter", "no lowering", node.span)
        value = self.lower(args[0])
        if value.kind not in ("string", "json"):
            return V(exp.Null(), "null")
        return V(exp.func("string_split", self.as_string(value), exp.Literal.string(delimiter)), ("list", "string"))

    def f_mvindex(self, node, args) -> V:
        values = self.lower(args[0])
        index = self._literal_arg(node, args, 1, (int,))
        if isinstance(index, bool):
            raise self.fail("mvindex with a boolean index", "no lowering", node.span)
        if not (isinstance(values.kind, tuple) and values.kind[0] == "list"):
            raise self.fail(f"mvindex of a value of kind {_kind_name(values.kind)}", "no lowering", node.span)
        position = index + 1 if index >= 0 else index
        # list_extract: 1-based, negative from the end, null out of range (sqlglot would shift a [] index).
        return V(exp.Anonymous(this="list_extract", expressions=[values.sql, exp.Literal.number(position)]),
                 values.kind[1])

    def f_mvappend(self, node, args) -> V:
        pieces, kinds = [], set()
        for arg in args:
            value = self.lower(arg)
            if value.kind == "null":
                continue
            if isinstance(value.kind, tuple) and value.kind[0] == "list":
                kinds.add(value.kind[1])
                pieces.append(_tpl("coalesce(list_filter(:v, lambda x: x IS NOT NULL), [])", v=value.sql))
            elif value.kind in ("string", "int", "bool", "double"):
                kinds.add(value.kind)
                pieces.append(_tpl("CASE WHEN :v IS NULL THEN [] ELSE [:v] END", v=value.sql))
            else:  # an event value (a list is flattened, a null skipped): the engine's own mvappend
                return self.python_call(node, args, "json")
        kinds.discard("null")
        if len(kinds) > 1:  # a DuckDB LIST holds one kind: the engine's own mvappend, as an event value
            return self.python_call(node, args, "json")
        kind = kinds.pop() if kinds else "null"
        if not pieces:
            return V(exp.cast(exp.Array(expressions=[]), "VARCHAR[]"), ("list", "null"))
        result = pieces[0]
        for piece in pieces[1:]:
            result = exp.func("list_concat", result, piece)
        return V(result, ("list", kind))

    def f_create_map(self, node, args) -> V:
        if len(args) == 1 and isinstance(args[0], ast.ListLiteral):
            items = list(args[0].items)
        else:
            items = list(args)
        if len(items) % 2:
            return V(exp.Null(), "null")  # not key/value pairs: an error, null, in the engine
        entries: dict[str, V] = {}
        for key, value in zip(items[::2], items[1::2]):
            if not isinstance(key, ast.Literal) or not (key.value is None or isinstance(key.value, str)):
                raise self.fail("create_map with a key that is not a string literal", "map keys are fixed at compile "
                                "time (a STRUCT)", key.span)
            if key.value is None:
                continue
            entries[key.value] = self.lower(value)
        if not entries:
            raise self.fail("create_map of no pairs", "DuckDB has no empty STRUCT", node.span)
        struct = exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.to_identifier(k, quoted=True), expression=v.sql) for k, v in entries.items()
        ])
        return V(struct, ("map", tuple((k, v.kind) for k, v in entries.items())))

    def _math(self, node, args) -> exp.Expression | None:
        """The number argument as DOUBLE; None when its kind is never a number (the call is null)."""
        value = self.lower(args[0])
        if value.kind == "json" or isinstance(value.kind, tuple):
            raise self.fail(f"`{node.name}` of a value of kind {_kind_name(value.kind)}",
                            "only integers and doubles lower", args[0].span)
        if value.kind not in NUMBERS:
            return None
        return exp.cast(value.sql, "DOUBLE")

    def f_abs(self, node, args) -> V:
        value = self.lower(args[0])
        if value.kind in NUMBERS:
            return V(exp.func("abs", value.sql), value.kind)
        self._math(node, args)
        return V(exp.Null(), "null")

    def f_floor(self, node, args) -> V:
        value = self.lower(args[0])
        if value.kind == "int":
            return value
        x = self._math(node, args)
        if x is None:
            return V(exp.Null(), "null")
        # An integer; NaN and the infinities (which the Python engine keeps, and writes as null) are null.
        return V(_tpl(f"CASE WHEN isfinite(:x) THEN TRY_CAST({node.name.removesuffix('ing')}(:x) AS BIGINT) END",
                      x=x), "int")

    f_ceil = f_ceiling = f_floor

    def f_sqrt(self, node, args) -> V:
        x = self._math(node, args)
        if x is None:
            return V(exp.Null(), "null")
        return V(_tpl("CASE WHEN :x >= 0 THEN sqrt(:x) ELSE 'NaN'::DOUBLE END", x=x), "double")

    def f_log(self, node, args) -> V:
        x = self._math(node, args)
        if len(args) > 1:
            base = self._literal_arg(node, args, 1, (int, float))
            if base != 10:
                raise self.fail("log with a base other than 10", "no lowering yet", node.span)
        if x is None:
            return V(exp.Null(), "null")
        return V(_tpl("CASE WHEN :x > 0 THEN log10(:x) WHEN :x = 0 THEN '-Infinity'::DOUBLE ELSE 'NaN'::DOUBLE END",
                      x=x), "double")

    def f_ln(self, node, args) -> V:
        x = self._math(node, args)
        if x is None:
            return V(exp.Null(), "null")
        return V(_tpl("CASE WHEN :x > 0 THEN ln(:x) WHEN :x = 0 THEN '-Infinity'::DOUBLE ELSE 'NaN'::DOUBLE END",
                      x=x), "double")

    def f_coalesce(self, node, args) -> V:
        values = [self.lower(a) for a in args]
        kinds = {v.kind for v in values if v.kind != "null"}
        if len(kinds) > 1 or "json" in kinds:
            raise self.fail("coalesce of values of different kinds", "a column holds one kind", node.span)
        kind = kinds.pop() if kinds else "null"
        return V(exp.func("coalesce", *[v.sql for v in values]) if values else exp.Null(), kind)

    def f_like(self, node, args) -> V:
        return self.call_like(self.lower(args[0]), self.lower(args[1]), node)

    def f_match(self, node, args) -> V:
        regex = args[1]
        if isinstance(regex, ast.Regex):
            pattern, flags = regex.pattern, regex.flags
        elif isinstance(regex, ast.Literal) and isinstance(regex.value, str):
            pattern, flags = regex.value, ""
        else:  # a pattern known only at run time: compiled per value in Python, as the engine does
            return self.python_call(node, args, "bool")
        translated, _ = re2_pattern(pattern, flags)
        value = self.lower(args[0])
        if value.kind not in ("string", "json"):
            return V(exp.cast(exp.Null(), "BOOLEAN"), "bool")
        if translated is None:  # a Java construct RE2 has not: the engine's own matcher, in Python
            return self.python_call(node, args, "bool")
        return V(exp.func("regexp_matches", self.as_string(value), exp.Literal.string(translated)), "bool")

    f_match_regex = f_match



# Each command: how it lowers, or why not (README's support table, tools/support_table.py).
COMMAND_SUPPORT = {
    "from": "read_json WITH ORDINALITY: the file and line number give each record its arrival number; "
            "read_ssa/ba_enriched_events, enriched_source, source (not pulsar, read_text)",
    "eval": "yes", "where": "yes", "select": "yes", "fields": "yes", "rename": "yes",
    "rex": "RE2 regexp_extract; the engine's own matcher as a Python function when RE2 lacks a construct or "
           "a named group may not take part in a match",
    "union": "UNION ALL ordered by source record, then branch; branches with the same fields",
    "stats": "tumbling, sliding, grace and late records: the watermark is a running max, each window's "
             "emitting record an ASOF join; count, sum, avg, min, max, dc, first, last, values",
    "first_time_event": "row_number() over arrival order",
    "conditional_anomaly": "running counts over arrival order",
    "adaptive_threshold": "gaussian: exact moments in window functions; quantile: each entity's rows as lists "
                          "in arrival order, ranked by a Python function",
    "into": "one writing sink per search",
}


def function_lowering() -> dict[str, str | None]:
    """Every registry function: None when DuckDB lowers it, else why not."""
    return function_support(FUNCTIONS, lambda name: hasattr(Expressions, "f_" + name) or name in PYTHON_CALLS,
                            NOT_LOWERED_FUNCTIONS, ENGINE)


def compile_plan(plan: Plan, inputs: int = 1) -> Lowered:
    """The plan as one DuckDB query over `inputs` JSONL files; E0405 for what does not lower."""
    return Compiler(plan, inputs).compile()


def compile_text(text: str, inputs: int = 1) -> Lowered:
    from ..plan.program import plan_text

    return compile_plan(plan_text(text), inputs)
