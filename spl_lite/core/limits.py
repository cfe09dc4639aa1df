"""How deep recursive code may go: the one place the interpreter's recursion limit is raised."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

# Generated searches nest deeply (a `+` chain of hundreds of terms), and orjson accepts values
# nested up to 1024 levels, which values.py walks at two frames a level; Python's default of 1000
# frames is too little for either. Anything deeper still gets a diagnostic, not a crash.
RECURSION_LIMIT = 20_000


def allow_deep_recursion() -> None:
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


@contextmanager
def deep_recursion() -> Iterator[None]:
    """The raised limit for the duration of a command, put back after it (a caller in the same
    process, such as `spl-lite test` or a test suite, keeps its own)."""
    previous = sys.getrecursionlimit()
    allow_deep_recursion()
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)
