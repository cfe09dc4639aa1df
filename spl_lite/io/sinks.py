"""Sink registry: what `into write_*()` does with the records that reach it (spec 7.3-7.5)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SinkSpec:
    name: str
    writes: bool
    summary: str


SINKS: dict[str, SinkSpec] = {
    spec.name: spec
    for spec in (
        SinkSpec("write_ssa_detected_events", True, "detections as JSON lines, every field (G1)"),
        SinkSpec("write_ssa_finding_events", True, "findings as JSON lines (G2)"),
        SinkSpec("write_ba_finding_events", True, "findings as JSON lines (G3)"),
        SinkSpec("sink", True, "findings as JSON lines (G4 `into sink`)"),
        SinkSpec("write_null", False, "discards records, still counts them"),
    )
}

DEFAULT_SINK = "write_ssa_detected_events"
