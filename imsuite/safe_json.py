"""The one JSON decoder for what clients send, on every door (client WebSocket, bot protocol, REST).

Python's json module recurses once per nesting level, so a few thousand `[` end in RecursionError
(a 500 with a traceback), and it accepts NaN, Infinity and 1e999, which no JSON encoder may send
back. So the size is checked first, then the nesting depth by a linear scan that never recurses,
and only then is the text parsed, with every non-finite number refused. Each refusal is a
VALIDATION_ERROR (PAYLOAD_TOO_LARGE for the size) with a `details.reason` clients can switch on.
"""

import json
import math
import re
from typing import Any

from django.conf import settings

from .errors import DomainError, ErrorCode

# A JSON string (valid JSON has only closed ones), and the brackets that are left once they are gone.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def _malformed(what: str) -> DomainError:
    return DomainError(
        ErrorCode.VALIDATION_ERROR, f"The {what} is not valid JSON.", {"reason": "malformed_json"}
    )


def _bad_number(_text: str) -> float:
    raise DomainError(
        ErrorCode.VALIDATION_ERROR,
        "NaN, Infinity and numbers out of range are not JSON.",
        {"reason": "bad_number"},
    )


def _finite(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _bad_number(text)


# Made once: json.loads with options builds a decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_bad_number, parse_float=_finite)


def too_large(limit: int, what: str = "body") -> DomainError:
    return DomainError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The {what} is larger than {limit} bytes.",
        {"reason": "too_large", "max_bytes": limit},
    )


def nesting_depth(text: str, stop_above: int) -> int:
    """How deeply arrays and objects nest in text, counted without recursion; the count stops once it
    passes stop_above."""
    if text.count("[") + text.count("{") <= stop_above:  # the usual frame: nothing to scan
        return 0
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def _size(data: str | bytes) -> int:
    """Bytes on the wire (a character is at most 4 bytes of UTF-8: short text is not encoded)."""
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))


def loads(data: str | bytes, max_bytes: int, what: str = "body") -> Any:
    """data (text, or UTF-8 bytes) as a JSON value, or a DomainError saying why not; `what` names it
    in the error message ("frame", "body")."""
    if len(data) > max_bytes or (len(data) * 4 > max_bytes and _size(data) > max_bytes):
        raise too_large(max_bytes, what)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed(what) from exc
    limit = settings.IMSUITE["JSON_MAX_DEPTH"]
    if nesting_depth(data, limit) > limit:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"JSON nests deeper than {limit} levels.",
            {"reason": "too_deep", "max_depth": limit},
        )
    try:
        return _DECODER.decode(data)
    except ValueError as exc:  # also a number too long for int()
        raise _malformed(what) from exc
