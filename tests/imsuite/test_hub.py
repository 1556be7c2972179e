"""The per-process hub: message events leave in seq order, once, and what the channel layer lost
is read from the database."""

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from accounts.services import friendship_create
from chats import services
from chats.models import Chat
from imsuite.events import HUB_GROUP, DomainEvent, deliver_async
from imsuite.hub import Hub, _current_seq, get_hub, hub_peers, send_to_peers

pytestmark = pytest.mark.internals  # library internals: make upgrade-check runs these


class Recorder:
    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []

    async def hub_deliver(self, name: str, data: dict[str, Any], frames: dict[Any, str]) -> None:
        self.got.append((name, data["seq"]))


def event(seq: int, audience: list[int], name: str = "message.new") -> dict[str, Any]:
    return {"event": name, "data": {"seq": seq}, "seq": seq, "audience": audience}


@pytest.fixture
def hub() -> Hub:
    hub = Hub()
    hub.position = 10
    return hub


async def test_events_leave_in_seq_order_to_their_audience_only(hub):
    alice, bob = Recorder(), Recorder()
    hub.attach(1, alice)
    hub.attach(2, bob)
    await hub.take([event(12, [1, 2])])
    assert alice.got == bob.got == []  # 11 is still on its way
    await hub.take([event(11, [1])])
    assert alice.got == [("message.new", 11), ("message.new", 12)]
    assert bob.got == [("message.new", 12)]
    assert hub.position == 12 and hub.pending == {} and hub.gap_timer is None


async def test_repeats_and_old_events_are_ignored(hub):
    alice = Recorder()
    hub.attach(1, alice)
    await hub.take([event(11, [1])])
    await hub.take([event(11, [1])])
    await hub.take([event(9, [1])])
    assert alice.got == [("message.new", 11)]


async def test_a_detached_connection_gets_nothing_more(hub):
    alice = Recorder()
    hub.attach(1, alice)
    await hub.take([event(11, [1])])
    hub.detach(1, alice)
    await hub.take([event(12, [1])])
    assert alice.got == [("message.new", 11)] and 1 not in hub.sinks


@pytest.mark.django_db(transaction=True)
async def test_a_lost_event_is_read_from_the_database(alice, bob):
    await sync_to_async(friendship_create)(user_a=alice, user_b=bob)
    chat = await sync_to_async(Chat.objects.get)(type="private")
    hub = Hub()
    hub.position = await sync_to_async(_current_seq)()
    first, _ = await sync_to_async(services.message_send)(actor=alice, chat_id=chat.pk, content="lost")
    second, _ = await sync_to_async(services.message_send)(actor=alice, chat_id=chat.pk, content="arrives")
    recorder = Recorder()
    hub.attach(bob.pk, recorder)
    await hub.take([event(second.seq, [alice.pk, bob.pk])])
    assert recorder.got == []
    await hub.fill_gap()  # what the gap timer does after GAP_WAIT_SECONDS
    assert recorder.got == [("message.new", first.seq), ("message.new", second.seq)]
    assert hub.position == second.seq


@pytest.mark.django_db  # the database threads close stale connections around each call
async def test_a_counter_read_behind_what_was_handed_out_meanwhile_is_no_reset(hub, monkeypatch, caplog):
    """The counter is read in a database thread while the hub goes on handing out batches: an
    answer below the position the hub reached meanwhile, but not below the one it asked at, is
    stale, not a reset (it used to rewind the hub by RESET_REWIND and stall it for a gap wait)."""
    alice = Recorder()
    hub.attach(1, alice)

    def counter_while_batches_arrive() -> int:
        asyncio.run_coroutine_threadsafe(hub.take([event(11, [1]), event(12, [1])]), loop).result()
        return 11  # read before seq 12 committed

    loop = asyncio.get_running_loop()
    monkeypatch.setattr("imsuite.hub._current_seq", counter_while_batches_arrive)
    await hub.take([event(14, [1])])  # 13 is on its way
    assert await hub.look_at_counter(10, 10) == (12, 11)
    assert (hub.position, sorted(hub.pending)) == (12, [14])
    assert alice.got == [("message.new", 11), ("message.new", 12)]
    assert "went back" not in caplog.text


@pytest.mark.django_db  # the database threads close stale connections around each call
async def test_a_counter_behind_the_position_asked_at_is_a_reset(hub, monkeypatch, caplog):
    monkeypatch.setattr("imsuite.hub._current_seq", lambda: 3)
    monkeypatch.setattr("imsuite.hub._repaired_seq", lambda: 3)  # no stored seq above it either
    await hub.take([event(14, [1])])
    assert await hub.look_at_counter(10, 10) == (0, 3)  # rewound: the newest changes go out again
    assert (hub.position, hub.pending) == (0, {})
    assert "the seq counter went back from 10 to 3" in caplog.text


# ---- peers --------------------------------------------------------------------------------------


class Notified:
    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []

    async def hub_notify(self, name: str, data: dict[str, Any]) -> None:
        self.got.append((name, data))


async def test_hub_peers_are_the_other_members_of_the_hub_group():
    layer = get_channel_layer()
    mine, other = await layer.new_channel(), await layer.new_channel()
    assert await hub_peers(layer, mine) == []  # nobody listens
    await layer.group_add(HUB_GROUP, mine)
    assert await hub_peers(layer, mine) == []
    await layer.group_add(HUB_GROUP, other)
    assert await hub_peers(layer, mine) == [other]
    await layer.group_discard(HUB_GROUP, other)
    assert await hub_peers(layer, mine) == []
    await layer.group_discard(HUB_GROUP, mine)


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the embedded hub (with Redis: test_event_routes)")
@pytest.mark.django_db(transaction=True)
async def test_a_hub_sends_its_events_to_its_peers_only(monkeypatch):
    layer = get_channel_layer()
    hub = await get_hub()
    sent: list[tuple[str, dict[str, Any]]] = []
    send = layer.send

    async def counting_send(channel: str, message: dict[str, Any]) -> None:
        sent.append((channel, message))
        await send(channel, message)

    async def no_group_send(group: str, message: dict[str, Any]) -> None:
        raise AssertionError("a hub sends to its peers' channels")

    monkeypatch.setattr(layer, "send", counting_send)
    monkeypatch.setattr(layer, "group_send", no_group_send)
    listener = Notified()
    hub.attach(7, listener)
    await deliver_async([DomainEvent(name="typing", audience=frozenset({7}), data={"chat_id": 1})])
    assert listener.got == [("typing", {"chat_id": 1})]
    await wait_until_published(hub)
    assert sent == []  # no other hub: nothing went to the layer

    peer = await layer.new_channel()  # another process's hub
    await layer.group_add(HUB_GROUP, peer)
    typing = [{"event": "typing", "data": {"chat_id": n}, "seq": None, "audience": [7]} for n in (2, 3)]
    await deliver_async([DomainEvent(name="typing", audience=frozenset({7}), data={"chat_id": 2})])
    await deliver_async([DomainEvent(name="typing", audience=frozenset({7}), data={"chat_id": 3})])
    assert listener.got[1:] == [("typing", {"chat_id": 2}), ("typing", {"chat_id": 3})]
    await wait_until_published(hub)
    # One message for both: the second was queued while the first was on its way (or together).
    got = [event for _, message in sent for event in message["events"]]
    assert (got, {channel for channel, _ in sent}) == (typing, {peer})
    received = []
    for _ in sent:
        received.extend((await asyncio.wait_for(layer.receive(peer), 5))["events"])
    assert received == typing
    assert hub.channel not in {channel for channel, _ in sent}  # never its own copy
    await layer.group_discard(HUB_GROUP, peer)


async def wait_until_published(hub: Hub) -> None:
    for _ in range(100):
        if hub.publishing is None and not hub.outgoing:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the hub's events never left")


async def test_a_hub_coalesces_what_queues_while_a_send_is_under_way(monkeypatch):
    layer = get_channel_layer()
    hub = Hub()
    hub.channel = await layer.new_channel()
    peer = await layer.new_channel()
    await layer.group_add(HUB_GROUP, peer)
    release = asyncio.Event()
    sent: list[list[int]] = []

    async def slow_send(channel: str, message: dict[str, Any]) -> None:
        sent.append([event["seq"] for event in message["events"]])
        await release.wait()

    monkeypatch.setattr(layer, "send", slow_send)
    hub.publish([event(1, [1])])
    await asyncio.sleep(0.05)  # the first send is under way
    hub.publish([event(2, [1])])
    hub.publish([event(3, [1]), event(4, [1])])
    release.set()
    await wait_until_published(hub)
    assert sent == [[1], [2, 3, 4]]
    await layer.group_discard(HUB_GROUP, peer)


# ---- a failing channel layer --------------------------------------------------------------------


def failing_sends(monkeypatch: Any, layer: Any, fail_at: set[int]) -> list[str]:
    """The layer's send fails (as a Redis restart makes it) on the calls numbered in fail_at
    (0-based), and works otherwise; returns the channels each working send went to."""
    send, calls, reached = layer.send, iter(range(10_000)), []

    async def flaky(channel: str, message: dict[str, Any]) -> None:
        if next(calls) in fail_at:
            raise ConnectionError("Connection reset by peer")
        await send(channel, message)
        reached.append(channel)

    monkeypatch.setattr(layer, "send", flaky)
    monkeypatch.setattr("imsuite.hub.SEND_RETRY_SECONDS", (0.01, 0.01, 0.01))
    return reached


async def test_a_failed_send_to_the_peers_is_tried_again_and_no_peer_gets_it_twice(monkeypatch):
    layer = get_channel_layer()
    mine, first, second = [await layer.new_channel() for _ in range(3)]
    for channel in (mine, first, second):
        await layer.group_add(HUB_GROUP, channel)
    try:
        peers = await hub_peers(layer, mine)
        reached = failing_sends(monkeypatch, layer, fail_at={1, 2})  # the second peer, twice
        message = {"type": "hub.event", "events": [event(11, [1])]}
        await send_to_peers(layer, mine, message)
        assert reached == peers  # each once, in order
        for peer in peers:
            assert await asyncio.wait_for(layer.receive(peer), 5) == message
    finally:
        for channel in (mine, first, second):
            await layer.group_discard(HUB_GROUP, channel)


async def test_what_keeps_failing_is_dropped_with_a_log_and_the_next_batch_goes_out(monkeypatch, caplog):
    layer = get_channel_layer()
    hub, peer = Hub(), await layer.new_channel()
    hub.channel = await layer.new_channel()
    for channel in (hub.channel, peer):
        await layer.group_add(HUB_GROUP, channel)
    try:
        reached = failing_sends(monkeypatch, layer, fail_at={0, 1, 2, 3})  # every attempt of the first
        hub.publish([event(11, [1], name="user.deactivated")])
        await asyncio.wait_for(hub.publishing, 5)
        assert (
            "dropped 1 events for the peers (the channel layer kept failing): user.deactivated" in caplog.text
        )
        hub.publish([event(12, [1])])
        await asyncio.wait_for(hub.publishing, 5)
        assert reached == [peer]
        got = await asyncio.wait_for(layer.receive(peer), 5)
        assert got["events"] == [event(12, [1])]
    finally:
        for channel in (hub.channel, peer):
            await layer.group_discard(HUB_GROUP, channel)


async def test_too_many_waiting_events_drop_the_oldest_with_a_log(monkeypatch, caplog):
    monkeypatch.setattr("imsuite.hub.OUTGOING_LIMIT", 2)
    hub = Hub()
    hub.publishing = asyncio.get_running_loop().create_future()  # a send is under way
    hub.publish([event(11, [1]), event(12, [1], name="presence")])
    hub.publish([event(13, [1])])
    assert hub.outgoing == [event(12, [1], name="presence"), event(13, [1])]
    assert "dropped 1 events for the peers (too many waiting): message.new" in caplog.text
