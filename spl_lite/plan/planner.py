"""The planner's state and checks: nodes added so far, `$variables`, and expression checking.

The plan is plain data (no closures): `explain` prints it, the runtime builds operators from it,
and other back ends may lower it elsewhere. Every name and argument is checked here, before any
event is read.
"""
from __future__ import annotations

import dataclasses

from typing import Any

from ..syntax import ast
from ..core.errors import (
    BAD_ARGUMENT,
    TOO_LARGE,
    TYPE_ERROR,
    UNKNOWN_COMMAND,
    UNKNOWN_FIELD,
    UNKNOWN_FUNCTION,
    UNKNOWN_VARIABLE,
    UNSUPPORTED,
    SplError,
    Span,
    did_you_mean,
)
from ..functions import FUNCTIONS
from ..functions.aggregations import AGGREGATIONS
from .logical import Node
from ..core.regex import compile_java


# Every node lists its output fields, so a pipeline of n commands each adding a field holds n²/2
# names: the sum over nodes is bounded instead, which keeps planning linear in the text (the
# largest published search has 26 commands and a few hundred field slots).
MAX_FIELD_SLOTS = 5_000_000

# Special forms the expression compiler handles itself rather than through the registry.
SPECIAL_FORMS = {"for_each": 2, "iterator": 2}


class Planner:
    """Walks a Program once, building nodes and checking every command and expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.nodes: list[Node] = []
        self.variables: dict[str, int] = {}
        self.shared_sources: dict[Any, int] = {}
        self._bound_iterators: set[int] = set()
        self.warnings: list[SplError] = []
        self.field_slots = 0

    def add(self, node_class: type[Node], inputs: tuple[int, ...], fields, span: Span | None, **attributes) -> int:
        node_id = len(self.nodes)
        fields = None if fields is None else tuple(fields)
        self.field_slots += len(fields or ())
        if self.field_slots > MAX_FIELD_SLOTS:
            raise SplError(
                TOO_LARGE,
                f"the search is too large to plan: its first {node_id + 1} commands output "
                f"{self.field_slots:,} fields in all, over the limit of {MAX_FIELD_SLOTS:,}",
                span,
                hint="split it into several searches, or set many fields in one `eval` rather than one per command",
            )
        self.nodes.append(node_class(id=node_id, inputs=inputs, fields=fields, span=span, **attributes))
        return node_id

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id]

    def variable(self, variable: ast.Variable) -> int:
        if variable.name not in self.variables:
            raise SplError(
                UNKNOWN_VARIABLE,
                f"unknown pipeline variable `${variable.name}`",
                variable.span,
                hint=_variable_hint(variable.name, self.variables),
            )
        return self.variables[variable.name]

    # ---- fields that cannot exist ----
    def check_references(self, references, input_id: int, command: str) -> None:
        """A warning for each field read that is not among the input's fields (where known):
        such a read is null on every record, which is never what the author meant."""
        fields = self.nodes[input_id].fields
        if fields is None:
            return
        known, warned = set(fields), set()
        for name, span, set_before, *default in references:
            if name in known or name.split(".")[0] in known or name in warned:
                continue
            if set_before and (name in set_before or name.split(".")[0] in set_before):
                continue
            warned.add(name)
            warning = unknown_field(name, span, fields + tuple(set_before or ()), command)
            if default:  # the command reads this field by default: say which argument names another
                warning.hint = default[0]
            dropped = self._dropped_by(input_id, name.split(".")[0])
            if dropped is not None:
                warning.notes.append(dropped)
                if warning.hint and warning.hint.startswith("the event's keys"):
                    warning.hint = None  # it is a field dropped on the way, not a key of the event
            self.warnings.append(warning)

    def _dropped_by(self, node_id: int, name: str) -> str | None:
        """Where an earlier field of that name stopped, following first inputs back (a few steps)."""
        later = self.nodes[node_id]
        for _ in range(64):
            if not later.inputs:
                return None
            earlier = self.nodes[later.inputs[0]]
            if earlier.fields is not None and name in earlier.fields:
                where = f" on line {later.span.line}" if later.span else ""
                return f"`{name}` was there before `{later.command}`{where}, which does not pass it on"
            later = earlier
        return None

    # ---- expressions ----
    def resolve(self, expr: ast.Expr) -> ast.Expr:
        """The expression checked, with every call's named arguments put in parameter order."""
        self.check_expression(expr)
        if not any(isinstance(node, ast.NamedArgument) for node in ast.walk(expr)):
            return expr
        return ast.transform(expr, _bind_named_arguments)

    def check_expression(self, expr: ast.Expr, allow_aggregations: bool = False) -> None:
        for node in ast.walk(expr):
            if isinstance(node, ast.Call):
                self.check_call(node, allow_aggregations)
            elif isinstance(node, ast.Regex):
                check_regex(node.pattern, node.flags, node.span)

    def check_call(self, call: ast.Call, allow_aggregations: bool) -> None:
        name = call.name
        if name in AGGREGATIONS and name not in FUNCTIONS:
            if not allow_aggregations:
                raise SplError(
                    BAD_ARGUMENT,
                    f"aggregation `{name}` can only be used in `stats`",
                    call.name_span,
                    hint="aggregate with `| stats count(x) AS n BY y, span(timestamp, 5m)`",
                )
            return
        if name in SPECIAL_FORMS:
            self._check_special_form(call)
            return
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise SplError(
                UNKNOWN_FUNCTION,
                f"unknown function `{name}`",
                call.name_span,
                hint=did_you_mean(name, list(FUNCTIONS) + list(SPECIAL_FORMS)),
            )
        positional = [a for a in call.args if not isinstance(a, ast.NamedArgument)]
        named = [a for a in call.args if isinstance(a, ast.NamedArgument)]
        if named and positional and call.args.index(named[0]) < len(positional):
            raise SplError(BAD_ARGUMENT, "positional arguments must come before named ones", named[0].span)
        param_names = [p.name.lower() for p in spec.params]
        for argument in named:
            if argument.name.lower() not in param_names:
                raise SplError(
                    BAD_ARGUMENT,
                    f"`{name}` has no argument named `{argument.name}`",
                    argument.span,
                    hint=f"its signature is {spec.signature()}",
                )
            if param_names.index(argument.name.lower()) < len(positional):
                raise SplError(BAD_ARGUMENT, f"argument `{argument.name}` is given twice", argument.span)
        count = len(call.args)
        maximum = spec.max_args
        if count < spec.min_args or (maximum is not None and count > maximum):
            wanted = (
                f"{spec.min_args}" if spec.min_args == maximum
                else f"at least {spec.min_args}" if maximum is None
                else f"{spec.min_args} to {maximum}"
            )
            raise SplError(
                BAD_ARGUMENT,
                f"`{name}` takes {wanted} argument{'s' if wanted != '1' else ''}, got {count}",
                call.span,
                hint=f"its signature is {spec.signature()}",
            )
        if named:
            given = {p for p in param_names[: len(positional)]} | {a.name.lower() for a in named}
            missing = [p.name for p in spec.params if not p.optional and p.name.lower() not in given]
            if missing:
                raise SplError(BAD_ARGUMENT, f"`{name}` is missing argument `{missing[0]}`", call.span)
        checker = ARGUMENT_CHECKS.get(name)
        if checker:
            checker(call)
        mistake = literal_type_error(call, spec)
        if mistake is not None and all(m.span != mistake.span for m in self.warnings):
            self.warnings.append(mistake)

    def _check_special_form(self, call: ast.Call) -> None:
        if call.name == "iterator":
            if id(call) not in self._bound_iterators:
                raise SplError(BAD_ARGUMENT, "`iterator` can only be the first argument of `for_each`", call.span)
            return
        if len(call.args) != 2:
            raise SplError(BAD_ARGUMENT, "`for_each` takes 2 arguments: for_each(iterator(list, \"name\"), expression)", call.span)
        iterator = call.args[0]
        if not (
            isinstance(iterator, ast.Call)
            and iterator.name == "iterator"
            and len(iterator.args) == 2
            and isinstance(iterator.args[1], ast.Literal)
            and type(iterator.args[1].value) is str
        ):
            raise SplError(
                BAD_ARGUMENT, "the first argument of `for_each` must be `iterator(list, \"name\")`", iterator.span
            )
        # check_expression's walk reaches the iterator next; this marks it as bound.
        self._bound_iterators.add(id(iterator))


def expression_fields(expr: ast.Expr):
    """The fields an expression reads: its Field nodes but the names `for_each` binds."""
    bound = {
        node.args[1].value
        for node in ast.walk(expr)
        if isinstance(node, ast.Call) and node.name == "iterator" and len(node.args) == 2
        and isinstance(node.args[1], ast.Literal) and type(node.args[1].value) is str
    }
    for node in ast.walk(expr):
        if isinstance(node, ast.Field) and node.path[0] not in bound:
            yield node


_SHOWN_FIELDS = 12


def unknown_field(name: str, span: Span | None, fields: tuple[str, ...], command: str) -> SplError:
    first = name.split(".")[0]
    hint = did_you_mean(first, fields)
    if hint is None and "input_event" in fields:
        hint = f'the event\'s keys are inside `input_event`: `map_get(input_event, "{first}")`'
    shown = ", ".join(fields[:_SHOWN_FIELDS]) + (f" and {len(fields) - _SHOWN_FIELDS} more" if len(fields) > _SHOWN_FIELDS else "")
    return SplError(
        UNKNOWN_FIELD,
        f"field `{name}` does not exist here, so `{command}` reads null",
        span,
        hint=hint,
        notes=[f"the fields here are: {shown}" if fields else "no field exists here"],
        severity="warning",
    )


# Values standing for "any value" of an argument that is not a literal: one of each SPL type.
_PROBES = ("a", "1", 1, 1.5, True, ["a"], [1], {"a": "a"}, {"a": 1}, b"a")


def literal_type_error(call: ast.Call, spec) -> SplError | None:
    """A literal argument of a type the function never takes (`substr("abc", "one")`, `log("ten")`):
    with that literal fixed, the function raises TypeError whatever the other arguments are (each
    tried with a value of every type). `check` reports it as an error; `run` keeps the language's
    rule (the value is null, and counted, spec 5.2) after printing it."""
    args = ordered_arguments(call, spec)
    literal_at = [
        i for i, a in enumerate(args)
        if isinstance(a, ast.Literal) and a.value is not None and type(a.value) in (str, int, float, bool)
    ]
    for index in literal_at:
        others = len(args) - 1
        if others > 2:
            return None
        reason = _always_type_error(spec.impl, args, index)
        if reason is not None:
            return SplError(
                TYPE_ERROR,
                f"`{call.name}` cannot take {_describe_literal(args[index].value)} as its "
                f"{_ordinal(index)} argument",
                args[index].span,
                hint=f"{reason}; its signature is {spec.signature()}",
                notes=["every record gets null here"],
            )
    return None


def _always_type_error(impl, args, index: int) -> str | None:
    fixed = args[index].value
    if type(fixed) is int and abs(fixed) > 1000:  # its type is what is tried: keep the work small
        fixed = 1000 if fixed > 0 else -1000
    combos: list[list] = [[]]
    for position in range(len(args)):
        choices = (fixed,) if position == index else _PROBES
        combos = [combo + [choice] for combo in combos for choice in choices]
    reason = None
    for combo in combos:
        try:
            impl(*combo)
        except TypeError as error:
            reason = reason or str(error)
            continue
        except Exception:  # a value error depends on the value, not its type: it may be accepted
            return None
        return None
    return reason


def _describe_literal(value) -> str:
    if type(value) is str:
        return f'the string "{value}"' if len(value) <= 30 else "a string"
    if type(value) is bool:
        return f"the boolean {str(value).lower()}"
    return f"the number {value}"


def _ordinal(index: int) -> str:
    return ("first", "second", "third")[index] if index < 3 else f"#{index + 1}"


def _bind_named_arguments(node):
    if isinstance(node, ast.Call) and node.name in FUNCTIONS and any(isinstance(a, ast.NamedArgument) for a in node.args):
        return dataclasses.replace(node, args=tuple(ordered_arguments(node, FUNCTIONS[node.name])))
    return node


def ordered_arguments(call: ast.Call, spec) -> list[ast.Expr]:
    """Positional and `name: value` arguments, put in parameter order (check_call checked them)."""
    positional = [a for a in call.args if not isinstance(a, ast.NamedArgument)]
    named = {a.name.lower(): a.value for a in call.args if isinstance(a, ast.NamedArgument)}
    if not named:
        return positional
    ordered, skipped = list(positional), []
    for param in spec.params[len(positional) :]:
        if param.name.lower() in named:
            ordered += skipped  # an optional parameter left out before a named one is null
            skipped = []
            ordered.append(named[param.name.lower()])
        elif param.optional:
            skipped.append(ast.Literal(None, call.span))
        else:
            break
    return ordered


def _variable_hint(name: str, variables: dict[str, int]) -> str | None:
    if not variables:
        return "define it first: `$name = | from ...;`"
    hint = did_you_mean(name, variables)
    return hint.replace("`", "`$", 1) if hint else "defined so far: " + ", ".join(f"${v}" for v in variables)


def check_regex(pattern: str, flags: str, span: Span) -> None:
    try:
        compile_java(pattern, flags)
    except ValueError as error:
        where = _position_in_pattern(pattern, flags, span, getattr(error, "pos", None))
        raise SplError(BAD_ARGUMENT, f"invalid regular expression: {error}", where or span) from None


def _position_in_pattern(pattern: str, flags: str, span: Span, pos: int | None) -> Span | None:
    """The one character at `pos` of the pattern, when the search text holds the pattern verbatim
    between two delimiters: a regex literal `/.../flags`, or a string without escapes."""
    if pos is None or not 0 <= pos <= len(pattern) or span.end - span.start not in (
        len(pattern) + 2 + len(flags),  # /pattern/flags
        len(pattern) + 2,  # "pattern" with no escape in it
    ):
        return None
    before = pattern[:pos]
    newlines = before.count("\n")
    column = (span.column + 1 + pos) if not newlines else pos - before.rindex("\n")
    start = span.start + 1 + pos
    return Span(span.line + newlines, column, start, start + 1)


_TYPE_NAMES = ("string", "long", "integer", "int", "float", "double", "boolean", "bytes", "any")


def _check_type_argument(call: ast.Call) -> None:
    """ucast/cast take a type name; a misspelt one would silently make every value null."""
    positional = [a for a in call.args if not isinstance(a, ast.NamedArgument)]
    named = {a.name.lower(): a.value for a in call.args if isinstance(a, ast.NamedArgument)}
    target = positional[1] if len(positional) > 1 else named.get("target_type") or named.get("type")
    if not isinstance(target, ast.Literal) or type(target.value) is not str:
        return
    text = target.value.replace(" ", "").lower()
    if text in _TYPE_NAMES or text.startswith(("collection<", "map<", "list<")):
        return
    raise SplError(
        TYPE_ERROR,
        f"unknown type `{target.value}`",
        target.span,
        hint=did_you_mean(text, _TYPE_NAMES) or "types are string, long, integer, double, boolean, collection<T>, map<string,T>",
    )


ARGUMENT_CHECKS = {"ucast": _check_type_argument, "cast": _check_type_argument}


def unsupported(what: str, why: str, span: Span | None) -> SplError:
    return SplError(UNSUPPORTED, f"{what} cannot run outside Splunk: {why}", span)


def unknown_command(name: str, span: Span, known) -> SplError:
    return SplError(UNKNOWN_COMMAND, f"unknown command `{name}`", span, hint=did_you_mean(name, known))
