"""OneBot v11 messages: the array of segments (`{"type", "data"}`) and the same as a string with CQ
codes (`[CQ:at,qq=2]`), with the escaping of message/string.md: `&`, `[`, `]` in text, and `,` too
inside a code's values. Pure functions; what the segments mean to IM-Suite is bots.dialects.onebot11's."""

import re
from typing import Any

from imsuite.errors import DomainError, ErrorCode

Segment = dict[str, Any]

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "[": "&#91;", "]": "&#93;"})
_VALUE_ESCAPES = str.maketrans({"&": "&amp;", "[": "&#91;", "]": "&#93;", ",": "&#44;"})
_UNESCAPES = {"&#91;": "[", "&#93;": "]", "&#44;": ",", "&amp;": "&"}
_ESCAPED = re.compile("|".join(map(re.escape, _UNESCAPES)))
# A code: `[CQ:` then its name up to the first `,` or `]`, then `,`-separated params up to `]`.
_CODE = re.compile(r"\[CQ:([^,\]]+)((?:,[^\]]*)?)\]")


def segment(kind: str, **data: Any) -> Segment:
    """A segment; its values are strings, as OneBot writes them (`"qq": "2"`)."""
    return {"type": kind, "data": {k: str(v) for k, v in data.items()}}


def unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: _UNESCAPES[m[0]], text)


def to_string(segments: list[Segment]) -> str:
    """The CQ string of an array of segments (a text segment's text, escaped; others as codes)."""
    parts = []
    for seg in segments:
        data = seg.get("data") or {}
        if seg["type"] == "text":
            parts.append(str(data.get("text", "")).translate(_TEXT_ESCAPES))
            continue
        params = "".join(f",{k}={str(v).translate(_VALUE_ESCAPES)}" for k, v in data.items() if v is not None)
        parts.append(f"[CQ:{seg['type']}{params}]")
    return "".join(parts)


def from_string(text: str) -> list[Segment]:
    """The segments of a CQ string: text between the codes, unescaped, and one segment per code."""
    segments: list[Segment] = []
    end = 0
    for code in _CODE.finditer(text):
        if code.start() > end:
            segments.append(segment("text", text=unescape(text[end : code.start()])))
        data = {}
        for param in filter(None, code[2].split(",")):
            key, _, value = param.partition("=")
            data[key] = unescape(value)
        segments.append({"type": code[1], "data": data})
        end = code.end()
    if end < len(text):
        segments.append(segment("text", text=unescape(text[end:])))
    return segments


def _bad(reason: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, {"field": "message", "reason": reason})


def read_message(message: Any, auto_escape: bool = False) -> list[Segment]:
    """A `message` parameter (a CQ string, plain text with auto_escape, one segment or an array of
    them) as an array of segments; VALIDATION_ERROR for anything else."""
    if isinstance(message, str):
        return [segment("text", text=message)] if auto_escape else from_string(message)
    if isinstance(message, dict):
        message = [message]
    if not isinstance(message, list):
        raise _bad("type", "message is a string, a segment or an array of segments.")
    for seg in message:
        if not (isinstance(seg, dict) and isinstance(seg.get("type"), str)):
            raise _bad("segment", 'A segment is an object {"type", "data"}.')
        if not isinstance(seg.get("data", {}), dict):
            raise _bad("segment", f"The data of a {seg['type']!r} segment is an object.")
    return message
