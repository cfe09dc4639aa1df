"""Command registry for planning: one module per command, each a node class and its Command.

A Command checks one command's syntax and adds its typed node (plan/logical.py) to the plan; what
the node does at run time lives in spl_lite/engine/operators/, keyed by the node class.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any, ClassVar, NamedTuple

from ...core.errors import Span
from ...syntax import ast
from ..planner import Planner, expression_fields, unknown_command

COMMANDS: dict[str, type["Command"]] = {}
_BY_SYNTAX: dict[type, type["Command"]] = {}


class Argument(NamedTuple):
    """One argument of a command as `spl-lite commands` and docs/commands.md show it."""

    name: str
    default: str  # "required", or the value (or behaviour) used when it is not given
    meaning: str


class Command:
    """Plan-time checks of one command (`plan`), giving its node.

    `syntax` is the AST class of commands with syntax of their own; the rest are written
    `name key=value ...` and arrive as ast.GenericCommand. `usage`, `arguments` and `outputs`
    describe the command to its users (`spl-lite commands`, docs/commands.md).
    """

    name: ClassVar[str]
    syntax: ClassVar[type] = ast.GenericCommand
    starts_pipeline: ClassVar[bool] = False
    summary: ClassVar[str] = ""
    usage: ClassVar[str] = ""
    arguments: ClassVar[tuple[Argument, ...]] = ()
    outputs: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        COMMANDS[cls.name] = cls
        if cls.syntax is not ast.GenericCommand:
            _BY_SYNTAX[cls.syntax] = cls

    @classmethod
    def plan(cls, node: Any, input_id: int | None, planner: Planner) -> int:
        raise NotImplementedError

    @classmethod
    def references(cls, syntax: Any, node: Any):
        """The input fields the planned `node` reads: (name, where it is written, names set by
        the command itself before that read). `check` warns of those the input cannot have."""
        for expression in node.expressions():
            for field in expression_fields(expression):
                yield field.name, field.span, ()


def command_for(node: Any) -> type[Command]:
    if isinstance(node, ast.GenericCommand):
        found = COMMANDS.get(node.name)
        if found is None or found.syntax is not ast.GenericCommand:
            raise unknown_command(node.name, node.name_span, COMMANDS)
        return found
    return _BY_SYNTAX[type(node)]


def source_text(span: Span, planner: Planner) -> str:
    return planner.text[span.start : span.end]


def shorten(text: str, width: int = 60) -> str:
    """Search text squeezed onto part of one `explain` line."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def add_fields(fields, names) -> tuple[str, ...] | None:
    """The output fields after setting `names`: existing ones keep their place, new ones append."""
    if fields is None:
        return None
    result = dict.fromkeys(fields)  # a dict keeps the order and finds a name in constant time
    result.update(dict.fromkeys(names))
    return tuple(result)


for _module in (
    "source",
    "sink",
    "eval",
    "where",
    "select",
    "fields",
    "rename",
    "union",
    "stats",
    "rex",
    "conditional_anomaly",
    "adaptive_threshold",
    "first_time_event",
    "unsupported",
):
    import_module(f"{__name__}.{_module}")
