"""Python functions a Flink script lowered by spl_lite/backends/flink.py calls (CREATE TEMPORARY
SYSTEM FUNCTION ... LANGUAGE PYTHON), where Flink's own SQL cannot give the Python engine's values:

- `log10`, `ln`: Java's Math.log10 / Math.log may be one ulp away from the C library's, which the
  Python engine uses; these call the registry's `log` and `ln` themselves.
- `strftime`: Flink's DATE_FORMAT takes Java's SimpleDateFormat patterns, where DSP's strftime
  (`%Y`, `%3Q`, `%:z`, zone names, ...) has directives of its own: the registry's strftime itself,
  given the time as Flink holds it (BIGINT or DOUBLE), so the text is exact. An error gives null,
  as it does in the Python engine (spec 5.2).
- `parse_double`: Java's Double.parseDouble grammar (blanks, `d`/`f` suffixes, hex, "NaN") as the
  registry's function parses it.
- `cidrmatch`: blocks and addresses parsed by Python's ipaddress, as the registry's function does; an
  error (a block that does not parse) gives null, as in the Python engine.
- `time`: the processing time in epoch milliseconds, read by the registry's `time` for each record
  (declared not deterministic, so Flink neither folds it to a constant nor reuses one reading).
- `adaptive_gaussian`, `adaptive_quantile`: the streaming model of this engine (streaming_ml.py),
  fed one record at a time in arrival order. Its history is exact (integer sums, a sorted list),
  which Flink's OVER aggregates over doubles are not, and Python aggregate functions do not run in
  OVER windows. The model lives in the Python worker, not in Flink's state: the job must run at
  parallelism 1 (the script sets it) and a restart from a checkpoint starts the history afresh.

They live in engine/ because they run this engine's code; the Flink cluster's Python needs spl-lite
installed (the local mini-cluster runs the interpreter that started it).
"""
from __future__ import annotations

from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.udf import ScalarFunction, udf

from ..functions.cast import parse_double as _parse_double
from ..functions.math import ln as _ln
from ..functions.network import cidrmatch as _cidrmatch
from ..functions.math import log as _log
from ..functions.time import strftime as _strftime
from ..functions.time import time_ as _time
from .streaming_ml import AdaptiveThreshold


def _safely(function):
    def apply(x):
        return None if x is None else function(x)

    return apply


log10 = udf(_safely(_log), result_type=DataTypes.DOUBLE())
ln = udf(_safely(_ln), result_type=DataTypes.DOUBLE())


def _strftime_or_null(epoch_ms, fmt, time_zone=None):
    try:
        return _strftime(epoch_ms, fmt, time_zone)
    except (TypeError, ValueError):
        return None


def _cidrmatch_or_null(cidr_range, ip):
    if cidr_range is None or ip is None:
        return None
    try:
        return _cidrmatch(cidr_range, ip)
    except ValueError:
        return None


parse_double = udf(_safely(_parse_double), result_type=DataTypes.DOUBLE())
cidrmatch = udf(_cidrmatch_or_null, result_type=DataTypes.BOOLEAN())
strftime = udf(_strftime_or_null, result_type=DataTypes.STRING())
time = udf(_time, result_type=DataTypes.BIGINT(), deterministic=False)


class _Adaptive(ScalarFunction):
    """One adaptive_threshold command: (seq, algorithm, window ms, threshold, has entity, entity, value,
    timestamp) -> its outputs, for records given in arrival order (`seq` counts every record: 1, 2, ...)."""

    def open(self, function_context) -> None:
        self.model = None
        self.seen = 0

    def eval(self, seq, algorithm, window_ms, threshold, has_entity, entity, value, timestamp):
        if seq != self.seen + 1:
            raise RuntimeError(f"adaptive_threshold was given record {seq} after record {self.seen}: it must see "
                               "every record in arrival order (parallelism 1, no filter moved before it)")
        self.seen = seq
        if self.model is None:
            self.model = AdaptiveThreshold(algorithm, window_ms, threshold)
        scored = self.model.score([entity] if has_entity else None, [value], [timestamp])
        return Row(*(scored[name][0] for name in scored))

    def is_deterministic(self) -> bool:
        return False


adaptive_gaussian = udf(_Adaptive(), result_type=DataTypes.ROW([
    DataTypes.FIELD("mean", DataTypes.DOUBLE()), DataTypes.FIELD("variance", DataTypes.DOUBLE()),
    DataTypes.FIELD("label", DataTypes.BOOLEAN())]))
adaptive_quantile = udf(_Adaptive(), result_type=DataTypes.ROW([
    DataTypes.FIELD("quantile", DataTypes.DOUBLE()), DataTypes.FIELD("label", DataTypes.BOOLEAN())]))
