"""Diagnostics: one error type for every stage, rendered one way (file:line:column + caret)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A region of search text: 1-based line/column of its start, 0-based [start, end) offsets."""

    line: int
    column: int
    start: int
    end: int

    def __add__(self, other: "Span") -> "Span":
        first, last = (self, other) if self.start <= other.start else (other, self)
        return Span(first.line, first.column, first.start, max(first.end, last.end))


# Codes are grouped by stage: E01xx syntax, E02xx names, E03xx arguments and types,
# E04xx unsupported constructs, E05xx runtime input problems.
SYNTAX = "E0101"
UNKNOWN_FUNCTION = "E0201"
UNKNOWN_COMMAND = "E0202"
UNKNOWN_SOURCE = "E0203"
UNKNOWN_SINK = "E0204"
UNKNOWN_VARIABLE = "E0205"
BAD_ARGUMENT = "E0301"
TYPE_ERROR = "E0302"
UNSUPPORTED = "E0401"
TEMPLATE_PLACEHOLDER = "E0402"
TOO_DEEP = "E0403"
TOO_LARGE = "E0404"
NOT_LOWERED = "E0405"  # a command or function an engine other than the default cannot run
BAD_INPUT = "E0501"
# Warnings (W): the search plans and runs, but part of it can never do anything.
UNKNOWN_FIELD = "W0201"


@dataclass
class SplError(Exception):
    """Every failure a user can cause: a code, a message, where it is, and optional help."""

    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    notes: list[str] = field(default_factory=list)
    severity: str = "error"  # or "warning": rendered the same way, `warning[W0201]`

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def render(self, source: str | None = None, path: str = "<search>") -> str:
        """The diagnostic as shown to a person: header, location, source line and caret."""
        lines = [f"{self.severity}[{self.code}]: {self.message}"]
        if self.span is None or source is None:
            if self.span is not None:
                lines.append(f" --> {path}:{self.span.line}:{self.span.column}")
            if self.hint:
                lines.append(f"  = help: {self.hint}")
            lines.extend(f"  = note: {n}" for n in self.notes)
            return "\n".join(lines)
        text_lines = source.split("\n")
        line_no = min(self.span.line, len(text_lines))
        text = text_lines[line_no - 1] if text_lines else ""
        gutter = " " * len(str(line_no))
        col = self.span.column
        line_end_offset = _line_start(source, line_no) + len(text)
        width = max(1, min(self.span.end, line_end_offset) - self.span.start)
        lines.append(f"{gutter}--> {path}:{line_no}:{col}")
        lines.append(f"{gutter} |")
        shown, shift = _window(text, col)
        lines.append(f"{line_no} | {shown}")
        caret = " " * (col - 1 - shift) + "^" * min(width, max(1, len(shown) - (col - 1 - shift)))
        lines.append(f"{gutter} | {caret}" + (f" {self.hint}" if self.hint else ""))
        lines.extend(f"{gutter} = note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.span.line if self.span else None,
            "column": self.span.column if self.span else None,
            **({"hint": self.hint} if self.hint else {}),
            **({"severity": self.severity, "notes": self.notes} if self.severity != "error" else {}),
        }


_WINDOW = 100


def _window(text: str, col: int) -> tuple[str, int]:
    """Cut very long lines (corpus searches are one 10 kB line) to a readable piece around col."""
    if len(text) <= 2 * _WINDOW:
        return text, 0
    start = max(0, col - 1 - _WINDOW // 2)
    piece = text[start : start + _WINDOW]
    if start > 0:
        piece = "..." + piece
        start -= 3
    if start + 3 + _WINDOW < len(text):
        piece += "..."
    return piece, start


def _line_start(source: str, line_no: int) -> int:
    offset = 0
    for _ in range(line_no - 1):
        offset = source.index("\n", offset) + 1
    return offset


def did_you_mean(name: str, candidates) -> str | None:
    close = difflib.get_close_matches(name.lower(), list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


class StateError(Exception):
    """The saved state of a run (`--state`) cannot be used or saved; the message says why and what to do."""
