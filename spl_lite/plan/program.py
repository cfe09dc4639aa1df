"""AST -> logical plan: each statement's pipeline, command by command, into typed nodes.

Every name and argument is checked here, before any event is read.
"""
from __future__ import annotations

from ..core.errors import BAD_ARGUMENT, SplError
from ..syntax import ast
from ..syntax.parse import parse, paused_gc
from .commands import COMMANDS, command_for
from .commands.sink import Sink
from .logical import Plan
from .planner import Planner


def plan_text(text: str) -> Plan:
    """Parse and plan search text; raises SplError on the first problem found."""
    with paused_gc():
        return plan_program(parse(text), text)


def plan_program(program: ast.Program, text: str) -> Plan:
    planner = Planner(text)
    for statement in program.statements:
        if isinstance(statement, ast.Binding):
            planner.variables[statement.variable.name] = _plan_pipeline(statement.pipeline, planner)
        else:
            last = _plan_pipeline(statement, planner)
            if not isinstance(planner.node(last), Sink):
                # A bare pipeline writes where `--output` points, like the harness does.
                COMMANDS["into"].plan_default(planner, last, statement.span)
    if not any(isinstance(n, Sink) for n in planner.nodes):
        raise SplError(
            BAD_ARGUMENT,
            "the search has no output: every `$variable` is stored but none is written",
            program.span,
            hint="end a pipeline with `| into write_ssa_detected_events()`",
        )
    return Plan(tuple(planner.nodes), tuple(planner.warnings))


def _plan_pipeline(pipeline: ast.Pipeline, planner: Planner) -> int:
    current: int | None = None
    for node in pipeline.commands:
        command = command_for(node)
        if current is None and not command.starts_pipeline:
            raise SplError(
                BAD_ARGUMENT,
                f"a pipeline must start with `from`, not `{command.name}`",
                node.span,
                hint="begin with `| from read_ssa_enriched_events()`",
            )
        if current is not None and command.starts_pipeline:
            raise SplError(BAD_ARGUMENT, "`from` can only start a pipeline", node.span)
        input_id, current = current, command.plan(node, current, planner)
        if input_id is not None:
            planner.check_references(
                command.references(node, planner.node(current)), planner.node(input_id).fields, command.name
            )
        if isinstance(planner.node(current), Sink) and node is not pipeline.commands[-1]:
            raise SplError(BAD_ARGUMENT, "`into` must be the last command of a pipeline", node.span)
    return current
