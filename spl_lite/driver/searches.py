"""Reading and compiling search files, with the diagnostic printed where one fails."""
from __future__ import annotations

import dataclasses
import sys

from ..syntax.text import MAX_SEARCH_BYTES
from ..core.errors import BAD_INPUT, SplError
from . import plan_cache
from .api import Search
from .exits import exit_code_for


# A search file longer than this is refused unread past it (a search is a few kB; /dev/zero is endless).


def read_search(path: str) -> str:
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_SEARCH_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_SEARCH_BYTES + 1)
        if len(data) > MAX_SEARCH_BYTES:
            raise SplError(BAD_INPUT, f"search `{path}` is longer than {MAX_SEARCH_BYTES:,} bytes; is it a search file?")
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as text mode reads it
    except (OSError, UnicodeDecodeError) as error:
        raise SplError(BAD_INPUT, f"cannot read search `{path}`: {getattr(error, 'strerror', None) or error}") from None


def compile_search(path: str) -> tuple[Search | None, int | None]:
    """(Search, None) or (None, exit code) after printing the diagnostic. A text compiled before
    by this very code is read back from the plan cache (driver/plan_cache.py)."""
    text = None
    try:
        text = read_search(path)
        plan = plan_cache.load(text)
        if plan is None:
            search = Search.compile(text)
            plan_cache.store(text, search.plan)
        else:
            search = Search(text, plan)
        for warning in search.plan.warnings:  # printed before any event is read; none stops the run
            print(dataclasses.replace(warning, severity="warning").render(text, path), file=sys.stderr)
        return search, None
    except SplError as error:
        print(error.render(text, path), file=sys.stderr)
        return None, exit_code_for(error)


def compile_searches(paths: list[str]) -> tuple[list[Search], int | None]:
    """(the searches, None), or ([], exit code) after printing the first file's diagnostic."""
    searches = []
    for path in paths:
        search, code = compile_search(path)
        if search is None:
            return [], code
        searches.append(search)
    return searches, None
