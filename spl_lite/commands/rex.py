"""`rex field=f "(?<name>...)"`: one field per named group of the first match (spec 5.6)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ast
from ..errors import BAD_ARGUMENT, SplError
from ..plan import check_regex
from ..regex import compile_java
from ..runtime.batch import Batch, object_column
from ..runtime.operator import Operator
from . import Argument, Command
from .arguments import keyword_arguments
from .eval import add_fields


@dataclass(frozen=True)
class RexParams:
    field: str
    pattern: str
    flags: str
    groups: tuple[str, ...]


class _Rex(Operator):
    def __init__(self, params: RexParams):
        self.params = params
        self.regex = compile_java(params.pattern, params.flags)

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        search = self.regex.search
        matches = [search(v) if type(v) is str else None for v in batch.column(self.params.field)]
        columns = dict(batch.columns)
        for group in self.params.groups:
            columns[group] = object_column([m.group(group) if m else None for m in matches])
        return batch.with_columns(columns)


class Rex(Command):
    name = "rex"
    summary = "extract named regex groups from a field"
    usage = 'rex field=<field> "<regex with (?<name>...) groups>"   (or a /regex/flags literal)'
    arguments = (
        Argument("field", "required", "the string field to match; a null or non-string value matches nothing"),
        Argument("(pattern)", "required", "a Java regex, as a string or a /regex/ literal, with at least one named group"),
        Argument("max_match", "1", "only 1 (the first match) is supported"),
    )
    outputs = "the input fields, plus one field per named group: the group's text in the first match, else null"

    @classmethod
    def plan(cls, node, input_id, planner) -> int:
        args = keyword_arguments(node, {"field": (str,), "max_match": (int,), "": ()}, required=("field",))
        if args.get("max_match", 1) != 1:
            raise SplError(BAD_ARGUMENT, "only `max_match=1` is supported", node.span)
        pattern_node = args.get("")
        if pattern_node is None:
            raise SplError(BAD_ARGUMENT, "`rex` needs a pattern: rex field=f \"(?<name>...)\"", node.span)
        if isinstance(pattern_node, ast.Regex):
            pattern, flags = pattern_node.pattern, pattern_node.flags
        else:
            pattern, flags = pattern_node.value, ""
        check_regex(pattern, flags, pattern_node.span)
        groups = tuple(compile_java(pattern, flags).groupindex)
        if not groups:
            raise SplError(
                BAD_ARGUMENT, "the pattern has no named group to extract", pattern_node.span, hint="name one: (?<name>...)"
            )
        params = RexParams(args["field"], pattern, flags, groups)
        fields = add_fields(planner.node(input_id).fields, groups)
        return planner.add(cls.name, (input_id,), params, fields, node.span)

    @classmethod
    def describe(cls, params: RexParams) -> str:
        return f"field={params.field} -> {', '.join(params.groups)}"

    @classmethod
    def operator(cls, params, context) -> Operator:
        return _Rex(params)
