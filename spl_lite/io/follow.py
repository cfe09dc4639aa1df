"""`spl-lite run --follow`: read input files as they grow and across rotation, like `tail -F`."""
from __future__ import annotations

import hashlib
import os
import select
import sys
import time
from typing import Callable, Iterator

from .evtx import is_evtx
from .framing import Block, OverlongLine
from .jsonl import _HEAD_BYTES, EventReader, FileProgress, _open

POLL_SECONDS = 0.2
READ_BYTES = 1 << 20


class FollowReader(EventReader):
    """An EventReader that never reaches the end of a plain file: it waits for more lines.

    Lines are handed on only once complete (ended by a newline). At end of data it checks each
    file by name: a different file there (renamed or deleted and created again: rotation) is
    switched to after the old one is read to its end; a file shorter than what was read (truncated
    in place) is read again from its start. Gzip and EVTX inputs are read once, then left. Standard
    input is read as data arrives and ends the run at end of file when it is the only input.
    `on_idle` is called whenever there is nothing to read, before sleeping `poll_seconds`.
    """

    def __init__(self, *args, poll_seconds: float = POLL_SECONDS, on_idle: Callable[[], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.poll_seconds = poll_seconds
        self.on_idle = on_idle

    def batches(self) -> Iterator[list[dict]]:
        tails: list[_Tail] = []
        for path in self.paths:
            if path == "-":
                tails.append(_StdinTail(self))
            elif is_evtx(path) or _is_gzip(path):
                yield from self._path_batches(path)
            else:
                tails.append(_FileTail(self, path))
        while tails:
            progressed = False
            for tail in tails:
                for events in tail.read():
                    progressed = True
                    yield events
            tails = [t for t in tails if not t.finished]
            if not progressed and tails:
                if self.on_idle:
                    self.on_idle()
                time.sleep(self.poll_seconds)


def _is_gzip(path: str) -> bool:
    if not os.path.isfile(path):  # a pipe or FIFO is not opened twice (the bytes read would be lost)
        return False
    with open(path, "rb") as handle:  # gzip, or a byte-order mark (UTF-16): read whole, not followed
        head = handle.read(3)
    return head[:2] in (b"\x1f\x8b", b"\xff\xfe", b"\xfe\xff") or head == b"\xef\xbb\xbf"


class _Tail:
    """Complete lines from one growing input, framed as they come (io/framing.py), decoded and handed
    over in batches."""

    finished = False

    def __init__(self, reader: FollowReader, name: str):
        self.reader, self.name = reader, name
        self._start(FileProgress(name))

    def _start(self, place: FileProgress) -> None:
        """Read from where `place` is; a line being written waits in the framer for its end."""
        self.place = place
        self.reached = (place.lines, place.offset)
        self.framer = self.reader.framer(place)  # in memory: a growing file may be rotated or truncated

    def _take(self, chunk: bytes) -> Iterator[list[dict]]:
        yield from self._framed(self.framer.feed(chunk))

    def _last_line(self) -> Iterator[list[dict]]:
        """The input ended (or was rotated away) with a line that has no newline: take it as it is."""
        yield from self._framed(self.framer.end())

    def _framed(self, items: list[Block | OverlongLine]) -> Iterator[list[dict]]:
        if items:
            self.reached = yield from self.reader.framed(items, self.name, self.place, start=self.reached)


class _FileTail(_Tail):
    def __init__(self, reader: FollowReader, path: str):
        super().__init__(reader, path)
        self.path = path
        self._open(resume=True)

    def _open(self, resume: bool) -> None:
        handle = _open(self.path)  # buffered, so that a resumed position can be sought
        self._start(self.reader._place(self.path, handle, resume=resume))
        self.read_to = self.place.offset  # bytes read from the file, complete lines or not
        self.handle = handle

    def read(self) -> Iterator[list[dict]]:
        while True:
            chunk = self.handle.read1(READ_BYTES)
            if chunk:
                self.read_to += len(chunk)
                yield from self._take(chunk)
                self._refresh_head()
                continue
            change = self._changed()
            if change is None:
                return
            if change == "rotated":
                yield from self._drain()
                self.handle.close()
                # Remember the old file by its inode, under a name of its own, so that a later run
                # given its new name (app.log.1) does not read it again.
                old = self.place
                old.path = f"{old.path} (rotated, inode {old.ino})"
                self.reader._files[old.path] = old
                self._open(resume=False)
                self.reader._warn(f"{self.path} was rotated; following the new file from its start")
            else:
                self.reader._warn(f"{self.path} was truncated; reading it again from the start")
                self.handle.seek(0)
                self._start(self.reader._place(self.path, self.handle, resume=False))
                self.read_to = 0

    def _changed(self) -> str | None:
        try:
            now = os.stat(self.path)
        except OSError:  # renamed away and not created again yet: keep the file we have
            return None
        mine = os.fstat(self.handle.fileno())
        if (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
            return "rotated"
        if now.st_size < self.read_to:
            return "truncated"
        return None

    def _drain(self) -> Iterator[list[dict]]:
        """The rest of a file that was renamed away: lines written to it before the rotation."""
        for chunk in iter(lambda: self.handle.read1(READ_BYTES), b""):
            self.read_to += len(chunk)
            yield from self._take(chunk)
        yield from self._last_line()

    def _refresh_head(self) -> None:
        """A file shorter than the identifying head when opened: identify it by what it has now."""
        place = self.place
        if place.head_len >= _HEAD_BYTES or not place.head_sha256:  # identified already, or not a file
            return
        head = os.pread(self.handle.fileno(), _HEAD_BYTES, 0)
        if len(head) > place.head_len:
            place.head_len, place.head_sha256 = len(head), hashlib.sha256(head).hexdigest()


class _StdinTail(_Tail):
    def __init__(self, reader: FollowReader):
        super().__init__(reader, "<stdin>")
        self.fd = sys.stdin.fileno()

    def read(self) -> Iterator[list[dict]]:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                return
            chunk = os.read(self.fd, READ_BYTES)
            if not chunk:
                self.finished = True
                yield from self._last_line()
                return
            yield from self._take(chunk)
