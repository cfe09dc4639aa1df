"""OCSF process documents read for the SSA keys a plan needs (a nested projection).

An SSA search over OCSF input reads each document as ocsf.to_enriched makes it. For a block of
OCSF lines this decoder reads, with one msgspec schema of nested structs, only the document paths
the needed keys are made of (ocsf.ENRICHED_FROM), the rest of each line skipped unparsed, and makes
each key's column once per distinct combination of its paths' values, with the same functions.

Values passed through unchanged are read as text, integer or null; the user objects, file hashes
and `class_uid`, which to_enriched looks into or compares, are read raw and parsed by orjson once
per distinct text. A block is declined (None) and takes the whole-event path when a line is not a
flat OCSF document (`class_uid` absent, or a key by which formats.kind_of makes it something else),
when a value read is of another type (a float, a list, an object where text is read), or when an
object on a path is a number beyond 64 bits (the parsers differ there), or anything the block checks
of json_blocks.py reject.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Annotated, Callable, Union

import msgspec
import orjson
from msgspec import UNSET

from ..core.batch import ProjectedMaps, known, null_column, object_column
from .formats import OCSF
from .json_blocks import schema_records
from .ocsf import ENRICHED_FROM, unchanged

_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_VALUE = Union[str, _INT64, None, msgspec.UnsetType]
_RAW = Union[msgspec.Raw, msgspec.UnsetType]
# No JSON value passes: a line with one of these keys is a stream record or a raw Windows record
# (formats.kind_of), declined.
_ABSENT = Annotated[int, msgspec.Meta(ge=1, le=0)]
_OTHER_SHAPE_KEYS = ("input_event", "_raw", "winlog", "event_data", "EventID", "EventId")
# Paths whose value to_enriched looks into or compares (not passed on): read raw.
_RAW_PATHS = frozenset((("process", "user"), ("actor", "user"), ("process", "file", "hashes"), ("class_uid",)))
_CLASS_UID = ("class_uid",)
_DATAMODELS = "_datamodels"


class OcsfDecoder:
    """Decodes a block of OCSF document lines into a ProjectedMaps of the SSA `keys` (kind OCSF),
    one row a line; None: the block needs the whole-event path. Shaped like
    ProjectedDecoder.decode_block."""

    def __init__(self, keys: frozenset[str]):
        self.keys = tuple(sorted(keys))
        paths = {path for key in self.keys if key in ENRICHED_FROM for path in ENRICHED_FROM[key][0]}
        self._paths = tuple(sorted(paths | {_CLASS_UID}))
        self._decoder = msgspec.json.Decoder(_schema(self._paths, "OcsfDocument", top=True))
        self._memos: dict[str, dict] = {key: {} for key in self.keys}

    def decode_block(self, block: bytes, place: tuple[str, int] | None = None) -> ProjectedMaps | None:
        """The SSA events of a block of OCSF documents (`place` is not needed: no key is deferred)."""
        decoded = schema_records(self._decoder, block)
        if decoded is None:
            return None
        records, _ = decoded
        count = len(records)
        found: dict[tuple[str, ...], list] = {(): records}
        for path in self._paths:
            column = _values_at(path, found)
            if path in _RAW_PATHS:  # as hashable text
                try:
                    found[path] = list(map(bytes, column))
                except TypeError:  # UNSET where absent
                    found[path] = [value if value is UNSET else bytes(value) for value in column]
        values = {}
        for key in self.keys:
            if key not in ENRICHED_FROM:
                values[key] = null_column(count)
                continue
            paths, made = ENRICHED_FROM[key]
            if made is unchanged:  # the value itself, absent as null
                column = found[paths[0]]
                if UNSET in column:
                    column = [None if value is UNSET else value for value in column]
            else:
                column = _per_distinct(made, [found[path] for path in paths], self._memos[key], key == _DATAMODELS)
                if column is None:
                    return None
                if key == _DATAMODELS:  # a list a row, never one shared
                    column = [list(value) for value in column]
            values[key] = known(object_column(column))
        return ProjectedMaps(values, count, kind=OCSF)


def _schema(paths: tuple[tuple[str, ...], ...], name: str, top: bool = False) -> type:
    """Nested structs holding these paths (relative to this level). An object on a path may be any
    other JSON value too (to_enriched then finds nothing under it), except a number beyond 64 bits."""
    children: dict[str, list[tuple[str, ...]]] = {}
    for path in paths:
        children.setdefault(path[0], []).append(path[1:])
    fields = []
    for i, (key, below) in enumerate(sorted(children.items())):
        if below == [()]:
            kind = _RAW if (*name.split(".")[1:], key) in _RAW_PATHS else _VALUE
        else:
            inner = _schema(tuple(p for p in below if p), f"{name}.{key}")
            kind = Union[inner, str, _INT64, float, bool, list, None, msgspec.UnsetType]
        default = msgspec.NODEFAULT if top and (key,) == _CLASS_UID else UNSET  # no class_uid: no OCSF line
        fields.append((f"f{i}", kind, msgspec.field(default=default, name=key)))
    if top:
        fields += [(f"g{i}", _ABSENT, msgspec.field(default=None, name=key)) for i, key in enumerate(_OTHER_SHAPE_KEYS)]
    struct = msgspec.defstruct(name.replace(".", "_"), fields, gc=False, kw_only=True)
    struct.ocsf_keys = {key: f"f{i}" for i, key in enumerate(sorted(children))}
    return struct


def _values_at(path: tuple[str, ...], found: dict[tuple[str, ...], list]) -> list:
    """Each row's value at `path`: what the decoded struct holds, UNSET where a level is absent or
    no object (to_enriched's `_get` then gives None); levels above taken from `found`, and kept."""
    column = found.get(path)
    if column is not None:
        return column
    above = _values_at(path[:-1], found)
    struct = _struct_of(above)
    if struct is None:  # no row has an object there
        column = [UNSET] * len(above)
    else:
        get = attrgetter(struct.ocsf_keys[path[-1]])
        try:
            column = list(map(get, above))  # the common case: an object in every row
        except AttributeError:
            column = [get(value) if value.__class__ is struct else UNSET for value in above]
    found[path] = column
    return column


def _struct_of(column: list) -> type | None:
    """The struct class of the objects in a column (one a path: the schema nests one), if any."""
    for value in column:
        if isinstance(value, msgspec.Struct):
            return value.__class__
    return None


def _per_distinct(made: Callable, inputs: list[list], memo: dict, shared_list: bool = False) -> list | None:
    """made(*values) of each row, once per distinct row of inputs (absent as null, raw texts
    parsed); None where that cannot be decided here: an object or a list made (a user's `uuid`),
    which a row must not share with another, unless `shared_list` (copied by the caller)."""
    keys = inputs[0] if len(inputs) == 1 else list(zip(*inputs))
    single = len(inputs) == 1
    if len(memo) > _MEMO_SIZE:
        memo.clear()
    # Not `dict.fromkeys(keys).keys() - memo.keys()`, which walks every key of the memo.
    for key in [key for key in dict.fromkeys(keys) if key not in memo]:
        try:
            args = [None if value is UNSET else orjson.loads(value) if value.__class__ is bytes else value
                    for value in ((key,) if single else key)]
        except orjson.JSONDecodeError:  # a number beyond double range: orjson decides, line by line
            return None
        value = made(*args)
        if value.__class__ in (list, dict) and not shared_list:
            return None
        memo[key] = value
    return list(map(memo.__getitem__, keys))


_MEMO_SIZE = 1 << 16
