"""A closed connection leaves no reference cycle behind (issue 23): what a client's or a bot's
connection kept is freed by reference counting as it closes, not by a later pass of the garbage
collector over everything the process holds. So a connection that a full pass froze while it was
held (imsuite.collector) leaves nothing frozen once closed. Each test opens and closes one real
authenticated connection (channels' WebsocketCommunicator on imsuite.asgi.application) with the
collector's automatic passes off."""

import asyncio
import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.services import bot_create
from imsuite.asgi import application
from imsuite.hub import get_hub
from imsuite.ws import FastWebsocketConsumer

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 5.0


async def opened(path: str, user_id: int) -> tuple[WebsocketCommunicator, weakref.ref]:
    """An open connection, and a weak reference to its consumer (found in the process's hub)."""
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect(WAIT)
    assert connected
    hub = await get_hub()
    async with asyncio.timeout(WAIT):
        while not any(hasattr(sink, "watch_key") for sink in hub.sinks.get(user_id, ())):
            await asyncio.sleep(0.01)  # until it is set up: its presence is watched
    (consumer,) = hub.sinks[user_id]
    return communicator, weakref.ref(consumer)


def is_a_consumer_or_its_scope(thing: Any) -> bool:
    """By its type, not isinstance: a lazy object among everything the process holds would be
    evaluated by the look at its __class__."""
    if issubclass(type(thing), FastWebsocketConsumer):
        return True
    return type(thing) is dict and thing.get("type") == "websocket" and "headers" in thing


def is_left_of_a_connection(thing: Any) -> bool:
    """A consumer, its task or coroutine, or a WebSocket scope (by type too: a dead weak proxy
    among everything the process holds raises at any other look)."""
    return (
        is_a_consumer_or_its_scope(thing)
        or issubclass(type(thing), asyncio.Task)
        or type(thing).__name__ == "coroutine"
    )


def tracked(kind: Callable[[Any], bool]) -> dict[int, str]:
    """The objects of a kind the collector tracks, frozen ones included (thawed to be listed, then
    frozen again), by id."""
    gc.unfreeze()
    try:
        return {id(thing): type(thing).__qualname__ for thing in gc.get_objects() if kind(thing)}
    finally:
        gc.freeze()


async def open_and_close(path: str, user_id: int) -> None:
    # What earlier tests of the process left (a connection still closing) is not this one's.
    earlier = tracked(is_left_of_a_connection)
    warm_up, _ = await opened(path, user_id)  # the first connection starts the hub and the pools
    await warm_up.disconnect()
    del warm_up
    gc.collect()
    communicator, consumer = await opened(path, user_id)
    gc.collect()  # a full pass while it is held: what it keeps is frozen with the rest (imsuite.collector)
    assert not any(thing is consumer() for thing in gc.get_objects())
    await communicator.disconnect()
    del communicator
    await asyncio.sleep(0)  # the loop lets go of the finished task's last callbacks
    assert consumer() is None  # freed as it closed, without a collection, frozen as it was
    assert [name for key, name in tracked(is_a_consumer_or_its_scope).items() if key not in earlier] == []
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    left = [
        type(thing).__qualname__
        for thing in gc.garbage
        if is_left_of_a_connection(thing) and id(thing) not in earlier
    ]
    assert left == []


async def test_a_closed_client_connection_leaves_no_cycle(collector_off: None, alice: User) -> None:
    await open_and_close(f"/ws?token={AccessToken.for_user(alice)}", alice.pk)


async def test_a_closed_bot_connection_leaves_no_cycle(collector_off: None, alice: User) -> None:
    bot, token = await asyncio.to_thread(bot_create, actor=alice, username="robo", nickname="Robo")
    await open_and_close(f"/ws/bot?token={token}", bot.pk)
