"""Map functions and JSON (de)serialisation (spec 6.2): map_get, create_map, from_json_object, serialize_json."""
from __future__ import annotations

from itertools import repeat

import orjson

from ..core.batch import MapsView, ProjectedMaps
from ..core.values import to_json_ready, to_text, type_name
from .registry import column_kernel, function


@function("map_get", "input", "key", example='map_get({"a.b": 1}, "a.b")', result='1')
def map_get(mapping, key):
    """The value under `key`; no path traversal, so "a.b" is one key."""
    if type(mapping) is not dict:
        raise TypeError(f"map_get needs a map, got {type_name(mapping)}")
    if type(key) is not str:
        raise TypeError(f"map_get needs a string key, got {type_name(key)}")
    return mapping.get(key)


@column_kernel("map_get")
def map_get_column(maps, key):
    # Events are maps: dict.get mapped over them in C. Anything else (null included) raises
    # TypeError and takes the record-by-record path, which knows the null and error rules.
    if type(key) is not str:
        return NotImplemented
    if maps.__class__ is ProjectedMaps or isinstance(maps, MapsView):
        # decoded for exactly the keys the plan reads (spl_lite/io/projection.py), or maps read
        # only by key (io/ocsf.py DocumentsView): null where the map is null or lacks the key
        return maps.key(key)
    try:
        return list(map(dict.get, maps, repeat(key)))
    except TypeError:
        return NotImplemented


@function(
    "create_map", "items*", nulls="handle",
    example='create_map(["k", 1, "v", "x"])', result='{"k":1,"v":"x"}',
)
def create_map(*items):
    """`create_map([k1, v1, ...])` (DSP form) or `create_map(k1, v1, ...)` (BA form); a pair
    with a null key is left out, a null value is kept, and a null list gives null."""
    if len(items) == 1 and type(items[0]) is list:
        items = items[0]
    elif len(items) == 1 and items[0] is None:
        return None
    if len(items) % 2:
        raise ValueError(f"create_map needs key/value pairs, got {len(items)} items")
    result = {}
    for i in range(0, len(items), 2):
        key = items[i]
        if key is None:
            continue  # spec 6.2: a null key drops its pair
        result[key if type(key) is str else to_text(key)] = items[i + 1]
    return result


@function(
    "from_json_object", "value",
    example='from_json_object("{\\"a\\": [1, 2]}")', result='{"a":[1,2]}',
)
@function(
    "deserialize_json_object", "value",
    example='deserialize_json_object("[1, 2]")', result='[1,2]',
)
def from_json_object(text):
    """JSON object or array text -> map or list; invalid JSON or any other JSON value -> null."""
    if type(text) not in (str, bytes):
        raise TypeError(f"from_json_object needs a string, got {type_name(text)}")
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return parsed if type(parsed) in (dict, list) else None


@function("serialize_json", "value", example='serialize_json({"a": 1})', result='"{\\"a\\":1}"')
@function("to_json_string", "value", example='to_json_string([1, "a"])', result='"[1,\\"a\\"]"')
def serialize_json(value):
    """Value -> JSON text, printing non-finite doubles as null like the output writers do."""
    return orjson.dumps(to_json_ready(value)).decode()
