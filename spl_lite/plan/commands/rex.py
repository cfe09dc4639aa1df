"""`rex field=f "(?<name>...)"`: one field per named group of the first match (spec 5.6)."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import BAD_ARGUMENT, SplError
from ...core.regex import compile_java
from ...syntax import ast
from ..logical import Node
from ..planner import check_regex
from . import Argument, Command, add_fields
from .arguments import argument_span, keyword_arguments


@dataclass(frozen=True, kw_only=True)
class Rex(Node):
    command = "rex"
    passes_through = True
    field: str
    pattern: str
    flags: str
    groups: tuple[str, ...]

    def reads(self) -> frozenset[str]:
        return frozenset((self.field,))

    def writes(self) -> frozenset[str]:
        return frozenset(self.groups)

    def describe(self) -> str:
        return f"field={self.field} -> {', '.join(self.groups)}"


class RexCommand(Command):
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
        fields = add_fields(planner.node(input_id).fields, groups)
        return planner.add(
            Rex, (input_id,), fields, node.span, field=args["field"], pattern=pattern, flags=flags, groups=groups
        )

    @classmethod
    def references(cls, syntax, node: Rex):
        yield node.field, argument_span(syntax, "field"), ()
