"""Blocking on the client WebSocket (/ws): the blocked person gets no presence or typing of the
blocker, a private send is refused with nothing stored, and the blocker's devices hear
user.blocked / user.unblocked."""

import pytest

from accounts import blocking
from accounts import services as account_services
from accounts.models import User
from groups.models import Group
from groups.services import group_create
from tests.db_state import assert_unchanged, whole_database

from .test_ws import fresh, private_chat_id, typing_frame, ws  # noqa: F401  (fixtures)
from .ws_helpers import call, error_frame, presence_frame, ref

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team(alice: User, bob: User, carol: User) -> Group:
    """Alice, friends with Bob and Carol, owns a group with both; she blocked Bob."""
    for friend in (bob, carol):
        account_services.friendship_create(user_a=alice, user_b=friend)
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])
    blocking.block_create(actor=alice, user_id=bob.pk)
    return group


async def test_the_blocked_person_gets_no_presence_or_typing_of_the_blocker(ws, team, alice, bob, carol):  # noqa: F811
    b1, c1 = await ws.connect(bob), await ws.connect(carol)
    a1 = await ws.connect(alice, absorb_presence=False)
    assert await c1.frame() == await presence_frame(alice, True)
    await b1.nothing()
    await a1.send("typing", {"chat_id": team.pk, "is_typing": True})
    assert await c1.frame() == typing_frame(alice, team.pk, True)
    await b1.nothing()
    await b1.send("typing", {"chat_id": team.pk, "is_typing": True})  # the other way is not hidden
    assert await a1.frame() == typing_frame(bob, team.pk, True)


async def test_a_private_send_to_or_from_a_blocker_is_refused(ws, team, alice, bob):  # noqa: F811
    pair = await call(private_chat_id, a=alice, b=bob)
    b1 = await ws.connect(bob)
    a1 = await ws.connect(alice)
    before = await call(whole_database)
    for device in (b1, a1):
        error = await device.error("message.send", {"chat_id": pair, "content": "hi"})
        assert error == error_frame("PERMISSION_DENIED", reason="blocked", event="message.send")
    await call(assert_unchanged, before=before)
    await a1.nothing()
    await b1.nothing()


async def test_the_blockers_devices_hear_block_and_unblock(ws, alice: User, bob: User, carol: User):  # noqa: F811
    await call(account_services.friendship_create, user_a=alice, user_b=bob)
    b1 = await ws.connect(bob)
    a1 = await ws.connect(alice)
    await call(blocking.block_create, actor=alice, user_id=bob.pk)
    frame = await a1.frame()
    assert frame == {
        "type": "user.blocked",
        "payload": {"user_id": bob.pk, "user": ref(bob), "created_at": frame["payload"]["created_at"]},
    }
    hidden = {"user_id": alice.pk, "is_online": False, "last_seen": None, "user": ref(alice)}
    assert await b1.frame() == {"type": "presence", "payload": hidden}
    await call(blocking.block_remove, actor=alice, user_id=bob.pk)
    assert await a1.frame() == {"type": "user.unblocked", "payload": {"user_id": bob.pk}}
    assert await b1.frame() == await presence_frame(alice, True)
    await b1.nothing()
