"""Reading events from JSON-lines files (globs, `-`, .gz) and writing records as JSON lines."""
from __future__ import annotations

import glob
import gzip
import os
import sys
from dataclasses import dataclass
from itertools import islice
from typing import BinaryIO, Callable, Iterable, Iterator

import orjson

from ..errors import BAD_INPUT, SplError
from ..values import to_json_ready

BATCH_SIZE = 2048


def expand_inputs(patterns: Iterable[str]) -> list[str]:
    """Paths for the given names and globs, in the order given; `-` is standard input."""
    paths: list[str] = []
    for pattern in patterns:
        if pattern == "-" or os.path.exists(pattern):
            paths.append(pattern)
            continue
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise SplError(BAD_INPUT, f"no input file matches `{pattern}`")
        paths.extend(matches)
    return paths


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise SplError(BAD_INPUT, f"cannot read `{path}`: {error.strerror}") from None
    if handle.peek(2)[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        return gzip.GzipFile(fileobj=handle)
    return handle


@dataclass
class ReadCounters:
    lines: int = 0
    events: int = 0
    bad_lines: int = 0


class EventReader:
    """Yields lists of decoded JSON objects, `batch_size` at a time, across all inputs in order.

    A line that is not a JSON object is skipped and reported through `on_bad_line` with its
    file and line number; the run goes on, so one broken line never costs the rest.
    """

    def __init__(
        self,
        paths: list[str],
        batch_size: int = BATCH_SIZE,
        on_bad_line: Callable[[str], None] | None = None,
    ):
        self.paths = paths
        self.batch_size = batch_size
        self.on_bad_line = on_bad_line
        self.counters = ReadCounters()

    def batches(self) -> Iterator[list[dict]]:
        counters = self.counters
        for path in self.paths:
            stream = _open(path)
            name = "<stdin>" if path == "-" else path
            lines_before = 0
            try:
                while True:
                    lines = list(islice(stream, self.batch_size))
                    if not lines:
                        break
                    counters.lines += len(lines)
                    events = self._decode(lines, name, lines_before + 1)
                    lines_before += len(lines)
                    if events:
                        counters.events += len(events)
                        yield events
            except (OSError, EOFError) as error:
                raise SplError(BAD_INPUT, f"{name}: read failed after line {counters.lines}: {error}") from None
            finally:
                if stream is not sys.stdin.buffer:
                    stream.close()

    def _decode(self, lines: list[bytes], name: str, first_line_no: int) -> list[dict]:
        """All lines at C speed when they are all good; line by line, reporting, when not."""
        loads = orjson.loads
        try:
            events = [loads(line) for line in lines]
            if all(event.__class__ is dict for event in events):
                return events
        except orjson.JSONDecodeError:
            pass
        events = []
        for line_no, line in enumerate(lines, first_line_no):
            if not line.strip():
                continue
            try:
                event = loads(line)
            except orjson.JSONDecodeError as error:
                self._bad(f"{name}:{line_no}: invalid JSON ({error.args[0]})")
                continue
            if event.__class__ is not dict:
                self._bad(f"{name}:{line_no}: expected a JSON object, found {type(event).__name__}")
                continue
            events.append(event)
        return events

    def _bad(self, message: str) -> None:
        self.counters.bad_lines += 1
        if self.on_bad_line:
            self.on_bad_line(message)


def _json_default(value):
    if hasattr(value, "pattern"):
        return value.pattern
    raise TypeError


def encode_record(record: dict) -> bytes:
    """One JSON line; non-finite doubles become null and -0.0 becomes 0.0 (spec 4, 6.6)."""
    return orjson.dumps(to_json_ready(record), default=_json_default) + b"\n"
