"""SSA enriched event -> the OCSF Process Activity document that G3/G4 detections read.

The G3 searches read it through `map_get(input_event, ...)` and the G4 ones through dotted paths
(`process.file.name`, `actor.process.file.path`, `device.hostname`, `metadata.uid`, ...); both
want this nesting. Keys the enriched event lacks are left out rather than set to null, as an
OCSF producer would.
"""
from __future__ import annotations

from typing import Any

# OCSF 1.0: category 1 System Activity, class 1007 Process Activity, activity 1 Launch.
_PROCESS_ACTIVITY = {"category_uid": 1, "class_uid": 1007, "activity_id": 1, "type_uid": 100701}


def _basename(path: Any) -> Any:
    if type(path) is not str:
        return None
    return path.replace("/", "\\").rsplit("\\", 1)[-1] or None


def _clean(mapping: dict) -> dict:
    """Drop null leaves and the maps they leave empty."""
    result = {}
    for key, value in mapping.items():
        if type(value) is dict:
            value = _clean(value)
            if not value:
                continue
        if value is not None:
            result[key] = value
    return result


def from_enriched(event: dict) -> dict:
    """The OCSF document for one SSA enriched event (epoch-ms `time`, as the BA searches expect)."""
    time_text = event.get("_time")
    time = int(time_text) if type(time_text) is str and time_text.isdigit() else time_text
    user = event.get("dest_user_id")
    document = {
        "time": time,
        **_PROCESS_ACTIVITY,
        "disposition_id": 1,  # allowed: process creation events record launches that happened
        "metadata": {
            "uid": event.get("process_guid"),
            "product": {"name": "Microsoft Windows", "vendor_name": "Microsoft"},
            "source_type": event.get("source_type"),
            "event_code": event.get("event_id"),
        },
        "device": {"hostname": event.get("dest_device_id"), "uuid": event.get("dest_device_id")},
        "process": {
            "pid": event.get("process_id"),
            "uid": event.get("process_guid"),
            "cmd_line": event.get("process"),
            "file": {"name": event.get("process_name"), "path": event.get("process_path")},
            "user": {"name": user, "uuid": user},
        },
        "actor": {
            "process": {
                "pid": event.get("parent_process_id"),
                "uid": event.get("parent_process_guid"),
                "cmd_line": event.get("parent_process"),
                "file": {
                    "name": _basename(event.get("parent_process_name")),
                    "path": event.get("parent_process_name"),
                },
            },
            "user": {"name": user, "uid": user, "uuid": user},
        },
    }
    return _clean(document)
