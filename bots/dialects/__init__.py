"""Bot dialects (issue 20): the wire forms a bot connection may speak, chosen per forward connection
(`/ws/bot?dialect=`) and per reverse endpoint. Each is a renderer of domain events and a parser of
action frames over the same actions (bots.actions, carried out through the services) and events:

- `sandbox` (the default): ../shared/spec/bot-sandbox-protocol.md, field for field;
- `kotori`: what the current kotori adapter-sandbox sends and accepts;
- `onebot11`: OneBot v11.

A dialect turns a frame into a Call (an action of bots.actions with its parameters, named as the
sandbox names them) or into None when the frame is not an action: such a frame is never answered
(two peers answering each other's complaints loop without end)."""

from bots.dialect_names import DEFAULT
from imsuite.errors import DomainError, ErrorCode

from .base import Call, Dialect
from .kotori import Kotori
from .onebot11 import OneBot11

__all__ = ["DEFAULT", "DIALECTS", "Call", "Dialect", "get"]

# Each dialect once, by its name (a reverse endpoint keeps the name; forward connections ask by it);
# bots.dialect_names lists the same names for the services.
DIALECTS: dict[str, Dialect] = {
    d.name: d for d in (Dialect(), Kotori(), OneBot11(), OneBot11("onebot11_string", message_format="string"))
}


def get(name: str | None) -> Dialect:
    """The dialect of that name (the default for None or ""), or VALIDATION_ERROR unknown_dialect."""
    dialect = DIALECTS.get(name or DEFAULT)
    if dialect is None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"Unknown dialect {name!r}; one of: {', '.join(DIALECTS)}.",
            {"field": "dialect", "reason": "unknown_dialect", "choices": list(DIALECTS)},
        )
    return dialect
