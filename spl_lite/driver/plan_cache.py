"""Plans of search texts kept between runs, so that a library of searches is not parsed and planned
again at every run (136 corpus detections: about 1.7 s of parsing and planning, 0.1 s read back).

An entry is the plan's JSON (`Plan.to_json`, which round-trips exactly) and its warnings, in a file
named by a digest of the text and of spl-lite's own code (the version, and the name, size and
modification time of every file of the package), so that an edited or upgraded spl-lite never
reads a plan another planner made. Entries are written to a temporary file and renamed into
place; one that cannot be read back as a plan of that very text is ignored and replaced: the cache
can only make a run faster, never change what it does.

Each code change names every entry anew, so entries of older code are never read again: an entry
not read for UNUSED_DAYS is removed (a read touches its modification time), as is a temporary file
a killed run left, when a run first writes to the directory.

The directory is `$SPL_LITE_CACHE_DIR`, else `$XDG_CACHE_HOME/spl-lite/plans` or
`~/.cache/spl-lite/plans`; `SPL_LITE_CACHE_DIR=` (empty) turns the cache off.
"""
from __future__ import annotations

import hashlib
import os
import time
from functools import lru_cache
from pathlib import Path

import orjson

from ..core import VERSION
from ..core.errors import SplError
from ..plan.logical import Plan, from_data, to_data

CACHE_ENV = "SPL_LITE_CACHE_DIR"
_FORMAT = 1  # of an entry; a change makes every older entry a miss
UNUSED_DAYS = 30
_TEMPORARY_SECONDS = 3600  # a write takes milliseconds; a temporary file this old is a killed run's


def cache_dir() -> Path | None:
    """Where plans are kept, or None when the cache is turned off."""
    given = os.environ.get(CACHE_ENV)
    if given is not None:
        return Path(given) if given else None
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spl-lite" / "plans"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """What identifies the code that plans: the version and every file of the package as installed."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    found = []
    # os.walk with plain strings, not Path.rglob: half the time, paid by every run at start-up.
    for directory, subdirectories, files in os.walk(package):
        subdirectories[:] = [name for name in subdirectories if name != "__pycache__"]  # no sources there
        found += [os.path.join(directory, name) for name in files if name.endswith((".py", ".lark"))]
    digest = hashlib.sha256(f"{VERSION} {_FORMAT}".encode())
    for path in sorted(found):
        stat = os.stat(path)
        digest.update(f"{os.path.relpath(path, package)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _entry(directory: Path, text: str) -> tuple[Path, str]:
    text_digest = hashlib.sha256(text.encode()).hexdigest()
    name = hashlib.sha256(f"{code_digest()} {text_digest}".encode()).hexdigest()
    return directory / f"{name}.json", text_digest


def load(text: str) -> Plan | None:
    """The plan stored for `text` by this code, or None (none stored, the cache off or unreadable)."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        path, text_digest = _entry(directory, text)
        data = orjson.loads(path.read_bytes())
        if data["text"] != text_digest:
            return None
        plan = Plan.from_json(data["plan"])
        warnings = tuple(SplError(w["code"], w["message"], from_data(w["span"]), w["hint"], list(w["notes"]),
                                  w["severity"]) for w in data["warnings"])
        _touch(path)
        return Plan(plan.nodes, warnings)
    except Exception:  # noqa: BLE001 - a missing, damaged or foreign entry is only a miss
        return None


def store(text: str, plan: Plan) -> None:
    """Keep `plan` for `text`; a cache that cannot be written is left alone."""
    directory = cache_dir()
    if directory is None:
        return
    try:
        path, text_digest = _entry(directory, text)
        warnings = [{"code": w.code, "message": w.message, "span": to_data(w.span), "hint": w.hint,
                     "notes": list(w.notes), "severity": w.severity} for w in plan.warnings]
        data = orjson.dumps({"text": text_digest, "plan": plan.to_json(), "warnings": warnings})
        directory.mkdir(parents=True, exist_ok=True)
        _sweep(directory)
        import tempfile  # here: only a run that plans anew writes, and start-up is spared its import

        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, TypeError, ValueError):  # read-only, full, or a value JSON cannot hold
        return


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:  # a read-only cache still serves its plans
        pass


@lru_cache(maxsize=None)
def _sweep(directory: Path) -> None:
    """Removes the entries not read for UNUSED_DAYS and stale temporary files, once per process."""
    now = time.time()
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                age = now - entry.stat().st_mtime
                if (entry.name.endswith(".json") and age > UNUSED_DAYS * 86400) or (
                    entry.name.endswith(".tmp") and age > _TEMPORARY_SECONDS
                ):
                    os.unlink(entry.path)
            except OSError:  # gone meanwhile, or another user's
                continue
