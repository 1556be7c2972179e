"""The per-process hub: message events leave in seq order, once, and what the channel layer lost
is read from the database."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from accounts.services import friendship_create
from chats import services
from chats.models import Chat
from imsuite.hub import Hub, _current_seq


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
