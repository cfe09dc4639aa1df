"""Network functions (spec 6.5): cidrmatch."""
from __future__ import annotations

import functools
import ipaddress

from .registry import function
from .string import text_arg


@functools.lru_cache(maxsize=1024)
def _ipv4_network(cidr: str) -> ipaddress.IPv4Network:
    try:
        # strict=False: "10.1.2.3/8" names the block 10.0.0.0/8, as CIDR notation is commonly used.
        return ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        raise ValueError(f"cidrmatch: {cidr!r} is not an IPv4 CIDR block such as \"10.0.0.0/8\"") from None


@function("cidrmatch", "cidr_range", "ip", example='cidrmatch("10.0.0.0/8", "10.1.2.3")', result='true')
def cidrmatch(cidr_range, ip):
    """True when the IPv4 address lies in the block; an address that does not parse is false."""
    network = _ipv4_network(text_arg("cidrmatch", cidr_range))
    try:
        return ipaddress.IPv4Address(text_arg("cidrmatch", ip)) in network
    except ValueError:
        return False
