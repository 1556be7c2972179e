"""`sync` in pages (at most SYNC_BATCH changes each, `sync.done.has_more` asks for the next) and its
rate limit (RATE_LIMIT_SYNCS per RATE_LIMIT_WINDOW_SECONDS), over the client WebSocket protocol."""

import pytest

from accounts.models import User
from chats import selectors, services
from chats.models import Chat, Message

from . import test_ws
from .test_ws import post, send_now
from .ws_helpers import Connections, edit_frame, error_frame, new_frame

pytestmark = pytest.mark.django_db(transaction=True)

fresh, ws = test_ws.fresh, test_ws.ws  # the fixtures of the protocol's tests (pair: tests/chats/conftest.py)


@pytest.fixture
def changes(pair: Chat, alice: User, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Pages of two changes. Alice sends m1-m4 to Bob, then edits m1: (message id, seq of its
    latest change) of m2, m3, m4 and m1, in seq order."""
    monkeypatch.setattr(selectors, "SYNC_BATCH", 2)
    ids = [send_now(alice, pair.pk, f"m{n}").pk for n in range(1, 5)]
    services.message_edit(actor=alice, message_id=ids[0], content="m1, edited")
    return [(pk, Message.objects.get(pk=pk).seq) for pk in (*ids[1:], ids[0])]


async def test_sync_replays_in_pages_and_holds_live_frames_until_the_last(
    ws: Connections, pair: Chat, alice: User, bob: User, changes: list[tuple[int, int]]
) -> None:
    seq_of = dict(changes)
    m2, m3, m4, m1 = (message_id for message_id, _ in changes)
    a1, b1 = await ws.connect(alice), await ws.connect(bob)

    await b1.send("sync", {"since_seq": 0})
    first_page = [await new_frame(m2, bob), await new_frame(m3, bob)]
    done = {"type": "sync.done", "payload": {"last_seq": seq_of[m3], "has_more": True}}
    assert await b1.frames(3) == [*first_page, done]

    live = await post(a1, pair.pk, "while paging")  # not sent live: a following page brings it
    await b1.nothing()

    await b1.send("sync", {"since_seq": seq_of[m3]})
    # m1 was created before the page began but after the sync began: still new to this client
    second_page = [await new_frame(m4, bob), await new_frame(m1, bob)]
    done = {"type": "sync.done", "payload": {"last_seq": seq_of[m1], "has_more": True}}
    assert await b1.frames(3) == [*second_page, done]

    await b1.send("sync", {"since_seq": seq_of[m1]})
    live_frame = await new_frame(live, bob)
    done = {"type": "sync.done", "payload": {"last_seq": live_frame["seq"], "has_more": False}}
    assert await b1.frames(2) == [live_frame, done]

    after = await post(a1, pair.pk, "after the sync")  # live frames flow again
    assert await b1.frame() == await new_frame(after, bob)
    await b1.nothing()


async def test_a_sync_from_elsewhere_starts_over_and_an_edit_is_an_edit(
    ws: Connections, pair: Chat, alice: User, bob: User, changes: list[tuple[int, int]]
) -> None:
    """A sync that does not continue the last page (another since_seq) is a sync of its own."""
    seq_of = dict(changes)
    m2, m3, m4, m1 = (message_id for message_id, _ in changes)
    b1 = await ws.connect(bob)
    await b1.send("sync", {"since_seq": seq_of[m2]})
    assert await b1.frames(3) == [
        await new_frame(m3, bob),
        await new_frame(m4, bob),
        {"type": "sync.done", "payload": {"last_seq": seq_of[m4], "has_more": True}},
    ]
    await b1.send("sync", {"since_seq": seq_of[m3]})  # m1 was known before seq_of[m3]: an edit
    assert await b1.frames(3) == [
        await new_frame(m4, bob),
        await edit_frame(m1, bob),
        {"type": "sync.done", "payload": {"last_seq": seq_of[m1], "has_more": True}},
    ]
    await b1.send("sync", {"since_seq": seq_of[m1]})
    assert await b1.frame() == {"type": "sync.done", "payload": {"last_seq": seq_of[m1], "has_more": False}}


async def test_syncs_past_the_limit_are_refused_with_retry_after(
    ws: Connections, pair: Chat, alice: User, bob: User, settings
) -> None:
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_SYNCS": 2, "RATE_LIMIT_WINDOW_SECONDS": 3600}
    b1, b2 = await ws.connect(bob), await ws.connect(bob)
    done = {"type": "sync.done", "payload": {"last_seq": b1.last_seq, "has_more": False}}
    assert await b1.request("sync", {"since_seq": b1.last_seq}) == done
    assert await b2.request("sync", {"since_seq": b1.last_seq}) == done  # one budget per user

    error = await b1.error("sync", {"since_seq": 0})
    retry_after = error["payload"]["details"].pop("retry_after")
    assert type(retry_after) is int and 1 <= retry_after <= 3600
    assert error == error_frame("RATE_LIMITED", limit=2, window_seconds=3600, event="sync")
    await b1.alive()  # refused, not closed; others' budgets are their own
    a1 = await ws.connect(alice)
    assert await a1.request("sync", {"since_seq": a1.last_seq}) == {
        "type": "sync.done",
        "payload": {"last_seq": a1.last_seq, "has_more": False},
    }
