"""spl-lite: an interpreter for Splunk's DSP / SPL2 streaming detection language."""
from .core import VERSION as __version__
from .core.errors import SplError
from .driver.api import Search

__all__ = ["Search", "SplError", "__version__"]
