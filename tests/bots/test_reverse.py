"""Reverse mode: IM-Suite connects to the bot backend. The test starts a real WebSocket server (the
backend) on 127.0.0.1 and runs bots.bridge.supervise in its own event loop (the embedded leg's
in-memory channel layer exists only in this process)."""

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from accounts.models import User
from accounts.services import user_set_active
from bots import bridge
from bots.models import ReverseEndpoint
from bots.selectors import endpoint_connected
from bots.services import reverse_endpoint_create, reverse_endpoint_delete
from chats.models import Message
from groups.models import Group
from imsuite.models import AuditEntry

from .helpers import (
    BASE,
    QUIET,
    WAIT,
    bot_client,
    call,
    download,
    failed,
    make_group,
    ok,
    person_client,
    png,
    send,
    send_files,
    signed,
    timeless,
    upload,
)

pytestmark = pytest.mark.django_db(transaction=True)

POLL = 0.1  # the bridge's poll interval in these tests
RETRY = 0.1  # its first retry delay


class Backend:
    """A bot backend: a WebSocket server that hands each incoming connection to the test."""

    def __init__(self) -> None:
        self.arrivals: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.url = ""

    async def handler(self, connection: ServerConnection) -> None:
        await self.arrivals.put(connection)
        await connection.wait_closed()  # the test talks on it; it ends when either side closes

    async def connection(self, timeout: float = WAIT) -> ServerConnection:
        """The next connection from the bridge, once it is subscribed to the bot's events (an
        action's response proves that: actions are read only after the subscription)."""
        connection = await asyncio.wait_for(self.arrivals.get(), timeout)
        await connection.send(json.dumps({"action": "get_login_info", "echo": "ready"}))
        assert (await receive(connection))["echo"] == "ready"
        return connection

    async def no_connection(self, within: float = 3 * POLL + 2 * RETRY) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.arrivals.get(), within)


async def receive(connection: ServerConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(connection.recv(), WAIT))


async def answer(connection: ServerConnection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The next response, and the events that came before it (both directions run independently)."""
    events = []
    while "status" not in (frame := await receive(connection)):
        events.append(timeless(frame))
    return frame, events


async def nothing(connection: ServerConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(connection.recv(), QUIET)


async def closed(connection: ServerConnection) -> None:
    await asyncio.wait_for(connection.wait_closed(), WAIT)


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    server_side = Backend()
    async with serve(server_side.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        server_side.url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
        yield server_side


@pytest.fixture
async def supervise(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """bots.bridge.supervise running in the test's loop, cancelled at the end."""
    monkeypatch.setattr(bridge, "FIRST_RETRY_SECONDS", RETRY)
    task = asyncio.create_task(bridge.supervise(poll_seconds=POLL))
    yield
    task.cancel()
    for _ in range(10):
        done, _ = await asyncio.wait([task], timeout=WAIT / 10)  # bounded, unlike wait_for
        if done:
            return
        # Python 3.11's asyncio.wait_for, which redis-py sends commands with, can swallow a
        # cancellation that lands as a send completes: cancel the sessions' event readers again.
        for other in asyncio.all_tasks():
            if getattr(other.get_coro(), "__name__", "") == "_events_out":
                other.cancel()
    raise AssertionError("the bridge did not stop when cancelled")


@pytest.fixture
def team(alice: User, bob: User, bot: User) -> Group:
    return make_group(alice, bot, bob)


def register(alice: User, bot: User, url: str, token: str = "s3cret") -> ReverseEndpoint:
    return reverse_endpoint_create(actor=alice, bot_id=bot.pk, url=url, access_token=token)


@pytest.mark.parametrize("token", ["s3cret", ""])
async def test_bridge_connects_with_the_bots_headers(backend, supervise, alice, bot, token):
    await call(register, alice, bot, backend.url, token)
    connection = await backend.connection()
    headers = connection.request.headers
    assert (headers.get("Authorization"), headers["X-Self-ID"]) == (
        f"Bearer {token}" if token else None,
        str(bot.pk),
    )
    assert connection.request.path == "/onebot/v11/ws"


async def test_events_out_actions_in(sockets, backend, supervise, alice, bob, bot, team):
    await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    person = await sockets.person(bob)
    message = await call(send, bob, team.pk, "hello bot")
    assert timeless(await receive(connection)) == {
        "event": "on_message",
        "type": 1,
        "messageId": message.pk,
        "message": "hello bot",
        "userId": bob.pk,
        "sender": {
            "nickname": "Bob",
            "sex": "male",
            "age": 31,
            "role": "member",
            "level": "0",
            "title": "Bob",
        },
        "groupId": team.pk,
        "attachments": [],
        "mentions": [],
        "atMe": False,
    }
    await connection.send(
        json.dumps(
            {"action": "send_group_msg", "params": {"groupId": team.pk, "message": "hi, Bob"}, "echo": "r1"}
        )
    )
    reply = await receive(connection)
    stored = await call(lambda: Message.objects.filter(sender=bot).get())
    assert reply == ok({"messageId": stored.pk}, "r1")
    assert (stored.chat_id, stored.content) == (team.pk, "hi, Bob")
    seen = await person.until("message.new", lambda payload: payload["sender"]["id"] == bot.pk)
    assert (seen["message"]["id"], seen["message"]["content"]) == (stored.pk, "hi, Bob")
    await nothing(connection)  # exactly one response, and no event for the bot's own message


async def test_files_both_ways(backend, supervise, settings, media_root, alice, bob, bot, bot_token, team):
    """A person's photo reaches the backend as an element after the caption and in `attachments`,
    with a link that downloads it; the bot sends a file it uploaded with its token, once."""
    settings.PUBLIC_BASE_URL = BASE
    await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    photo = await call(upload, person_client(bob), png(), "cat.png")
    message = await call(send_files, bob, team.pk, "A cat", photo["id"])
    event = timeless(await receive(connection))
    url = event["attachments"][0]["url"]
    assert (event["messageId"], event["message"]) == (message.pk, f"A cat\n[image,{url}]")
    assert url == signed(photo["id"])
    assert event["attachments"] == [photo | {"url": url, "thumbnail": signed(photo["id"], "thumb")}]
    assert (await call(download, url))[:4] == b"\x89PNG"

    chart = await call(upload, bot_client(bot_token), png(), "chart.png")
    frame = {"action": "send_group_msg", "groupId": team.pk, "message": "", "attachmentIds": [chart["id"]]}
    await connection.send(json.dumps(frame | {"echo": 1}))
    reply = await receive(connection)
    stored = await call(lambda: Message.objects.get(sender=bot))
    assert reply == ok({"messageId": stored.pk}, 1)
    assert [a["id"] for a in stored.attachments] == [chart["id"]]
    await connection.send(json.dumps(frame | {"echo": 2}))
    assert await receive(connection) == failed(1400, 2, "(attachmentIds: used)")
    await nothing(connection)


async def test_moderation_through_the_bridge_is_audited_with_source_bot(backend, supervise, alice, bob, bot):
    group = await call(make_group, bot, bob, name="Club")
    await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    await connection.send(json.dumps({"action": "set_group_kick", "groupId": group.pk, "userId": bob.pk}))
    reply, events = await answer(connection)
    decrease = {"event": "on_group_decrease", "userId": bob.pk, "groupId": group.pk, "operatorId": bot.pk}
    assert reply == ok()
    assert events + ([] if events else [timeless(await receive(connection))]) == [decrease]
    entry = await call(AuditEntry.objects.get, action="member.kick")
    assert (entry.actor_id, entry.target_id, entry.group_id, entry.source) == (
        bot.pk,
        bob.pk,
        group.pk,
        "bot",
    )


async def test_only_actions_are_answered_and_the_connection_stays(backend, supervise, alice, bot):
    await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    await connection.send(json.dumps({"action": "fly", "echo": 5}))  # an action, if an unknown one
    assert await receive(connection) == failed(1400, 5)
    for frame in ("{nope", b'{"action": "get_login_info"}', json.dumps({"status": "failed", "echo": 5})):
        await connection.send(frame)
        await nothing(connection)
    await connection.send(json.dumps({"action": "get_login_info", "echo": 6}))
    assert await receive(connection) == ok({"userId": bot.pk, "nickname": "Robo"}, 6)


async def test_a_peer_that_answers_everything_with_an_error_gets_nothing_back(
    backend, supervise, alice, bob, bot, team
):
    """kotori's adapter answers an event it cannot read with on_data_error: IM-Suite must not
    answer that (the two sides would exchange errors without end); it keeps what was said."""
    endpoint = await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    complaint = {"event": "on_data_error", "type": "unknown", "message": "bad event"}
    await call(send, bob, team.pk, "hello")
    assert (await receive(connection))["event"] == "on_message"
    await connection.send(json.dumps(complaint))
    await nothing(connection)  # no answer, no loop
    row = await stored(endpoint.pk, lambda e: e.last_complaint)
    assert row.last_complaint == f"a frame that is no action: {json.dumps(complaint)}"
    assert row.last_complaint_at is not None


async def test_a_peer_that_keeps_sending_unusable_frames_is_slowed_then_closed(
    backend, supervise, alice, bot, monkeypatch
):
    from bots import protocol

    monkeypatch.setattr(protocol, "UNUSABLE_FREE", 2)
    monkeypatch.setattr(protocol, "UNUSABLE_LIMIT", 4)
    monkeypatch.setattr(protocol, "UNUSABLE_DELAY_SECONDS", 0.01)
    endpoint = await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    for n in range(5):
        await connection.send(json.dumps({"oops": n}))
    await closed(connection)
    assert (connection.close_code, connection.close_reason) == (1008, "too_many_unusable_frames")
    row = await stored(endpoint.pk, lambda e: e.last_error)
    assert row.last_error == "too_many_unusable_frames"
    await backend.connection()  # retried, with backoff, like any failure


async def test_reconnects_after_the_backend_closes(backend, supervise, alice, bob, bot, team):
    """Each drop of an established connection is followed by a reconnection after the first retry
    delay: the doubling is for failed attempts, not for every drop in the endpoint's life."""
    await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    for _ in range(5):
        await connection.close()
        dropped = time.monotonic()
        connection = await backend.connection()
        assert time.monotonic() - dropped < 4 * RETRY
    message = await call(send, bob, team.pk)
    assert (await receive(connection))["messageId"] == message.pk


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_unreachable_endpoint_is_retried_and_does_not_hold_up_others(backend, supervise, alice, bot):
    await call(register, alice, bot, f"ws://127.0.0.1:{free_port()}/")
    await asyncio.sleep(3 * RETRY)  # a few failed attempts
    await call(register, alice, bot, backend.url)
    await backend.connection()


async def test_deleting_the_endpoint_ends_the_connection(backend, supervise, alice, bot):
    endpoint = await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    started = time.monotonic()
    await call(reverse_endpoint_delete, actor=alice, bot_id=bot.pk, endpoint_id=endpoint.pk)
    await closed(connection)
    assert time.monotonic() - started < POLL + 1
    await backend.no_connection()


async def test_an_endpoint_added_while_running_is_connected(backend, supervise, alice, bot):
    await asyncio.sleep(2 * POLL)  # supervise has polled and found nothing
    await call(register, alice, bot, backend.url)
    connection = await backend.connection(timeout=POLL + 2)
    assert connection.request.headers["X-Self-ID"] == str(bot.pk)


async def test_deactivating_the_bot_ends_the_connection_for_good(backend, supervise, alice, bot, moderator):
    await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    await call(user_set_active, actor=moderator, user_id=bot.pk, active=False)
    await closed(connection)
    await backend.no_connection()


async def stored(endpoint_id: int, condition: Any) -> ReverseEndpoint:
    """The endpoint's row once `condition` holds for it (the bridge writes it from its own task)."""
    for _ in range(100):
        row = await call(ReverseEndpoint.objects.get, pk=endpoint_id)
        if condition(row):
            return row
        await asyncio.sleep(WAIT / 100)
    raise AssertionError(f"the endpoint's row never got there: {row.last_error!r}")


async def test_a_refused_address_is_never_connected_and_the_refusal_is_kept(
    backend, supervise, alice, bot, settings, caplog, client_for
):
    """What the guard refuses (here loopback, with the production setting) is refused before every
    attempt, even for an endpoint registered while it was allowed; the operator sees why."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    endpoint = await call(ReverseEndpoint.objects.create, bot=bot, url=backend.url)
    row = await stored(endpoint.pk, lambda row: row.last_error)
    refusal = "address_not_allowed: 127.0.0.1 is not a public address (see OUTBOUND_ALLOWED_NETWORKS)"
    assert row.last_error == refusal and row.last_error_at is not None
    await backend.no_connection()
    warnings = {
        r.getMessage() for r in caplog.records if r.name == "bots.bridge" and r.levelname == "WARNING"
    }
    assert warnings == {f"bot {bot.pk}: reverse endpoint {backend.url}: {refusal}"}
    [listed] = (await call(lambda: client_for(alice).get(f"/api/bots/{bot.pk}/reverse-endpoints"))).json()
    assert listed["last_error"] == refusal and listed["last_error_at"] is not None

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    await backend.connection()
    row = await stored(endpoint.pk, lambda row: not row.last_error)
    assert row.last_error_at is None


async def test_a_name_is_resolved_and_connected_by_its_checked_address(backend, supervise, alice, bot):
    port = backend.url.split(":")[2].split("/")[0]
    await call(register, alice, bot, f"ws://localhost:{port}/onebot/v11/ws")
    connection = await backend.connection()
    assert connection.request.headers["Host"] == f"localhost:{port}"  # the name, not the address
    assert connection.remote_address[0] == "127.0.0.1"


class Redirector:
    """A backend that answers every handshake with 302 to `location`."""

    def __init__(self, location: str) -> None:
        self.location, self.handshakes = location, 0

    def process_request(self, connection: ServerConnection, request: Any) -> Any:
        self.handshakes += 1
        response = connection.respond(HTTPStatus.FOUND, "moved\n")
        response.headers["Location"] = self.location
        return response


@pytest.mark.parametrize("target", ["metadata", "allowed backend"])
async def test_a_redirect_is_never_followed(backend, supervise, alice, bot, target):
    """Not to the metadata service (refused before any packet goes there: websockets cannot follow
    a redirect over the ready socket the guard hands it), and not even to an allowed address."""
    location = "ws://169.254.169.254/latest/meta-data/" if target == "metadata" else backend.url
    redirector = Redirector(location)
    async with serve(
        lambda connection: None, "127.0.0.1", 0, process_request=redirector.process_request
    ) as srv:
        port = srv.sockets[0].getsockname()[1]
        endpoint = await call(register, alice, bot, f"ws://127.0.0.1:{port}/ws")
        row = await stored(endpoint.pk, lambda row: row.last_error)
        assert row.last_error == f"redirect_not_followed: answered 302 to {location}"
        await backend.no_connection()
        assert redirector.handshakes >= 1


async def test_the_endpoint_reads_connected_while_it_is(
    backend, supervise, alice, bot, moderator, monkeypatch
):
    """Connected since the session opened, said again every ALIVE_SECONDS, and no more once it ended."""
    monkeypatch.setattr(bridge, "ALIVE_SECONDS", 0.1)
    endpoint = await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    opened = await stored(endpoint.pk, lambda row: row.connected_at is not None)
    renewed = await stored(endpoint.pk, lambda row: row.alive_at > opened.alive_at)
    assert renewed.connected_at == opened.connected_at
    assert endpoint_connected(renewed)
    await call(user_set_active, actor=moderator, user_id=bot.pk, active=False)
    await closed(connection)
    ended = await stored(endpoint.pk, lambda row: row.connected_at is None)
    assert ended.alive_at is None
    assert not endpoint_connected(ended)


async def test_a_reconnected_endpoint_gets_what_it_missed_once_and_in_order(
    backend, supervise, alice, bob, bot, team
):
    """The bridge keeps the cursor the backend acknowledged (a pong after the frames); after a drop
    the next connection replays from there: what went out on the dying connection, and what was
    sent while none was open, each once, in order, before live events."""
    endpoint = await call(register, alice, bot, backend.url)
    connection = await backend.connection()
    first = await call(send, bob, team.pk, "one")
    event = await receive(connection)
    assert (event["event"], event["messageId"], event["cursor"]) == ("on_message", first.pk, first.seq)
    await stored(endpoint.pk, lambda e: e.last_cursor == first.seq)
    await connection.close()
    missed = [await call(send, bob, team.pk, f"missed {i}") for i in range(3)]
    again = await asyncio.wait_for(backend.arrivals.get(), WAIT)
    replayed = [await receive(again) for _ in missed]
    assert [(f["event"], f["messageId"], f["cursor"]) for f in replayed] == [
        ("on_message", m.pk, m.seq) for m in missed
    ]
    await nothing(again)
    live = await call(send, bob, team.pk, "live")
    assert (await receive(again))["cursor"] == live.seq
    await stored(endpoint.pk, lambda e: e.last_cursor == live.seq)
