"""Time functions (spec 6.7): time() with a replaceable clock, and DSP's strftime over epoch milliseconds."""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
import time as system_time
from typing import Callable
from zoneinfo import ZoneInfo

from ..core.values import is_number, type_name
from .registry import function
from .string import text_arg


def _system_clock() -> int:
    return system_time.time_ns() // 1_000_000


_clock: Callable[[], int] = _system_clock


def set_clock(clock: Callable[[], int] | None) -> Callable[[], int]:
    """Make `time()` return `clock()` (epoch ms), or the system clock again for None.

    Returns the clock that was in place, so a caller can restore it.
    """
    global _clock
    previous, _clock = _clock, clock or _system_clock
    return previous


@function("time", example='time()')
def time_():
    """Current processing time in epoch milliseconds (not event time)."""
    return _clock()


_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _offset(moment: dt.datetime, colon: str) -> str:
    minutes = int(moment.utcoffset().total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{colon}{minutes:02d}"


def _hour12(moment: dt.datetime) -> int:
    return moment.hour % 12 or 12


# Splunk's time-format variables (the locale-dependent %c, %x, %X, %+ are left out, as in DSP).
_CODES: dict[str, Callable[[dt.datetime], str]] = {
    "Y": lambda m: f"{m.year:04d}",
    "y": lambda m: f"{m.year % 100:02d}",
    "C": lambda m: f"{m.year // 100:02d}",
    "m": lambda m: f"{m.month:02d}",
    "d": lambda m: f"{m.day:02d}",
    "e": lambda m: f"{m.day:2d}",
    "j": lambda m: f"{m.timetuple().tm_yday:03d}",
    "H": lambda m: f"{m.hour:02d}",
    "k": lambda m: f"{m.hour:2d}",
    "I": lambda m: f"{_hour12(m):02d}",
    "l": lambda m: f"{_hour12(m):2d}",
    "M": lambda m: f"{m.minute:02d}",
    "S": lambda m: f"{m.second:02d}",
    "p": lambda m: "AM" if m.hour < 12 else "PM",
    "a": lambda m: _DAYS[m.weekday()][:3],
    "A": lambda m: _DAYS[m.weekday()],
    "b": lambda m: _MONTHS[m.month - 1][:3],
    "h": lambda m: _MONTHS[m.month - 1][:3],
    "B": lambda m: _MONTHS[m.month - 1],
    "u": lambda m: str(m.isoweekday()),
    "w": lambda m: str(m.isoweekday() % 7),
    "U": lambda m: f"{(m.timetuple().tm_yday + 6 - m.isoweekday() % 7) // 7:02d}",
    "W": lambda m: f"{(m.timetuple().tm_yday + 6 - m.weekday()) // 7:02d}",
    "V": lambda m: f"{m.isocalendar()[1]:02d}",
    "G": lambda m: f"{m.isocalendar()[0]:04d}",
    "g": lambda m: f"{m.isocalendar()[0] % 100:02d}",
    "F": lambda m: f"{m.year:04d}-{m.month:02d}-{m.day:02d}",
    "T": lambda m: f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}",
    "D": lambda m: f"{m.month:02d}/{m.day:02d}/{m.year % 100:02d}",
    "R": lambda m: f"{m.hour:02d}:{m.minute:02d}",
    "r": lambda m: f"{_hour12(m):02d}:{m.minute:02d}:{m.second:02d} {'AM' if m.hour < 12 else 'PM'}",
    "s": lambda m: str((m - _EPOCH) // dt.timedelta(seconds=1)),
    "Z": lambda m: m.tzname(),
    "z": lambda m: _offset(m, ""),
    "n": lambda m: "\n",
    "t": lambda m: "\t",
    "%": lambda m: "%",
}

# `%3Q`/`%6N`: sub-second digits (Q defaults to milliseconds, N to nanoseconds); `%:z`: +hh:mm.
_DIRECTIVE = re.compile(r"%(?:([1-9]?)([NQ])|(:z)|(.))|%$", re.DOTALL)


@function(
    "strftime", "time", "format", "time_zone?", nulls="handle",
    example='strftime(1543883484466, "%Y-%m-%d %H:%M:%S")', result='"2018-12-04 00:31:24"',
)
def strftime(epoch_ms, fmt, time_zone=None):
    """Epoch milliseconds as text in `time_zone` (UTC when null, absent or unknown); null when the
    time or the format is null."""
    if epoch_ms is None or fmt is None:
        return None
    if not is_number(epoch_ms):
        raise TypeError(f"strftime needs epoch milliseconds, got {type_name(epoch_ms)}")
    if type(epoch_ms) is int:
        seconds, millis = divmod(epoch_ms, 1000)
        nanos = millis * 1_000_000
    elif math.isfinite(epoch_ms):
        seconds, nanos = divmod(round(epoch_ms * 1_000_000), 1_000_000_000)
    else:
        return None
    try:
        moment = (_EPOCH + dt.timedelta(seconds=seconds)).astimezone(_zone(time_zone))
    except OverflowError:
        raise ValueError(f"strftime: {epoch_ms} ms is outside the years 1-9999") from None
    return _DIRECTIVE.sub(lambda d: _expand(d, moment, nanos), text_arg("strftime", fmt))


def _expand(directive: re.Match, moment: dt.datetime, nanos: int) -> str:
    width, subsecond, colon_z, code = directive.groups()
    if subsecond:
        digits = int(width or (3 if subsecond == "Q" else 9))
        return f"{nanos:09d}"[:digits]
    if colon_z:
        return _offset(moment, ":")
    if code is None or code not in _CODES:
        raise ValueError(f"strftime: unsupported format variable {directive.group()!r}")
    return _CODES[code](moment)


def _zone(name) -> dt.tzinfo:
    if name is None:
        return _UTC
    return _named_zone(text_arg("strftime", name))


_OFFSET_ZONE = re.compile(r"(?:GMT|UTC)?([+-])(\d{1,2})(?::?(\d{2}))?")


@functools.lru_cache(maxsize=256)
def _named_zone(name: str) -> dt.tzinfo:
    name = name.strip()
    if name.upper() in ("UTC", "GMT", "UT", "Z", ""):
        return _UTC
    try:
        offset = _OFFSET_ZONE.fullmatch(name)
        if offset:
            sign, hours, minutes = offset.groups()
            delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
            return dt.timezone(-delta if sign == "-" else delta)
        return ZoneInfo(name)
    except (ValueError, OSError, LookupError):
        # Java's TimeZone.getTimeZone falls back to GMT for an id it does not know; BA detections
        # rely on that (they pass "%Z" as the zone).
        return _UTC
