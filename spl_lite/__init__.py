"""spl-lite: an interpreter for Splunk's DSP / SPL2 streaming detection language."""
from .api import Search
from .errors import SplError

__all__ = ["Search", "SplError"]
__version__ = "0.1.0"
