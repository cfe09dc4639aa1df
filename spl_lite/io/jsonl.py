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
from .evtx import is_evtx, read_batches as read_evtx_batches

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
            if is_evtx(path):  # binary Windows event log: its records, flattened (spl_lite.io.evtx)
                for events in read_evtx_batches(path, self.batch_size, self._bad):
                    counters.lines += len(events)
                    counters.events += len(events)
                    yield events
                continue
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
        events, bad = decode_lines(lines, first_line_no)
        for line_no, reason, _ in bad:
            self._bad(f"{name}:{line_no}: {reason}")
        return events

    def _bad(self, message: str) -> None:
        self.counters.bad_lines += 1
        if self.on_bad_line:
            self.on_bad_line(message)


def decode_lines(lines: list[bytes], first_line_no: int) -> tuple[list[dict], list[tuple[int, str, bytes]]]:
    """(events, bad lines as (line number, reason, raw bytes)). All lines at C speed when they are
    all good; line by line only for a batch that has a bad one. Blank lines are skipped silently."""
    loads = orjson.loads
    try:
        events = [loads(line) for line in lines]
        if all(event.__class__ is dict for event in events):
            return events, []
    except orjson.JSONDecodeError:
        pass
    events, bad = [], []
    for line_no, line in enumerate(lines, first_line_no):
        if not line.strip():
            continue
        try:
            event = loads(line)
        except orjson.JSONDecodeError as error:
            bad.append((line_no, f"invalid JSON ({error.args[0]})", line))
            continue
        if event.__class__ is not dict:
            bad.append((line_no, f"expected a JSON object, found {type(event).__name__}", line))
            continue
        events.append(event)
    return events, bad


def _json_default(value):
    if hasattr(value, "pattern"):
        return value.pattern
    raise TypeError


def encode_record(record: dict) -> bytes:
    """One JSON line; non-finite doubles become null and -0.0 becomes 0.0 (spec 4, 6.6)."""
    return orjson.dumps(to_json_ready(record), default=_json_default) + b"\n"
