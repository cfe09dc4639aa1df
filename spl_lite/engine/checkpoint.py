"""Resumable runs (`spl-lite run --state DIR`): operator state and input progress, saved atomically.

The state directory holds `state.json` and a `lock` file. `state.json` is two parts:

    {"format": "spl-lite-state", "version": 2, "length": N, "sha256": "<hex>"}\\n
    <N bytes: the payload, one JSON object>\\n

The header's length and checksum cover the payload, so a truncated or damaged file is detected
before anything is loaded; it is replaced with write-to-temp + fsync + rename + fsync of the
directory, so a crash leaves either the old state or the new one, never a mix. The payload:

    {"spl_lite": version, "saved_at": ISO time, "events": events consumed over all runs,
     "searches": [{"name", "path", "sha256" (of the search text), "execution": Execution.state_dict()}],
     "inputs": [{"path", "lines", "offset", "dev", "ino", "head_len", "head_sha256"}],
     "outputs": {path: bytes written when the state was saved}}
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson

from ..core import VERSION as PACKAGE_VERSION
from ..core.errors import StateError

FORMAT = "spl-lite-state"
VERSION = 2
# Version 1 kept a windowed adaptive_threshold history as [time, value] pairs; this version reads
# those too (streaming_ml._Expiry.from_state).
READABLE_VERSIONS = (1, 2)
STATE_FILE = "state.json"
LOCK_FILE = "lock"
_RESET_HINT = "`--reset-state` discards the saved state and starts over"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_state(payload: dict) -> bytes:
    """The bytes of a state file for `payload`."""
    return b"".join(state_file_parts(payload))


def state_file_parts(payload: dict) -> tuple[bytes, bytes, bytes]:
    """A state file for `payload` as header line, payload and final newline: written one after the
    other, the payload (hundreds of MiB for a long run) is never copied to join them."""
    try:
        body = orjson.dumps(payload)
    except (TypeError, orjson.JSONEncodeError):
        # orjson stops at 254 levels; state keys of deeply nested values go deeper (json's limit is
        # Python's recursion limit, raised by the executor for such values).
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    header = {"format": FORMAT, "version": VERSION, "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    return orjson.dumps(header) + b"\n", body, b"\n"


def decode_state(data: bytes, where: str) -> dict:
    """The payload of a state file; StateError if it is not one, is damaged, or is of another version."""
    header_line, newline, rest = data.partition(b"\n")
    try:
        header = orjson.loads(header_line)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT or not newline:
        raise StateError(f"{where} is not an spl-lite state file, or its header is damaged; {_RESET_HINT}")
    version = header.get("version")
    if version not in READABLE_VERSIONS:
        raise StateError(
            f"{where} has state format version {version!r}; this spl-lite reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}; {_RESET_HINT}"
        )
    length = header.get("length")
    body = rest[:-1]
    if not isinstance(length, int) or len(rest) != length + 1 or rest[-1:] != b"\n":
        raise StateError(f"{where} is truncated or damaged ({len(rest)} bytes after the header, expected "
                         f"{length!r} + 1); nothing was loaded; {_RESET_HINT}")
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise StateError(f"{where} is damaged (checksum mismatch); nothing was loaded; {_RESET_HINT}")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = json.loads(body)  # written by the deep-value fallback of encode_state
    if not isinstance(payload, dict):
        raise StateError(f"{where} holds no state object; {_RESET_HINT}")
    return payload


def write_atomically(path: Path, *parts: bytes) -> None:
    """Replace `path` with the `parts`, one after the other, so that a crash at any moment leaves the
    old or the new file.

    The temporary file is made by mkstemp in the same directory: a name nobody can predict, opened
    with O_CREAT|O_EXCL|O_NOFOLLOW (a symlink planted there is never followed); when anything fails
    it is removed, so a full disk leaves nothing behind."""
    import tempfile  # here: only a run that saves state writes, and start-up is spared its import

    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "wb") as handle:
            for data in parts:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory; the rename is still atomic
        pass
    finally:
        os.close(fd)


_INPUT_FIELDS = {"path": str, "lines": int, "offset": int, "dev": int, "ino": int, "head_len": int, "head_sha256": str}


def _count(value) -> bool:
    return type(value) is int and value >= 0


def check_shape(payload: dict, where: str) -> None:
    """StateError unless the payload has the shape build_payload gives it: a state file whose
    checksum is right may still have been written by hand."""
    problems = []
    if not _count(payload.get("events", 0)):
        problems.append("`events` is not a count")
    searches = payload.get("searches", [])
    if not isinstance(searches, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("execution"), dict)
            and _count(e["execution"].get("next_row_id")) and isinstance(e["execution"].get("operators"), list)
            for e in searches):
        problems.append("`searches` is not a list of {name, sha256, execution: {operators, next_row_id}}")
    inputs = payload.get("inputs", [])
    if not isinstance(inputs, list) or not all(
            isinstance(e, dict) and e.keys() == _INPUT_FIELDS.keys()
            and all(type(e[k]) is t and (t is str or e[k] >= 0) for k, t in _INPUT_FIELDS.items())
            for e in inputs):
        problems.append("`inputs` is not a list of {" + ", ".join(_INPUT_FIELDS) + "}")
    outputs = payload.get("outputs", {})
    if not isinstance(outputs, dict) or not all(isinstance(k, str) and _count(v) for k, v in outputs.items()):
        problems.append("`outputs` is not an object of file lengths")
    if problems:
        raise StateError(f"{where} is not a state spl-lite wrote: " + "; ".join(problems)
                         + f"; nothing was loaded; {_RESET_HINT}")


@dataclass
class SearchIdentity:
    """A search of the run, as the state names it: its output name, file and text digest."""

    name: str
    path: str
    sha256: str


class StateDir:
    """A state directory held for one run: created if needed, locked against a concurrent run."""

    def __init__(self, directory: str, reset: bool = False):
        self.path = Path(directory)
        self.file = self.path / STATE_FILE
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # Never through a symlink: a link planted as `lock` would have its target created.
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            self._lock = open(fd, "r+b")
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise StateError(f"cannot use state directory `{directory}`: its `{LOCK_FILE}` is a symbolic link; "
                                 "remove it") from None
            raise StateError(f"cannot use state directory `{directory}`: {error.strerror}") from None
        try:
            import fcntl

            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not POSIX: no lock, one run at a time is up to the user
            pass
        except OSError as error:
            self._lock.close()
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise StateError(f"state directory `{directory}` is in use by another spl-lite run") from None
            raise StateError(f"cannot lock state directory `{directory}`: {error.strerror}") from None
        if reset:
            for stale in (self.file, *self.path.glob(f".{STATE_FILE}.*.tmp")):
                stale.unlink(missing_ok=True)

    def load(self) -> dict | None:
        """The saved payload, or None when there is none yet."""
        try:
            data = self.file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateError(f"cannot read `{self.file}`: {error.strerror}") from None
        payload = decode_state(data, f"`{self.file}`")
        check_shape(payload, f"`{self.file}`")
        return payload

    def save(self, build_payload: Callable[[], dict]) -> None:
        """Save the payload `build_payload` gives; it is let go once encoded, before the file is
        written, so the objects and their bytes are not held at once longer than needed."""
        parts = state_file_parts(build_payload())
        try:
            write_atomically(self.file, *parts)
        except OSError as error:
            raise StateError(f"cannot save state to `{self.file}`: {error.strerror}") from None

    def close(self) -> None:
        self._lock.close()  # closing releases the lock


def check_searches(payload: dict, searches: list[SearchIdentity], where: str) -> dict[str, dict]:
    """The saved execution state of each search by name; StateError if the set of searches or a
    search's text differs from the run that saved the state."""
    saved = {entry["name"]: entry for entry in payload.get("searches", [])}
    problems = []
    for search in searches:
        entry = saved.get(search.name)
        if entry is None:
            problems.append(f"search `{search.name}` ({search.path}) is not in the saved state")
        elif entry.get("sha256") != search.sha256:
            problems.append(
                f"search `{search.name}` ({search.path}) has changed since the state was saved "
                f"(sha256 {entry.get('sha256', '?')[:12]}... then, {search.sha256[:12]}... now)"
            )
    extra = sorted(set(saved) - {s.name for s in searches})
    if extra:
        problems.append("the saved state also holds " + ", ".join(f"`{name}`" for name in extra)
                        + ", which this run does not include")
    if problems:
        raise StateError(
            f"the state in {where} does not belong to these searches: " + "; ".join(problems)
            + f". Its operator state would not match. Run the same searches, or {_RESET_HINT}"
        )
    return {name: entry["execution"] for name, entry in saved.items()}


def build_payload(
    searches: list[SearchIdentity], executions: list, inputs: list[dict], outputs: dict[str, int], events: int
) -> dict:
    return {
        "spl_lite": PACKAGE_VERSION,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "events": events,
        "searches": [
            {"name": s.name, "path": s.path, "sha256": s.sha256, "execution": e.state_dict()}
            for s, e in zip(searches, executions)
        ],
        "inputs": inputs,
        "outputs": outputs,
    }


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised where the run can stop with its state consistent."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalGuard:
    """Turns SIGINT/SIGTERM into `Interrupted`, but never inside a `critical()` block.

    A batch is pushed through every search, written and committed inside such a block; a signal
    arriving then is raised when the block ends, so the state saved afterwards covers whole batches
    only. Outside blocks (reading input, waiting for a followed file to grow) it is raised at once.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._pending: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "SignalGuard":
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: signals stay as they are
                pass
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _ACTIVE.remove(self)
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame) -> None:
        if self._depth:
            self._pending = signum
            return
        raise Interrupted(signum)

    def critical(self) -> "_Critical":
        return _Critical(self)


_ACTIVE: list[SignalGuard] = []


def stop_waiting() -> bool:
    """Whether SIGINT/SIGTERM arrived during a batch and waits for it to end."""
    return any(guard._pending is not None for guard in _ACTIVE)


def _restore_in_child() -> None:
    """A process forked under a guard (a --workers pool) gets the usual handlers back: the pool
    stops its workers with SIGTERM, which must end them, not raise in them."""
    for guard in reversed(_ACTIVE):
        guard._restore()
    _ACTIVE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restore_in_child)


class _Critical:
    __slots__ = ("guard",)

    def __init__(self, guard: SignalGuard):
        self.guard = guard

    def __enter__(self) -> None:
        self.guard._depth += 1

    def __exit__(self, kind, value, traceback) -> None:
        guard = self.guard
        guard._depth -= 1
        if not guard._depth and guard._pending is not None and kind is None:
            signum, guard._pending = guard._pending, None
            raise Interrupted(signum)
