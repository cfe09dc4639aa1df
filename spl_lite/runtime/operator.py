"""The runtime operator protocol: push a batch in, get the records it lets through out."""
from __future__ import annotations

from .batch import Batch


class Operator:
    """Stateless by default; stateful operators keep explicit state and may emit more at flush()."""

    def process(self, batch: Batch) -> Batch:
        raise NotImplementedError

    def process_inputs(self, batches: list[Batch]) -> Batch:
        """Operators with one input see its batch; `union` overrides this to merge several."""
        return self.process(batches[0])

    def flush(self) -> Batch:
        """Called once at end of input: whatever the state still holds (open windows)."""
        return Batch.empty()
