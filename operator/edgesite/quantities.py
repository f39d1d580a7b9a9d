"""Kubernetes resource quantities: parse to numbers and write back canonically.

The renderer emits canonical spellings so that server-side apply of an unchanged spec is a no-op
(the API server normalises quantities; a different spelling would be a write on every resync).
"""

from __future__ import annotations

import re
from decimal import Decimal

QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
_QUANTITY = re.compile(QUANTITY_PATTERN)

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6),
            "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}

MIB = 2**20


def is_quantity(text: str) -> bool:
    """True when `text` is a plain (non-exponent) Kubernetes quantity such as `16Gi`, `500m` or `2`."""
    return bool(_QUANTITY.match(text))


def parse_quantity(text: str) -> Decimal:
    """The value of a quantity in base units (bytes for memory, cores for CPU)."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    suffix = match.group(2) or ""
    number = Decimal(text[: len(text) - len(suffix)])
    return number * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def canonical_quantity(text: str) -> str:
    """The spelling the API server stores for `text` (`2048Mi` -> `2Gi`, `0.5` -> `500m`)."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    value = parse_quantity(text)
    if (match.group(2) or "") in _BINARY and value == value.to_integral_value():
        for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            if value % _BINARY[suffix] == 0:
                return f"{int(value // _BINARY[suffix])}{suffix}"
        return str(int(value))
    millis = value * 1000
    if millis != millis.to_integral_value():
        millis = millis.to_integral_value(rounding="ROUND_CEILING")
    if millis % 1000:
        return f"{int(millis)}m"
    units = int(millis // 1000)
    for suffix, factor in (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if units and units % factor == 0:
            return f"{units // factor}{suffix}"
    return str(units)


def to_mib(text: str) -> float:
    """Bytes of a memory quantity, in MiB."""
    return float(parse_quantity(text) / MIB)


def memory_quantity(mib: float) -> str:
    """A canonical memory quantity for at least `mib` MiB: whole Gi when exact, else whole Mi."""
    whole_mib = int(-(-mib // 1))
    if whole_mib % 1024 == 0:
        return f"{whole_mib // 1024}Gi"
    return f"{whole_mib}Mi"


def cpu_quantity(cores: float) -> str:
    """A canonical CPU quantity: whole cores as `2`, fractions as millicores `500m`."""
    millis = int(round(cores * 1000))
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis}m"
