"""The runtime operator protocol: push a batch in, get the records it lets through out."""
from __future__ import annotations

import numpy as np

from ..core.batch import Batch


class Operator:
    """Stateless by default; stateful operators keep explicit state and may emit more at flush()."""

    def process(self, batch: Batch) -> Batch:
        raise NotImplementedError

    def process_inputs(self, batches: list[Batch]) -> Batch:
        """Operators with one input see its batch; `union` overrides this to merge several."""
        return self.process(batches[0])

    def process_keeping(self, batch: Batch, rows: np.ndarray) -> Batch:
        """Process every record of the batch, as `process` does, but give the output of the
        records at `rows` only (parallel.py: a later filter is already known). Operators that can
        skip making the other records' output say so by overriding this."""
        return self.process(batch).filter(rows)

    def late_records(self) -> int:
        """Records dropped because they came after their window had closed (stats only)."""
        return 0

    def flush(self) -> Batch:
        """Called once at end of input: whatever the state still holds (open windows)."""
        return Batch.empty()

    def state_dict(self) -> dict | None:
        """State kept between batches, as JSON-ready data (runtime/checkpoint.py); None when stateless."""
        return None

    def load_state_dict(self, state: dict | None) -> None:
        """Continue from an earlier `state_dict()`."""
        if state is not None:
            raise ValueError(f"{type(self).__name__} keeps no state, but a state was given")
