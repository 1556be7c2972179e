"""The library internals the speed work relies on, each checked before the patch that needs it is used.

The speed work replaces or reads private parts of daphne, autobahn, twisted, channels, channels-redis,
Django and DRF (docs/architecture.md has the table). The lock file pins the versions it was measured
with, but an upgrade may rename an internal, and a renamed one would silently turn an optimisation off
or break every frame. So each patch names what it relies on, and `active(name)` checks that on first
ask: if an internal is not what the patch expects (missing, not callable, other parameters, no longer
used where the patch assumes), it logs ONE warning naming the patch and the libraries with their
versions, and answers False; the caller then takes the library's own path. The checks are cheap
(look-ups, signatures and the names a function's code uses) and robust: no source hashes, so an
unrelated change in the same function passes. imsuite.asgi runs them all at startup.
"""

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

Installer = TypeVar("Installer", bound=Callable[..., None])


class Mismatch(Exception):
    """An internal is not what a patch expects."""


@dataclass(frozen=True)
class Patch:
    name: str
    libraries: tuple[str, ...]  # distributions, named with their versions in the warning
    check: Callable[[], None]  # raises when an internal is not what the patch expects


PATCHES: dict[str, Patch] = {}
_verdicts: dict[str, bool] = {}


def active(name: str) -> bool:
    """Whether the patch may be used; checked once per process (forget() starts over)."""
    verdict = _verdicts.get(name)
    if verdict is None:
        verdict = _verdicts[name] = _passes(PATCHES[name])
    return verdict


def check_all() -> dict[str, bool]:
    """Every patch's verdict: at startup, so a mismatch is logged before the first connection."""
    return {name: active(name) for name in PATCHES}


def forget() -> None:
    """Check again on the next ask (tests that stand in a changed library)."""
    _verdicts.clear()


def installs(name: str) -> Callable[[Installer], Installer]:
    """Decorates a function that patches a library at startup: it runs only if the check passes."""

    def decorate(install: Installer) -> Installer:
        @functools.wraps(install)
        def guarded(*args: Any, **kwargs: Any) -> None:
            if active(name):
                install(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _passes(patch: Patch) -> bool:
    try:
        patch.check()
    except Exception as error:  # Mismatch, or an import or attribute that moved
        what = error if isinstance(error, Mismatch) else f"{type(error).__name__}: {error}"
        found = ", ".join(f"{library} {_version(library)}" for library in patch.libraries)
        logger.warning("patch %s is off: %s (%s); using the library's own path", patch.name, what, found)
        return False
    return True


def _version(library: str) -> str:
    try:
        return version(library)
    except PackageNotFoundError:
        return "(not installed)"


def _relies_on(name: str, *libraries: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(check: Callable[[], None]) -> Callable[[], None]:
        PATCHES[name] = Patch(name, libraries, check)
        return check

    return register


# ---- what a check can ask ----------------------------------------------------------------------


def require(condition: bool, what: str) -> None:
    if not condition:
        raise Mismatch(what)


def method(owner: Any, name: str, *params: str, positional: bool = False) -> None:
    """owner.name, callable, taking `params` (as its leading parameters if called positionally).
    A patch's replacement carries the original as __wrapped__ (functools.wraps): it is what is checked."""
    member = inspect.unwrap(getattr(owner, name, None))
    label = _label(owner, name)
    require(callable(member), f"{label} is missing")
    found = list(inspect.signature(member).parameters)
    fits = found[: len(params)] == list(params) if positional else set(params) <= set(found)
    require(fits, f"{label} takes ({', '.join(found)}), not ({', '.join(params)})")


def uses(owner: Any, function: str, *names: str) -> None:
    """owner.function's own code still reads (or sets) these attributes or globals."""
    code = inspect.unwrap(getattr(owner, function)).__code__
    missing = [name for name in names if name not in code.co_names]
    require(not missing, f"{_label(owner, function)} no longer uses {', '.join(missing)}")


def _label(owner: Any, name: str) -> str:
    return f"{getattr(owner, '__name__', owner)}.{name}"


def attributes(owner: Any, *names: str) -> None:
    missing = [name for name in names if not hasattr(owner, name)]
    require(not missing, f"{getattr(owner, '__name__', owner)} has no {', '.join(missing)}")


# ---- the patches -------------------------------------------------------------------------------


@_relies_on("send_frames_at_once", "autobahn", "Twisted")
def _send_frames_at_once() -> None:
    """imsuite.daphne_tuning: autobahn's sendData replaced; write_now reads twisted's buffers and
    sends on the transport's socket."""
    from autobahn.websocket.protocol import WebSocketProtocol
    from twisted.internet import abstract, tcp

    method(WebSocketProtocol, "sendData", "self", "data", "sync", "chopsize", positional=True)
    uses(WebSocketProtocol, "sendData", "send_queue", "logOctets", "trafficStats", "transport", "state")
    attributes(WebSocketProtocol, "STATE_OPEN", "STATE_CONNECTING", "STATE_PROXY_CONNECTING")
    uses(tcp.Connection, "writeSomeData", "socket")  # write_now sends on it as this does
    attributes(tcp.Connection, "TLS", "connected", "disconnecting", "_writeDisconnected", "dataBuffer")
    uses(abstract.FileDescriptor, "__init__", "_tempDataBuffer")
    uses(abstract.FileDescriptor, "write", "_tempDataBuffer", "_writeDisconnected")


@_relies_on("lazy_debug_lines", "autobahn")
def _lazy_debug_lines() -> None:
    """imsuite.daphne_tuning: autobahn's module-level pformat, hltype and hlval made lazy;
    Timings.__str__ replaced."""
    from autobahn import util
    from autobahn.twisted import websocket
    from autobahn.websocket import protocol

    attributes(protocol, "pformat", "hltype", "hlval")
    attributes(websocket, "hltype", "hlval")
    attributes(util, "hltype", "hlval")
    uses(protocol.WebSocketProtocol, "_connectionMade", "pformat")
    uses(protocol.WebSocketServerProtocol, "_connectionMade", "hltype")
    uses(protocol.WebSocketServerProtocol, "processHandshake", "hltype", "hlval")
    uses(websocket.WebSocketAdapterProtocol, "dataReceived", "hltype", "hlval")
    uses(protocol.Timings, "__init__", "_timings")


@_relies_on("listen_backlog", "Twisted")
def _listen_backlog() -> None:
    """imsuite.daphne_tuning: twisted's endpoint-string parsers for tcp and unix (what daphne's -b/-p
    and -u become) wrapped to give a default backlog."""
    from twisted.internet import endpoints

    attributes(endpoints, "_serverParsers")
    for kind in ("tcp", "unix"):
        parse = inspect.unwrap(endpoints._serverParsers.get(kind))
        require(callable(parse), f"no {kind} endpoint parser")
        require("backlog" in inspect.signature(parse).parameters, f"the {kind} parser takes no backlog")


@_relies_on("protocol_close_codes", "daphne", "autobahn")
def _protocol_close_codes() -> None:
    """imsuite.daphne_tuning: daphne's serverClose replaced, sending autobahn's close frame itself."""
    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn
    from daphne.ws_protocol import WebSocketProtocol as Daphne

    method(Daphne, "serverClose", "self", "code", positional=True)
    method(Autobahn, "sendCloseFrame", "code", "isReply")
    method(Autobahn, "sendClose", "code")


@_relies_on("frame_limits", "daphne", "autobahn")
def _frame_limits() -> None:
    """imsuite.daphne_tuning: daphne's factory options lowered and failByDrop turned off."""
    from autobahn.websocket.protocol import WebSocketServerFactory
    from daphne.ws_protocol import WebSocketFactory

    method(WebSocketFactory, "setProtocolOptions", "self")
    method(WebSocketServerFactory, "setProtocolOptions", "maxFramePayloadSize", "maxMessagePayloadSize")
    method(WebSocketServerFactory, "setProtocolOptions", "failByDrop")


@_relies_on("send_buffer_cap", "Twisted", "autobahn")
def _send_buffer_cap() -> None:
    """imsuite.transport_buffers.unsent_bytes/drop_unsent read twisted's write buffers; a slow consumer's
    close handshake is bounded through autobahn's closeHandshakeTimeout."""
    from autobahn.websocket.protocol import WebSocketProtocol
    from twisted.internet import abstract

    attributes(abstract.FileDescriptor, "dataBuffer", "offset")
    uses(abstract.FileDescriptor, "doWrite", "dataBuffer", "offset")
    uses(abstract.FileDescriptor, "__init__", "_tempDataBuffer", "_tempDataLen")
    uses(abstract.FileDescriptor, "write", "_tempDataBuffer", "_tempDataLen")
    uses(WebSocketProtocol, "sendCloseFrame", "closeHandshakeTimeout")


@_relies_on("pause_reading", "daphne", "Twisted")
def _pause_reading() -> None:
    """imsuite.daphne_tuning.pause_reading_when_behind: daphne's onMessage wrapped, its application
    queue measured, the transport paused and resumed."""
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import abstract

    method(WebSocketProtocol, "onMessage", "self", "payload", "isBinary", positional=True)
    uses(WebSocketProtocol, "onMessage", "application_queue")
    method(abstract.FileDescriptor, "pauseProducing", "self", positional=True)
    method(abstract.FileDescriptor, "resumeProducing", "self", positional=True)


@_relies_on("streamed_bodies", "daphne", "Twisted")
def _streamed_bodies() -> None:
    """imsuite.daphne_tuning.stream_request_bodies: daphne's create_application wrapped, the asyncio
    queue it makes turned into a StreamedBody; WebRequest.process reads the body from twisted's
    content file (after create_application) and queues it; asyncio.Queue's subclass hooks."""
    import asyncio

    from daphne.http_protocol import WebRequest
    from daphne.server import Server
    from twisted.web import http

    method(Server, "create_application", "self", "protocol", "scope", positional=True)
    uses(Server, "create_application", "Queue", "get")
    uses(WebRequest, "process", "content", "create_application", "read", "put_nowait")
    uses(http.Request, "gotLength", "content")
    uses(asyncio.Queue, "put_nowait", "_put")
    uses(asyncio.Queue, "get_nowait", "_get")


@_relies_on("no_form_parsing", "daphne", "Twisted")
def _no_form_parsing() -> None:
    """imsuite.daphne_tuning.leave_form_bodies_unparsed: daphne's WebRequest made with twisted's
    parsePOSTFormSubmission=False, through the keywords daphne passes on to twisted's Request."""
    from daphne.http_protocol import WebRequest
    from twisted.web import http

    method(http.Request, "__init__", "self", "channel", "queued", "parsePOSTFormSubmission", positional=True)
    method(WebRequest, "__init__", "self", "args", "kwargs", positional=True)
    uses(WebRequest, "__init__", "Request", "__init__")
    uses(http.Request, "requestReceived", "_parsePOSTFormSubmission")


@_relies_on("kept_body_cap", "daphne", "Twisted")
def _kept_body_cap() -> None:
    """imsuite.daphne_tuning.cap_kept_bodies: daphne's WebRequest.handleContentChunk wrapped; twisted's
    channel hands it every chunk of a body, and it is what writes them to the content file."""
    from daphne.http_protocol import WebRequest
    from twisted.web import http

    method(WebRequest, "handleContentChunk", "self", "data", positional=True)
    uses(http.Request, "handleContentChunk", "content", "write")
    uses(http.HTTPChannel, "_maybeChooseTransferDecoder", "requests", "handleContentChunk")


# What autobahn and daphne keep of a WebSocket's opening handshake and never read once it is open:
# the request's bytes, headers and parameters, the response, the key, the offered subprotocols and
# extensions, and the query string (with a client's access token in it). daphne_tuning.shed_handshake_state
# drops them; the check below makes sure that they are still the handshake's.
HANDSHAKE_ONLY = (
    "http_request_data",
    "http_status_line",
    "http_headers",
    "http_request_uri",
    "http_request_path",
    "http_request_params",
    "http_request_host",
    "http_response_data",
    "_wskey",
    "websocket_origin",
    "websocket_protocols",
    "websocket_extensions",
    "_raw_query_string",
)


@_relies_on("shed_handshake_state", "daphne", "autobahn", "Twisted")
def _shed_handshake_state() -> None:
    """imsuite.daphne_tuning.shed_handshake_state: daphne's onOpen, WebRequest.process and
    create_application wrapped. The handshake's attributes are written by autobahn's handshake and
    read nowhere after the protocol's onOpen; daphne reads only the request's path afterwards; the
    upgraded request stays in its HTTP channel's list; daphne's application queue is an unbounded
    asyncio.Queue, made before the handshake completes, whose deques are used through append,
    popleft and remove only, and whose join event is set and cleared by puts and task_done; autobahn
    copies the factory's options (CONFIG_ATTRS) into each protocol, which reads them as its own
    attributes, and pops its send queue from the left."""
    import asyncio

    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn
    from autobahn.websocket.protocol import WebSocketServerProtocol
    from daphne.http_protocol import WebRequest
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.web import http

    handshake = [name for name in HANDSHAKE_ONLY if name not in ("_raw_query_string", "http_response_data")]
    uses(WebSocketServerProtocol, "processHandshake", *handshake)
    uses(WebSocketServerProtocol, "succeedHandshake", "http_response_data", "_onOpen")
    method(WebSocketProtocol, "onOpen", "self", positional=True)
    uses(WebSocketProtocol, "onOpen", "request", "path")
    uses(WebSocketProtocol, "onClose", "request", "path")
    uses(WebSocketProtocol, "onConnect", "_raw_query_string", "request")
    uses(WebRequest, "process", "buildProtocol", "_raw_query_string", "transport")
    uses(http.HTTPChannel, "lineReceived", "requests")
    uses(Server, "create_application", "Queue")
    uses(WebSocketProtocol, "applicationCreateWorked", "application_queue")
    attributes(WebSocketServerProtocol, "CONFIG_ATTRS")
    uses(Autobahn, "_connectionMade", "CONFIG_ATTRS", "factory")  # copies each option into the protocol
    uses(asyncio.Queue, "put", "full", "_putters")
    uses(asyncio.Queue, "put_nowait", "_finished", "_getters")
    uses(asyncio.Queue, "get", "_getters")
    uses(asyncio.Queue, "_get", "_queue", "popleft")
    uses(asyncio.Queue, "_wakeup_next", "popleft")
    uses(Autobahn, "_send", "send_queue", "popleft")


@_relies_on("close_without_cycles", "daphne", "autobahn")
def _close_without_cycles() -> None:
    """imsuite.daphne_tuning.close_without_cycles: autobahn's connectionLost (twisted's entry point)
    runs its _connectionLost, which resolves is_closed with the protocol; daphne never reads it."""
    from autobahn.twisted.websocket import WebSocketAdapterProtocol
    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn
    from daphne.ws_protocol import WebSocketProtocol

    method(WebSocketProtocol, "connectionLost", "self", "reason", positional=True)
    uses(WebSocketAdapterProtocol, "connectionLost", "_connectionLost")
    uses(Autobahn, "_connectionLost", "is_closed")
    uses(Autobahn, "__init__", "is_closed")
    require("is_closed" not in WebSocketProtocol.onClose.__code__.co_names, "daphne reads is_closed")


@_relies_on("shared_frames", "daphne", "autobahn")
def _shared_frames() -> None:
    """imsuite.ws: a frame prepared once is sent to daphne's protocol, found in its send partial."""
    from autobahn.websocket.protocol import PreparedMessage, WebSocketProtocol
    from daphne.server import Server

    prepared = ("self", "payload", "isBinary", "applyMask", "doNotCompress")
    method(PreparedMessage, "__init__", *prepared, positional=True)
    method(WebSocketProtocol, "sendPreparedMessage", "self", "preparedMsg", positional=True)
    attributes(WebSocketProtocol, "STATE_OPEN", "STATE_CLOSING", "STATE_CLOSED")
    method(Server, "handle_reply", "self", "protocol", "message", positional=True)
    uses(Server, "create_application", "partial", "handle_reply")


@_relies_on("graceful_shutdown", "daphne", "Twisted", "autobahn")
def _graceful_shutdown() -> None:
    """imsuite.shutdown: daphne's kill_all_applications (its "before shutdown" trigger) wrapped to
    close the listening ports (the reactor's tcp.Port readers), queue a message for each WebSocket's
    application behind its frames, and wait for the applications in daphne's connections."""
    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import asyncioreactor, defer, tcp
    from twisted.internet.interfaces import IReactorFDSet

    method(Server, "kill_all_applications", "self", positional=True)
    uses(Server, "run", "addSystemEventTrigger", "kill_all_applications", "connections")
    uses(Server, "create_application", "connections", "ensure_future")
    uses(WebSocketProtocol, "applicationCreateWorked", "application_queue")
    require("getReaders" in IReactorFDSet, "IReactorFDSet has no getReaders")
    method(asyncioreactor.AsyncioSelectorReactor, "getReaders", "self", positional=True)
    method(tcp.Port, "stopListening", "self", positional=True)
    method(defer.Deferred, "fromFuture", "future")
    method(defer.Deferred, "asFuture", "self", "loop", positional=True)
    method(Autobahn, "sendCloseFrame", "code", "isReply")
    attributes(Autobahn, "STATE_OPEN")


@_relies_on("hub_peers", "channels")
def _hub_peers() -> None:
    """imsuite.hub: the hub group's members read from the in-memory layer itself (else group_send)."""
    from channels.layers import InMemoryChannelLayer

    uses(InMemoryChannelLayer, "__init__", "groups")


@_relies_on("sync_middleware_chain", "Django")
def _sync_middleware_chain() -> None:
    """imsuite.http_handler: the middleware chain built as under WSGI and wrapped once."""
    from django.core.handlers.asgi import ASGIHandler

    method(ASGIHandler, "load_middleware", "self", "is_async", positional=True)
    uses(ASGIHandler, "load_middleware", "_middleware_chain")
    uses(ASGIHandler, "get_response_async", "_middleware_chain")


@_relies_on("body_file_handover", "Django")
def _body_file_handover() -> None:
    """imsuite.http_handler: read_body returns the request body as a file of its own, which Django
    makes the request's stream and closes when the request ends."""
    from django.core.handlers.asgi import ASGIHandler, ASGIRequest

    method(ASGIHandler, "read_body", "self", "receive", positional=True)
    uses(ASGIHandler, "handle", "read_body", "create_request", "close")
    method(ASGIRequest, "__init__", "self", "scope", "body_file", positional=True)
    uses(ASGIRequest, "__init__", "_stream")


@_relies_on("serializer_copies", "djangorestframework")
def _serializer_copies() -> None:
    """imsuite.validation: each frame validated by a shallow copy of a serializer built once, which is
    safe only while a serializer keeps its fields in a cached property and its results in its own
    attributes (a copy starts without them)."""
    from functools import cached_property as functools_cached_property

    from django.utils.functional import cached_property
    from rest_framework import serializers

    fields = inspect.getattr_static(serializers.Serializer, "fields", None)
    require(
        isinstance(fields, cached_property | functools_cached_property), "Serializer.fields is not cached"
    )
    uses(serializers.BaseSerializer, "is_valid", "_validated_data", "_errors")


@_relies_on("plain_accept", "djangorestframework")
def _plain_accept() -> None:
    """imsuite.plain_accept: certainly valid input accepted from the fields' own settings."""
    from rest_framework import fields, serializers

    attributes(fields, "empty")
    uses(serializers.ChoiceField, "_set_choices", "choice_strings_to_values")
    uses(serializers.JSONField, "__init__", "binary", "encoder")
    uses(serializers.CharField, "__init__", "trim_whitespace", "allow_blank", "min_length", "max_length")
    uses(serializers.IntegerField, "__init__", "min_value", "max_value")


@_relies_on("compiled_rendering", "djangorestframework")
def _compiled_rendering() -> None:
    """imsuite.rendering: an output schema compiled from the serializer's readable fields."""
    from rest_framework import serializers

    readable = inspect.getattr_static(serializers.Serializer, "_readable_fields", None)
    require(isinstance(readable, property), "Serializer._readable_fields is not a property")
    uses(serializers.Serializer, "to_representation", "_readable_fields")


@_relies_on("redis_cache_script", "Django")
def _redis_cache_script() -> None:
    """imsuite.ratelimit: the rate counters added by one Lua script (one per slot on a Redis Cluster)
    on the cache's own Redis client; imsuite.redis_cache's client keeps get_client's signature."""
    from django.core.cache.backends.redis import RedisCache, RedisCacheClient
    from django.utils.functional import cached_property

    require(
        isinstance(inspect.getattr_static(RedisCache, "_cache", None), cached_property), "RedisCache._cache"
    )
    method(RedisCacheClient, "get_client", "key", "write")
