"""AST -> logical plan: each statement's pipeline, command by command, into typed nodes.

Every name and argument is checked here, before any event is read. `plan_text` stops at the first
error (what `run` and the API need); `diagnose` finds every error of a text (what `check` shows).
"""
from __future__ import annotations

import re

from ..core.errors import BAD_ARGUMENT, SYNTAX, TEMPLATE_PLACEHOLDER, UNKNOWN_COMMAND, UNKNOWN_VARIABLE, SplError
from ..syntax import ast
from ..syntax.text import paused_gc, regions, span_at, tokens
from .commands import COMMANDS, command_for
from .commands.sink import Sink
from .logical import Plan
from .planner import Planner, unknown_command

# Words the grammar reads as a command of its own (grammar.lark); any other first word of a
# command is looked up in COMMANDS.
_GRAMMAR_COMMANDS = {"from", "into", "eval", "where", "select", "fields", "rename", "union", "stats"}
_MAX_ERRORS = 50
# Each syntax error costs a parse of the whole text again: after the first, at most this many
# characters more are parsed (every error of a search of a few kB; the first of a huge one).
_RESYNC_BUDGET = 2_000_000


def plan_text(text: str) -> Plan:
    """Parse and plan search text; raises SplError on the first problem found."""
    from ..syntax.parse import parse  # Lark: imported only to parse, which a cached plan spares

    with paused_gc():
        try:
            program = parse(text)
        except SplError as error:
            raise _named_cause(error, text) from None
        return plan_program(program, text)


def plan_program(program: ast.Program, text: str) -> Plan:
    planner = Planner(text)
    for statement in program.statements:
        _plan_statement(statement, planner)
    _check_output(program, planner)
    return Plan(tuple(planner.nodes), tuple(planner.warnings))


def _plan_statement(statement, planner: Planner) -> None:
    if isinstance(statement, ast.Binding):
        planner.variables[statement.variable.name] = _plan_pipeline(statement.pipeline, planner)
    else:
        last = _plan_pipeline(statement, planner)
        if not isinstance(planner.node(last), Sink):
            # A bare pipeline writes where `--output` points, like the harness does.
            COMMANDS["into"].plan_default(planner, last, statement.span)


def _check_output(program: ast.Program, planner: Planner) -> None:
    if not any(isinstance(n, Sink) for n in planner.nodes):
        raise SplError(
            BAD_ARGUMENT,
            "the search has no output: every `$variable` is stored but none is written",
            program.span,
            hint="end a pipeline with `| into write_ssa_detected_events()`",
        )


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
            planner.check_references(command.references(node, planner.node(current)), input_id, command.name)
        if isinstance(planner.node(current), Sink) and node is not pipeline.commands[-1]:
            raise SplError(BAD_ARGUMENT, "`into` must be the last command of a pipeline", node.span)
    return current


# ---- named causes that need the command registry ----
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _named_cause(error: SplError, text: str) -> SplError:
    """A syntax error inside a command whose name is no command's (`evl x = lower(y)`): the
    unknown command is the mistake, not the token the parser tripped on."""
    if error.code != SYNTAX or error.span is None or not error.message.startswith("unexpected"):
        return error
    start, end = regions(text, error.span.start, "|;")
    for kind, begin, finish in tokens(text[:end]):
        if begin < start or kind in ("space", "comment"):
            continue
        word = text[begin:finish]
        if kind == "word" and _WORD.fullmatch(word) and begin < error.span.start:
            name = word.lower()
            if name not in _GRAMMAR_COMMANDS and name not in COMMANDS:
                return _not_a_command(text, name, word, begin, finish)
        break
    return error


def _not_a_command(text: str, name: str, word: str, begin: int, finish: int) -> SplError:
    span = span_at(text, begin, finish)
    after = text[finish:].lstrip()
    if re.match(r"=\s*\|", after):  # `name = | from ...`: a binding without its `$`
        return SplError(
            UNKNOWN_COMMAND, f"`{word}` is not a command; a pipeline variable is written `${word}`", span,
            hint=f"write `${word} = | from ...`",
        )
    if name == "not" or re.match(r"(==?|!=|<=?|>=?)[^=]|(?i:like|in|is)\b", after):
        return SplError(
            UNKNOWN_COMMAND, "a condition is not a command", span, hint="put `where` before it: `| where ...`"
        )
    return unknown_command(name, span, COMMANDS)


# ---- every error of a text ----
def diagnose(text: str) -> tuple[list[SplError], list[SplError]]:
    """(errors, warnings) of a text, all of them: after a syntax error the command holding it is
    blanked out and the rest parsed again; each statement is planned on its own (one that parsed
    only after blanking is not planned, nor are those reading a `$variable` that failed)."""
    from ..syntax.parse import parse

    errors: list[SplError] = []
    blanked: list[tuple[int, int]] = []
    current = text
    with paused_gc():
        program, budget = None, _RESYNC_BUDGET + len(text)
        while len(errors) < _MAX_ERRORS and budget >= len(text):
            budget -= len(text)
            try:
                program = parse(current)
                break
            except SplError as error:
                if blanked and not _EMPTY.sub("", current):
                    break  # nothing left but what separated the blanked commands
                found = _named_cause(error, text)
                if not _follows_blank(current, error, blanked) and not any(
                    (e.code, e.message, e.span) == (found.code, found.message, found.span) for e in errors
                ):
                    errors.append(found)
                if error.code == TEMPLATE_PLACEHOLDER:
                    break  # a template is not SPL2 until it is filled in: what else fails says nothing more
                region = _region_to_blank(current, error)
                if region is None:
                    break
                blanked.append(region)
                current = _blank(current, *region, keep=";\n" if _is_string_error(error) else "\n")
        if program is None:
            return errors, []
        planner = Planner(text)
        failed: set[str] = set()
        statements = program.statements
        for index, statement in enumerate(statements):
            until = statements[index + 1].span.start if index + 1 < len(statements) else len(text)
            if any(start < until and statement.span.start < end for start, end in blanked):
                if isinstance(statement, ast.Binding):
                    failed.add(statement.variable.name)
                continue
            try:
                _plan_statement(statement, planner)
            except SplError as error:
                if isinstance(statement, ast.Binding):
                    failed.add(statement.variable.name)
                if not (error.code == UNKNOWN_VARIABLE and _names_failed(error, failed)):
                    errors.append(error)
        if not errors:
            try:
                _check_output(program, planner)
            except SplError as error:
                errors.append(error)
        errors.sort(key=lambda e: (e.span.start if e.span else -1))
        return errors, planner.warnings


_EMPTY = re.compile(r"/\*.*?\*/|[\s;|]", re.S)


def _names_failed(error: SplError, failed: set[str]) -> bool:
    return any(f"`${name}`" in error.message for name in failed)


def _region_to_blank(text: str, error: SplError) -> tuple[int, int] | None:
    """The command holding the error with the `|` before it; the statement when that is blank.
    A string that does not end where it should is cut at the end of the line it starts on."""
    if error.span is None:
        return None
    offset = min(error.span.start, max(len(text) - 1, 0))
    for separators in ("|;", ";"):
        start, end = regions(text, offset, separators)
        if start > 0 and text[start - 1] == "|":
            start -= 1
        if _is_string_error(error):
            line_end = text.find("\n", offset)
            end = len(text) if line_end < 0 else line_end
        if text[start:end].strip():
            return start, end
    return None


def _is_string_error(error: SplError) -> bool:
    return error.message.startswith(("unterminated", "this string runs"))


def _follows_blank(text: str, error: SplError, blanked) -> bool:
    """An error just after a blanked command is caused by the blanking, not by the author."""
    if error.span is None:
        return False
    offset = error.span.start
    return any(start <= offset <= end + len(text[end:offset]) - len(text[end:offset].lstrip()) for start, end in blanked)


def _blank(text: str, start: int, end: int, keep: str = "\n") -> str:
    """The text with [start, end) made spaces but for the characters in `keep` (line breaks:
    positions do not move)."""
    return text[:start] + re.sub(f"[^{keep}]", " ", text[start:end]) + text[end:]
