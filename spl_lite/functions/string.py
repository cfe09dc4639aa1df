"""String functions (spec 6.4): lower, upper, len, concat, replace, substr, split."""
from __future__ import annotations

import functools

from ..core.regex import Pattern, as_pattern, sub
from ..core.values import type_name
from .cast import cast
from .registry import function

_DIGITS = "0123456789"


def text_arg(func: str, value) -> str:
    """`value` as a string argument of `func`, or a TypeError naming both."""
    if type(value) is not str:
        raise TypeError(f"{func} needs a string, got {type_name(value)}")
    return value


def integer_arg(func: str, value) -> int:
    if type(value) is not int:
        raise TypeError(f"{func} needs an integer, got {type_name(value)}")
    return value


@function("lower", "str", example='lower("CMD.EXE")', result='"cmd.exe"')
def lower(text):
    """The string in lower case."""
    return text_arg("lower", text).lower()


@function("upper", "str", example='upper("cmd.exe")', result='"CMD.EXE"')
def upper(text):
    """The string in upper case."""
    return text_arg("upper", text).upper()


@function("len", "str", example='len("cmd.exe")', result='7')
def len_(text):
    """The number of characters of the string."""
    # Code points; Java counts UTF-16 units, which differs only for astral characters (spec 6.4).
    return len(text_arg("len", text))


@function("concat", "values*", example='concat("pid-", 42)', result='"pid-42"')
def concat(*values):
    """Join the arguments' text forms; null when any is null, a list or a map (lists not flattened).

    Text forms as cast(x, "string") gives them. One list argument is DSP's named form,
    concat(values: [...])."""
    if len(values) == 1 and type(values[0]) is list:
        values = values[0]
    parts = []
    for value in values:
        if value is None or type(value) in (list, dict):
            return None  # spec 6.4: any null makes the result null; lists are not flattened
        parts.append(value if type(value) is str else cast(value, "string"))
    return "".join(parts)


@function(
    "replace", "str", "regex", "replacement",
    example='replace("a-b-c", "-", "+")', result='"a+b+c"',
)
def replace(text, regex, replacement):
    """Every match of `regex` replaced, with Java replaceAll's `$n`, `${name}` and `\\x` rules."""
    pattern = as_pattern(regex)
    return sub(pattern, _java_replacement(text_arg("replace", replacement), pattern), text_arg("replace", text))


@functools.lru_cache(maxsize=1024)
def _java_replacement(template: str, pattern: Pattern) -> str:
    """Rewrite a Java replacement string in Python's template syntax.

    The Java text is never handed to `re` as it is: Java reads `\\P` as a literal P (the corpus
    writes "\\\\PATH"), where Python rejects it as a bad escape.
    """
    out: list[str] = []
    i = 0
    while i < len(template):
        c = template[i]
        if c == "\\":
            if i + 1 == len(template):
                raise ValueError("replacement ends with a lone backslash")
            literal, i = template[i + 1], i + 2
        elif c == "$":
            group, i = _group_reference(template, i + 1, pattern)
            # An unmatched group inserts nothing, in Java and in Python's \g<...> alike.
            out.append(f"\\g<{group}>")
            continue
        else:
            literal, i = c, i + 1
        out.append("\\\\" if literal == "\\" else literal)
    return "".join(out)


def _group_reference(template: str, i: int, pattern: Pattern) -> tuple[int | str, int]:
    if i < len(template) and template[i] == "{":
        close = template.find("}", i)
        name = template[i + 1 : close] if close > 0 else ""
        if name not in pattern.groupindex:
            raise ValueError(f"replacement refers to unknown group ${{{name}}}")
        return name, close + 1
    if i == len(template) or template[i] not in _DIGITS:
        raise ValueError("replacement has `$` without a group number; write \\$ for a dollar sign")
    # Like Java: the first digit always counts; later digits only while the number stays a group.
    number = int(template[i])
    i += 1
    while i < len(template) and template[i] in _DIGITS and number * 10 + int(template[i]) <= pattern.groups:
        number = number * 10 + int(template[i])
        i += 1
    if number > pattern.groups:
        raise ValueError(f"replacement refers to group ${number}, but the regex has {pattern.groups}")
    return number, i


@function(
    "substr", "str", "start", "length?",
    example='substr("powershell.exe", 1, 10)', result='"powershell"',
)
def substr(text, start, length=None):
    """1-based `start` (negative counts from the end, as in SPL); to the end when length is omitted."""
    text = text_arg("substr", text)
    start = integer_arg("substr", start)
    begin = start - 1 if start > 0 else max(len(text) + start, 0) if start < 0 else 0
    if length is None:
        return text[begin:]
    length = integer_arg("substr", length)
    return text[begin : begin + length] if length >= 0 else None


@function("split", "str", "delimiter", example='split("a,b,,c", ",")', result='["a","b","","c"]')
def split(text, delimiter):
    """A literal (not regex) delimiter, keeping empty pieces; "" splits into characters (spec 6.3)."""
    text = text_arg("split", text)
    delimiter = text_arg("split", delimiter)
    return text.split(delimiter) if delimiter else list(text)
