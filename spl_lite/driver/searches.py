"""Reading and compiling search files, with the diagnostic printed where one fails."""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.errors import BAD_INPUT, SplError
from .api import Search
from .exits import exit_code_for


def read_search(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SplError(BAD_INPUT, f"cannot read search `{path}`: {getattr(error, 'strerror', None) or error}") from None


def compile_search(path: str) -> tuple[Search | None, int | None]:
    """(Search, None) or (None, exit code) after printing the diagnostic."""
    text = None
    try:
        text = read_search(path)
        return Search.compile(text), None
    except SplError as error:
        print(error.render(text, path), file=sys.stderr)
        return None, exit_code_for(error)
