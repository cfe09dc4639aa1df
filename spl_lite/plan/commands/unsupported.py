"""Commands that exist in DSP but cannot run here; planning them gives a clear diagnostic."""
from __future__ import annotations

from ..planner import unsupported
from . import Command


class ApplyModel(Command):
    name = "apply_model"
    summary = "(unsupported) scores a model hosted by Splunk's ML service"
    usage = "apply_model ..."
    outputs = "none: planning it is an error"

    @classmethod
    def plan(cls, node, input_id, planner) -> int:
        raise unsupported(
            "`apply_model`",
            "it scores a model stored in Splunk's own ML service, which is not available here",
            node.name_span,
        )
