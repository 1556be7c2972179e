"""imsuite.patches: every patch's check passes on the locked versions, and a library whose internal
changed (a stand-in of a later release, put in place with monkeypatch) turns the patch off with ONE
warning naming the patch, the library and its version, while the product works through the
library's own path: frames still go out, connections still close, events still reach the peers,
input is still validated and output rendered, rate counters still count."""

import asyncio
import functools
import pprint
import tempfile
from collections.abc import Callable
from importlib.metadata import version

import pytest
from autobahn.websocket import protocol as autobahn_protocol
from channels.layers import InMemoryChannelLayer
from daphne.ws_protocol import WebSocketProtocol as DaphneProtocol
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from rest_framework import serializers

import imsuite.asgi  # noqa: F401  (patches daphne and autobahn, and checks every patch, as at startup)
from chats.schemas import PingInput, TypingInput
from chats.serializers import HistoryPage
from imsuite import patches, ratelimit, validation
from imsuite.daphne_tuning import (
    allow_protocol_close_codes,
    cap_kept_bodies,
    close_without_cycles,
    format_debug_lines_lazily,
    leave_form_bodies_unparsed,
    refuse_bad_frames_with_a_close,
    send_frames_at_once,
    shed_handshake_state,
    stream_request_bodies,
)
from imsuite.errors import DomainError
from imsuite.events import HUB_GROUP, HUB_MESSAGE_TYPE
from imsuite.http_handler import SyncChainASGIHandler
from imsuite.hub import hub_peers, send_to_peers
from imsuite.plain_accept import acceptor
from imsuite.rendering import renderer
from imsuite.ws import SharedFrame
from tests.imsuite.test_daphne_tuning import (  # the real twisted connection over a socket pair
    answer,
    consumer_on,
    pair,  # noqa: F401  (a fixture)
    post_read_whole,
    post_through_daphne,
    read_available,
    websocket_on,
)

pytestmark = pytest.mark.internals

AutobahnProtocol = autobahn_protocol.WebSocketProtocol


@pytest.fixture(autouse=True)
def checked_anew():
    """Each test checks afresh, and leaves the real libraries' verdicts to be checked afresh too."""
    patches.forget()
    yield
    patches.forget()


def warned_once(caplog: pytest.LogCaptureFixture, name: str, *libraries: str) -> str:
    lines = [record.getMessage() for record in caplog.records if record.name == "imsuite.patches"]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"patch {name} is off: ")
    assert lines[0].endswith("; using the library's own path")
    for library in libraries:
        assert f"{library} {version(library)}" in lines[0]
    return lines[0]


@pytest.mark.parametrize("name", sorted(patches.PATCHES))
def test_every_patch_checks_out_on_the_installed_versions(name, caplog):
    patches.PATCHES[name].check()  # raises what does not match
    assert patches.active(name) is True
    assert caplog.records == []


def test_startup_checks_every_patch():
    assert patches.check_all() == dict.fromkeys(patches.PATCHES, True)
    assert set(patches.PATCHES) == {
        "listen_backlog",
        "send_frames_at_once",
        "lazy_debug_lines",
        "protocol_close_codes",
        "frame_limits",
        "send_buffer_cap",
        "pause_reading",
        "streamed_bodies",
        "no_form_parsing",
        "kept_body_cap",
        "shared_frames",
        "hub_peers",
        "graceful_shutdown",
        "sync_middleware_chain",
        "body_file_handover",
        "serializer_copies",
        "plain_accept",
        "compiled_rendering",
        "redis_cache_script",
        "shed_handshake_state",
        "close_without_cycles",
    }


def test_a_changed_send_data_leaves_autobahn_sending_its_own_way(pair, monkeypatch, caplog):  # noqa: F811
    connection, peer = pair
    own = AutobahnProtocol.sendData.__wrapped__  # autobahn's, kept by the patch

    def send_data(self, data, sync=False, chopsize=None):  # a release that queues elsewhere
        own(self, data, sync, chopsize)

    monkeypatch.setattr(AutobahnProtocol, "sendData", send_data)
    send_frames_at_once()
    send_frames_at_once()
    assert AutobahnProtocol.sendData is send_data
    line = warned_once(caplog, "send_frames_at_once", "autobahn", "Twisted")
    assert "no longer uses send_queue" in line
    websocket_on(connection).sendMessage(b"hi")
    assert connection._tempDataBuffer == [b"\x81\x02hi"]  # twisted buffers it for the loop's next turn
    connection.doWrite()
    assert peer.recv(100) == b"\x81\x02hi"


def test_changed_timings_leave_autobahns_debug_lines_as_they_are(pair, monkeypatch, caplog):  # noqa: F811
    connection, peer = pair

    class Timings:  # a release that keeps its timings elsewhere
        def __init__(self) -> None:
            self.marks: dict[str, float] = {}

        def __str__(self) -> str:
            return str(self.marks)

    own_pformat = pprint.pformat  # what autobahn imports
    monkeypatch.setattr(autobahn_protocol, "Timings", Timings)
    monkeypatch.setattr(autobahn_protocol, "pformat", own_pformat)  # autobahn's own, as imported
    format_debug_lines_lazily()
    format_debug_lines_lazily()
    assert autobahn_protocol.pformat is own_pformat
    assert str(Timings()) == "{}"
    assert "Timings.__init__ no longer uses _timings" in warned_once(caplog, "lazy_debug_lines", "autobahn")
    websocket_on(connection).sendMessage(b"hi")  # the connection's setup formats its options eagerly
    assert peer.recv(100) == b"\x81\x02hi"


def test_a_changed_close_frame_leaves_daphnes_own_server_close(pair, monkeypatch, caplog):  # noqa: F811
    connection, peer = pair
    daphne_own = DaphneProtocol.serverClose.__wrapped__
    autobahn_own = AutobahnProtocol.sendCloseFrame

    def send_close_frame(self, code=None, reasonUtf8=None, **options):  # isReply renamed
        autobahn_own(self, code, reasonUtf8, **options)

    monkeypatch.setattr(DaphneProtocol, "serverClose", daphne_own)
    monkeypatch.setattr(AutobahnProtocol, "sendCloseFrame", send_close_frame)
    allow_protocol_close_codes()
    allow_protocol_close_codes()
    assert DaphneProtocol.serverClose is daphne_own
    assert "sendCloseFrame takes" in warned_once(caplog, "protocol_close_codes", "daphne", "autobahn")
    ws = websocket_on(connection)
    daphne_own(ws, 1000)  # what daphne does for a consumer's close
    assert read_available(peer) == b"\x88\x02\x03\xe8"  # a close frame with code 1000


async def test_a_changed_prepared_message_sends_shared_frames_one_by_one(pair, monkeypatch, caplog):  # noqa: F811
    connection, peer = pair

    class PreparedMessage(autobahn_protocol.PreparedMessage):  # parameters renamed
        def __init__(self, payload, is_binary, apply_mask, do_not_compress):
            super().__init__(payload, is_binary, apply_mask, do_not_compress)

    monkeypatch.setattr(autobahn_protocol, "PreparedMessage", PreparedMessage)
    first, second = consumer_on(websocket_on(connection)), consumer_on(websocket_on(connection))
    await first.send_shared(SharedFrame("hi"))
    await second.send_shared(SharedFrame("ho"))
    assert read_available(peer) == b"\x81\x02hi\x81\x02ho"  # through Channels' send and daphne's reply
    assert first._daphne() is None
    assert "PreparedMessage.__init__ takes" in warned_once(caplog, "shared_frames", "daphne", "autobahn")


async def test_a_changed_in_memory_layer_sends_hub_events_by_group_send(monkeypatch, caplog):
    import channels.layers

    class Changed(channels.layers.InMemoryChannelLayer):
        def __init__(self, **kwargs: object) -> None:  # keeps its groups under another name
            super().__init__(**kwargs)

    monkeypatch.setattr(channels.layers, "InMemoryChannelLayer", Changed)
    layer = InMemoryChannelLayer()
    mine, other = await layer.new_channel(), await layer.new_channel()
    await layer.group_add(HUB_GROUP, mine)
    await layer.group_add(HUB_GROUP, other)
    assert await hub_peers(layer, mine) is None
    message = {"type": HUB_MESSAGE_TYPE, "events": [{"event": "x", "data": {}, "seq": None, "audience": []}]}
    await send_to_peers(layer, mine, message)
    assert await asyncio.wait_for(layer.receive(other), 5) == {**message, "taken_by": mine}
    assert await asyncio.wait_for(layer.receive(mine), 5) == {**message, "taken_by": mine}  # which it skips
    assert await hub_peers(layer, mine) is None
    warning = warned_once(caplog, "hub_peers", "channels")
    assert "Changed.__init__ no longer uses groups" in warning


async def test_a_changed_django_handler_keeps_its_own_middleware_chain(monkeypatch, caplog):
    own = ASGIHandler.get_response_async

    async def get_response_async(self, request):  # a release that keeps its chain elsewhere
        return await own(self, request)

    monkeypatch.setattr(ASGIHandler, "get_response_async", get_response_async)
    built_async = []
    own_load = BaseHandler.load_middleware

    @functools.wraps(own_load)
    def load_middleware(self, is_async=False):  # a spy: how the chain is built
        built_async.append(is_async)
        own_load(self, is_async)

    monkeypatch.setattr(BaseHandler, "load_middleware", load_middleware)
    handler = SyncChainASGIHandler()
    assert built_async == [True]  # Django's own asynchronous chain (the patch builds it as under WSGI)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/no-such-page",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
    }
    sent: list[dict] = []
    incoming = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if incoming:
            return incoming.pop()
        return await asyncio.Future()  # the client stays: Django cancels this once it has answered

    async def send(message: dict) -> None:
        sent.append(message)

    await handler(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 404
    assert "no longer uses _middleware_chain" in warned_once(caplog, "sync_middleware_chain", "Django")


def test_an_internal_that_moved_away_turns_its_patch_off_once(monkeypatch, caplog):
    def check() -> None:
        from daphne.server import handle_everything  # noqa: F401  (a module-level name a release dropped)

    monkeypatch.setitem(patches.PATCHES, "moved", patches.Patch("moved", ("daphne",), check))
    assert (patches.active("moved"), patches.active("moved")) == (False, False)
    line = warned_once(caplog, "moved", "daphne")
    assert "ImportError: cannot import name 'handle_everything'" in line


def test_a_changed_is_valid_validates_with_a_new_serializer_each_time(monkeypatch, caplog):
    own = serializers.BaseSerializer.is_valid

    def is_valid(self, *, raise_exception=False):  # a release that keeps its results elsewhere
        return own(self, raise_exception=raise_exception)

    monkeypatch.setattr(serializers.BaseSerializer, "is_valid", is_valid)
    monkeypatch.setattr(validation, "_prototypes", {})
    for _ in range(2):
        with pytest.raises(DomainError) as refused:
            validation.validate(TypingInput, {"chat_id": "seven", "is_typing": True})
        assert refused.value.code == "VALIDATION_ERROR"
        assert refused.value.details["field"] == "chat_id"
    assert validation._prototypes == {}  # no serializer copied: a new one each time
    assert "is_valid no longer uses _validated_data" in warned_once(
        caplog, "serializer_copies", "djangorestframework"
    )


def test_changed_fields_leave_every_input_to_drf(monkeypatch, caplog):
    own = serializers.JSONField.__init__

    def json_field_init(self, **options):  # a release that keeps its options elsewhere
        own(self, **options)

    monkeypatch.setattr(serializers.JSONField, "__init__", json_field_init)
    monkeypatch.setattr(validation, "_acceptors", {})
    assert (acceptor(PingInput), acceptor(TypingInput)) == (None, None)
    assert validation.validate(PingInput, {"timestamp": 5}) == {"timestamp": 5}  # by DRF
    assert "JSONField.__init__ no longer uses binary" in warned_once(
        caplog, "plain_accept", "djangorestframework"
    )


@pytest.fixture
def renderers_anew():
    renderer.cache_clear()
    yield
    renderer.cache_clear()


def test_a_changed_serializer_renders_output_itself(renderers_anew, monkeypatch, caplog):
    from tests.imsuite.test_rendering import MESSAGES

    page = {"results": MESSAGES, "next_before": 41}
    compiled = renderer(HistoryPage)(page)
    renderer.cache_clear()
    patches.forget()
    own = serializers.Serializer.to_representation

    def to_representation(self, instance):  # a release that lists its fields another way
        return own(self, instance)

    monkeypatch.setattr(serializers.Serializer, "to_representation", to_representation)
    assert renderer(HistoryPage)(page) == compiled  # rendered by DRF, field for field the same
    assert renderer(HistoryPage) is renderer(HistoryPage)
    line = warned_once(caplog, "compiled_rendering", "djangorestframework")
    assert "to_representation no longer uses _readable_fields" in line


@pytest.mark.skipif(not settings.REDIS_URL, reason="Django's Redis cache")
def test_a_changed_redis_cache_counts_by_add_and_incr(monkeypatch, caplog):
    from django.core.cache.backends.redis import RedisCacheClient

    own = RedisCacheClient.get_client

    def get_client(self, key=None, **options):  # a release that takes its options as a whole
        return own(self, key, **options)

    monkeypatch.setattr(RedisCacheClient, "get_client", get_client)
    monkeypatch.setattr(ratelimit, "_add_uses_script", lambda: pytest.fail("the script path was taken"))
    key = f"test-patches-{id(caplog)}"
    assert ratelimit._add_uses({key: 2}, 60) == {key: 2}
    assert ratelimit._add_uses({key: 3}, 60) == {key: 5}
    assert "get_client takes" in warned_once(caplog, "redis_cache_script", "Django")


def test_a_factory_without_those_options_keeps_its_own_limits(monkeypatch, caplog):
    from autobahn.websocket.protocol import WebSocketServerFactory
    from daphne.ws_protocol import WebSocketFactory

    own = WebSocketServerFactory.setProtocolOptions

    def set_protocol_options(self, versions=None, maxFramePayloadSize=None):  # a release without them
        own(self, versions=versions, maxFramePayloadSize=maxFramePayloadSize)

    monkeypatch.setattr(WebSocketServerFactory, "setProtocolOptions", set_protocol_options)
    monkeypatch.setattr(WebSocketFactory, "setProtocolOptions", set_protocol_options)
    refuse_bad_frames_with_a_close()
    refuse_bad_frames_with_a_close()
    assert WebSocketFactory.setProtocolOptions is set_protocol_options  # daphne's own options stand
    line = warned_once(caplog, "frame_limits", "daphne", "autobahn")
    assert "takes (self, versions, maxFramePayloadSize)" in line


def test_a_twisted_whose_parser_takes_no_backlog_keeps_its_own_queue(monkeypatch, caplog):
    from twisted.internet import endpoints

    from imsuite.daphne_tuning import deepen_listen_backlog

    def parse_tcp(factory, port, interface=""):  # a release that no longer takes one
        return (int(port), factory), {"interface": interface}

    monkeypatch.setitem(endpoints._serverParsers, "tcp", parse_tcp)
    deepen_listen_backlog(2048)
    deepen_listen_backlog(2048)
    assert endpoints._serverParsers["tcp"] is parse_tcp  # twisted's own parser stands
    line = warned_once(caplog, "listen_backlog", "Twisted")
    assert "the tcp parser takes no backlog" in line


def test_a_daphne_that_stops_otherwise_keeps_its_own_shutdown(monkeypatch, caplog):
    from daphne.server import Server

    from imsuite.shutdown import install

    monkeypatch.delattr(Server, "kill_all_applications")  # a release that stops in another way
    install()
    install()
    assert not hasattr(Server, "kill_all_applications")  # nothing wrapped: daphne's own stop stands
    line = warned_once(caplog, "graceful_shutdown", "daphne", "Twisted", "autobahn")
    assert "Server.kill_all_applications is missing" in line


def test_a_daphne_that_reads_otherwise_keeps_reading(monkeypatch, caplog):
    from imsuite.daphne_tuning import pause_reading_when_behind

    def on_message(self, payload, is_binary, extra=None):  # a release with other parameters
        pass

    monkeypatch.setattr(DaphneProtocol, "onMessage", on_message)
    pause_reading_when_behind(64)
    pause_reading_when_behind(64)
    assert DaphneProtocol.onMessage is on_message  # daphne's own reading stands
    line = warned_once(caplog, "pause_reading", "daphne", "Twisted")
    assert "takes (self, payload, is_binary, extra)" in line


def test_twisted_buffers_that_moved_leave_no_cap_rather_than_a_wrong_one(monkeypatch, caplog):
    from twisted.internet import abstract

    from imsuite.ws import FastWebsocketConsumer

    def do_write(self):  # a release that keeps its buffers elsewhere
        return None

    monkeypatch.setattr(abstract.FileDescriptor, "doWrite", do_write)
    assert FastWebsocketConsumer().send_buffer_max == float("inf")
    assert FastWebsocketConsumer().send_buffer_max == float("inf")
    line = warned_once(caplog, "send_buffer_cap", "Twisted", "autobahn")
    assert "no longer uses dataBuffer, offset" in line


def installing_changes_nothing(owner: object, name: str, install: Callable[[], None]) -> None:
    """The patch's installer, run twice (as at startup and again), leaves owner.name as it was."""
    before = getattr(owner, name)
    install()
    install()
    assert getattr(owner, name) is before


async def test_a_daphne_that_hands_bodies_over_otherwise_keeps_its_own_way(monkeypatch, caplog):
    from daphne.http_protocol import WebRequest
    from daphne.server import Server

    own_process = WebRequest.process

    def process(self):  # a release that hands the body over some other way
        return own_process(self)

    monkeypatch.setattr(Server, "create_application", Server.create_application.__wrapped__)
    monkeypatch.setattr(WebRequest, "process", process)
    installing_changes_nothing(Server, "create_application", stream_request_bodies)
    line = warned_once(caplog, "streamed_bodies", "daphne", "Twisted")
    assert "WebRequest.process no longer uses content, create_application, read, put_nowait" in line
    body = bytes(range(256)) * 1000
    _, _, handed = await post_read_whole(body)
    assert b"".join(m["body"] for m in handed) == body
    assert len(handed) == len(body) // 8192 + 1  # daphne's own 8 KiB messages, queued at once


async def test_a_twisted_without_the_option_parses_form_bodies_itself(monkeypatch, caplog):
    from daphne.http_protocol import WebRequest
    from twisted.web import http

    own = http.Request.__init__

    def request_init(self, channel, queued=None):  # a release without parsePOSTFormSubmission
        own(self, channel)

    monkeypatch.setattr(WebRequest, "__init__", WebRequest.__init__.__wrapped__)
    monkeypatch.setattr(http.Request, "__init__", request_init)
    installing_changes_nothing(WebRequest, "__init__", leave_form_bodies_unparsed)
    line = warned_once(caplog, "no_form_parsing", "daphne", "Twisted")
    assert "Request.__init__ takes (self, channel, queued)" in line
    body = b"a=1&b=2"
    _, request, handed = await post_read_whole(body, b"application/x-www-form-urlencoded")
    assert request.args == {b"a": [b"1"], b"b": [b"2"]}  # parsed by twisted, as before
    assert b"".join(m["body"] for m in handed) == body


async def test_a_django_that_reads_bodies_otherwise_copies_them_itself(monkeypatch, caplog):
    own = ASGIHandler.handle

    async def handle(self, scope, receive, send):  # a release that reads the body some other way
        await own(self, scope, receive, send)

    monkeypatch.setattr(ASGIHandler, "handle", handle)
    body, read = bytes(range(256)) * 1000, []

    async def app(scope, receive, send):
        with await SyncChainASGIHandler().read_body(receive) as file:
            assert isinstance(file, tempfile.SpooledTemporaryFile)  # Django's own copy
            read.append(file.read())
        await answer(send, b"ok")

    await post_through_daphne(body, app)
    assert read == [body]
    assert "ASGIHandler.handle no longer uses read_body, create_request, close" in warned_once(
        caplog, "body_file_handover", "Django"
    )


async def test_a_twisted_that_stores_bodies_otherwise_keeps_them_whole(monkeypatch, caplog, settings):
    from daphne.http_protocol import WebRequest
    from twisted.web import http

    own = http.Request.handleContentChunk

    def handle_content_chunk(self, data):  # a release that stores the body another way
        own(self, data)

    monkeypatch.delattr(WebRequest, "handleContentChunk")  # daphne's inherits twisted's again
    monkeypatch.setattr(http.Request, "handleContentChunk", handle_content_chunk)
    installing_changes_nothing(WebRequest, "handleContentChunk", cap_kept_bodies)
    assert "Request.handleContentChunk no longer uses content, write" in warned_once(
        caplog, "kept_body_cap", "daphne", "Twisted"
    )
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.IMSUITE = {**settings.IMSUITE, "UPLOAD_MAX_BYTES": 1000}
    body = bytes(range(256)) * 1000  # far past the largest body accepted
    _, _, handed = await post_read_whole(body)
    assert b"".join(m["body"] for m in handed) == body  # twisted kept all of it, as before


def test_a_daphne_whose_close_reads_the_handshake_keeps_it(monkeypatch, caplog):
    def on_close(self, wasClean, code, reason):  # a release that logs the request's headers at close
        return self.http_headers

    monkeypatch.setattr(DaphneProtocol, "onOpen", DaphneProtocol.onOpen.__wrapped__)
    monkeypatch.setattr(DaphneProtocol, "onClose", on_close)
    installing_changes_nothing(DaphneProtocol, "onOpen", shed_handshake_state)
    line = warned_once(caplog, "shed_handshake_state", "daphne", "autobahn", "Twisted")
    assert "WebSocketProtocol.onClose no longer uses request, path" in line


def test_a_daphne_that_reads_is_closed_keeps_autobahns_deferred(monkeypatch, caplog):
    def on_close(self, wasClean, code, reason):  # a release that waits on autobahn's is_closed
        return self.is_closed

    monkeypatch.setattr(DaphneProtocol, "connectionLost", DaphneProtocol.connectionLost.__wrapped__)
    monkeypatch.setattr(DaphneProtocol, "onClose", on_close)
    installing_changes_nothing(DaphneProtocol, "connectionLost", close_without_cycles)
    line = warned_once(caplog, "close_without_cycles", "daphne", "autobahn")
    assert "daphne reads is_closed" in line
