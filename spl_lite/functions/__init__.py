"""The scalar function library: importing this package registers every family in FUNCTIONS."""
from . import cast, conditional, map, math, multivalue, network, string, time  # noqa: F401  (registration)
from .registry import FUNCTIONS, FunctionSpec, apply

__all__ = ["FUNCTIONS", "FunctionSpec", "apply"]
