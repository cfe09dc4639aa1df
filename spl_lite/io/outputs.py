"""Where `spl-lite run` writes: records of one or several searches, and rejected input lines."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO, Callable

import orjson

from ..core.errors import BAD_INPUT, SplError
from .jsonl import BadLine, encode_record

# With several searches on standard output or one --output file, each line starts with this field.
LABEL_FIELD = "search"


def search_names(paths: list[str]) -> list[str]:
    """A name per search: its file name without `.spl` (`stdin` for `-`); a name already taken
    gets `-2`, `-3`, ... in command-line order."""
    names: list[str] = []
    for path in paths:
        stem = "stdin" if path == "-" else Path(path).stem
        name, n = stem, 1
        while name in names:
            n += 1
            name = f"{stem}-{n}"
        names.append(name)
    return names


def output_paths(names: list[str], output: str = "-", output_dir: str | None = None,
                 dead_letter: str | None = None) -> list[str]:
    """The files a run would write (standard output is none of them)."""
    paths = [os.path.join(output_dir, f"{name}.jsonl") for name in names] if output_dir is not None else (
        [] if output == "-" else [output])
    if dead_letter:
        paths += [dead_letter, dead_letter + ".index.jsonl"]
    return paths


def output_into_input(inputs: list[str], outputs: list[str]) -> str | None:
    """A message when an output file is one of the input files (the same file, by device and inode,
    whatever it is called): opening it for writing would empty the input before it is read."""
    read: dict[tuple[int, int], str] = {}
    for path in inputs:
        try:
            info = os.fstat(sys.stdin.fileno()) if path == "-" else os.stat(path)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(info.st_mode):
            read.setdefault((info.st_dev, info.st_ino), "standard input" if path == "-" else f"`{path}`")
    for path in outputs:
        try:
            info = os.stat(path)
        except OSError:
            continue  # not there yet: it cannot be an input
        if (info.st_dev, info.st_ino) in read:
            return (f"the output `{path}` is the input {read[info.st_dev, info.st_ino]}; writing it would destroy "
                    "the input before it is read: choose another output file")
    return None


class _Files:
    """Files this run writes. With `resume` (the lengths saved with the state of an earlier run)
    a file is appended to, after cutting off what was written after that state was saved, so that
    records are in it exactly once however the earlier run ended; without, it is started afresh."""

    def __init__(self, resume: dict[str, int] | None, notice: Callable[[str], None]):
        self.resume, self.notice = resume, notice
        self.handles: dict[str, BinaryIO] = {}
        self.names: dict[int, str] = {}  # id(handle) -> path, for messages
        self.pipe_closed = False  # standard output's reader went away: stop after this batch
        self.seekable: set[int] = set()  # id(handle) of regular files

    def open(self, path: str) -> BinaryIO:
        key = os.path.abspath(path)
        try:
            # Unbuffered: each batch is one write anyway, and a write that fails leaves nothing behind
            # to be written later (write_all cuts the file back to its last whole line).
            if self.resume is None:
                handle = open(path, "wb", buffering=0)
            else:
                handle = open(path, "ab", buffering=0)
                saved = self.resume.get(key)
                size = os.fstat(handle.fileno()).st_size
                if saved is not None and size > saved:
                    handle.truncate(saved)
                    self.notice(f"{path}: removed {size - saved:,} bytes written after the last saved state "
                                "(they are written again)")
        except OSError as error:
            raise SplError(BAD_INPUT, f"cannot write `{path}`: {error.strerror}") from None
        self.handles[key] = handle
        self.names[id(handle)] = path
        if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # not a pipe, FIFO or device: can be cut back
            self.seekable.add(id(handle))
        return handle

    def _regular(self):
        for key, handle in self.handles.items():
            if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # not /dev/null, a pipe, a terminal
                yield key, handle

    def lengths(self) -> dict[str, int]:
        return {key: handle.tell() for key, handle in self._regular()}

    def sync(self) -> None:
        for _, handle in self._regular():
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()

    def write_all(self, handle: BinaryIO, data: bytes) -> None:
        """Write `data` whole, or raise SplError (exit 3) naming the file with the file cut back to
        where it was: a full disk leaves no torn last line. A broken pipe is left to the caller."""
        if id(handle) not in self.names:  # standard output, buffered
            try:
                handle.write(data)
                handle.flush()
            except BrokenPipeError:
                # The reader went away (`| head`). The batch goes on through every search (into
                # nothing) so that the state saved after it is whole; the run then stops (pipe_closed).
                self.pipe_closed = True
                try:
                    os.dup2(os.open(os.devnull, os.O_WRONLY), handle.fileno())
                except (OSError, ValueError):
                    raise BrokenPipeError from None
            except OSError as error:
                try:  # what is still buffered goes nowhere, instead of failing again at exit
                    os.dup2(os.open(os.devnull, os.O_WRONLY), handle.fileno())
                except (OSError, ValueError):
                    pass
                raise SplError(BAD_INPUT, f"cannot write standard output: {error.strerror}") from None
            return
        start = None
        try:
            if id(handle) in self.seekable:
                start = handle.tell()
            view = memoryview(data)
            while view:
                written = handle.write(view)
                view = view[written:]
        except BrokenPipeError:
            raise
        except OSError as error:
            if start is not None:
                try:
                    handle.truncate(start)
                    handle.seek(start)
                except OSError:
                    pass
            raise SplError(BAD_INPUT, f"cannot write `{self.names[id(handle)]}`: {error.strerror}") from None


class Outputs:
    """Standard output or one --output file for all searches, or one file per search in a directory.

    With several searches sharing one stream, every line starts with `"search": "<name>"`.
    """

    def __init__(
        self,
        names: list[str],
        output: str = "-",
        output_dir: str | None = None,
        resume: dict[str, int] | None = None,
        notice: Callable[[str], None] = lambda message: None,
    ):
        self.files = _Files(resume, notice)
        if output_dir is not None:
            try:
                os.makedirs(output_dir, exist_ok=True)
            except OSError as error:
                raise SplError(BAD_INPUT, f"cannot create `{output_dir}`: {error.strerror}") from None
            self.streams = [self.files.open(os.path.join(output_dir, f"{name}.jsonl")) for name in names]
            self.labels = [None] * len(names)
        else:
            stream = sys.stdout.buffer if output == "-" else self.files.open(output)
            self.streams = [stream] * len(names)
            labelled = len(names) > 1
            self.labels = [b'{"' + LABEL_FIELD.encode() + b'":' + orjson.dumps(name) if labelled else None
                           for name in names]

    def writer(self, index: int) -> Callable[[str, object], None]:
        """The `emit` of search `index`: its records, flushed batch by batch."""
        stream, label = self.streams[index], self.labels[index]
        write_all = self.files.write_all
        if label is None:
            def write(sink: str, batch) -> None:
                # Written (and flushed) batch by batch: what was detected is out even if a later line kills the run.
                write_all(stream, b"".join(encode_record(record) for record in batch.records()))
        else:
            def write(sink: str, batch) -> None:
                lines = [encode_record(record) for record in batch.records()]
                write_all(stream, b"".join(label + (b"," + line[1:] if line != b"{}\n" else b"}\n") for line in lines))
        return write

    def flush(self) -> None:
        for stream in dict.fromkeys(self.streams):
            stream.flush()

    def close(self) -> None:
        self.flush()
        self.files.close()


class DeadLetter:
    """--dead-letter FILE: each rejected line exactly as read (a newline added if it had none) in
    FILE, and one JSON object per line in FILE.index.jsonl: file, line, reason, bytes, offset."""

    def __init__(self, path: str, files: _Files):
        self.files = files
        self.data = files.open(path)
        self.index = files.open(path + ".index.jsonl")

    def write(self, bad: BadLine) -> None:
        write_all = self.files.write_all
        offset = self.data.tell()
        raw = bad.raw
        if bad.spool is not None:  # an overlong line, copied a piece at a time
            bad.spool.seek(0)
            last = b""
            for piece in iter(lambda: bad.spool.read(1 << 20), b""):
                write_all(self.data, piece)
                last = piece
            bad.spool.close()
            if not last.endswith(b"\n"):
                write_all(self.data, b"\n")
        else:
            write_all(self.data, raw if raw.endswith(b"\n") else raw + b"\n")
        entry = {"file": bad.name, "line": bad.line_no, "reason": bad.reason, "bytes": bad.size, "offset": offset}
        write_all(self.index, orjson.dumps(entry) + b"\n")
