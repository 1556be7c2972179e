"""Call signalling over the client WebSocket (/ws on imsuite.asgi.application): exact frames on real
connections, one WebsocketCommunicator per device. Alice and Bob are friends; Carol is a stranger.
Expected payloads are built from the stored call (see test_services)."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command
from django.db import connections as databases
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services as account_services
from accounts.models import User
from calls import services
from calls.models import Call
from imsuite.asgi import application
from tests.shared_state import forget_shared_state

from .test_services import (
    ANSWER_SDP,
    CANDIDATE,
    GRACE,
    RING,
    SDP,
    answer_payload,
    end_payload,
    ice_payload,
    offer_payload,
    wire,
)

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 5.0  # the longest a due frame may take
QUIET = 0.3  # how long a device is watched to show that nothing arrives
CANDIDATE_2 = CANDIDATE | {"candidate": "candidate:2 1 UDP 1694498814 127.0.0.1 54402 typ host"}
TOO_MANY = [CANDIDATE] * (settings.IMSUITE["CALL_MAX_ICE_CANDIDATES"] + 1)


class Device:
    """One client connection of a user."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.communicator = WebsocketCommunicator(application, f"/ws?token={AccessToken.for_user(user)}")
        self.live = False

    async def send(self, event_type: str, payload: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps({"type": event_type, "payload": payload}))

    async def frame(self) -> dict[str, Any]:
        """The next frame without its timestamp (checked: ISO 8601 UTC)."""
        frame = json.loads(await self.communicator.receive_from(WAIT))
        assert set(frame) == {"type", "payload", "timestamp"}, frame
        assert frame.pop("timestamp").endswith("Z"), frame
        return frame

    async def nothing(self) -> None:
        assert await self.communicator.receive_nothing(QUIET), self.communicator.output_queue._queue

    async def alive(self) -> None:
        await self.send("ping", {"timestamp": "still-there"})
        assert await self.frame() == {"type": "pong", "payload": {"timestamp": "still-there"}}


class Devices:
    """Opens and closes devices; the presence frames friends get when someone comes or goes are
    read (and checked) here, so tests see only call frames."""

    def __init__(self) -> None:
        self.devices: list[Device] = []

    async def _presence(self, user: User, is_online: bool) -> None:
        audience = await sync_to_async(account_services.presence_audience)(user.pk)
        for device in self.devices:
            if device.live and device.user.pk in audience:
                got = await device.frame()
                assert (got["type"], got["payload"]["user_id"], got["payload"]["is_online"]) == (
                    "presence",
                    user.pk,
                    is_online,
                )

    async def open(self, user: User) -> Device:
        first = not any(d.live and d.user.pk == user.pk for d in self.devices)
        device = Device(user)
        connected, _ = await device.communicator.connect(WAIT)
        assert connected
        hello = await device.frame()
        assert (hello["type"], hello["payload"]["user_id"]) == ("connect", user.pk)
        self.devices.append(device)
        device.live = True
        if first:
            await self._presence(user, True)
        return device

    async def close(self, device: Device) -> None:
        """The device goes away; returns once the server has cleaned up after it."""
        device.live = False
        await device.communicator.disconnect(timeout=WAIT)
        if not any(d.live and d.user.pk == device.user.pk for d in self.devices):
            await self._presence(device.user, False)

    async def close_all(self) -> None:
        for device in self.devices:
            if device.live:
                device.live = False
                await device.communicator.disconnect(timeout=WAIT)


@pytest.fixture(autouse=True)
def no_leases() -> Iterator[None]:
    forget_shared_state()
    yield
    forget_shared_state()


@pytest.fixture
def friends(alice: User, bob: User, carol: User) -> None:
    account_services.friendship_create(user_a=alice, user_b=bob)


@pytest.fixture
async def phones(friends: None) -> AsyncIterator[Devices]:
    """The test's devices, on a channel layer of the test's own (channels-redis binds its
    connections to the event loop that first used them, and every test has its own loop)."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    devices = Devices()
    yield devices
    await devices.close_all()
    layer = channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    if hasattr(layer, "close_pools"):
        await layer.close_pools()
    await sync_to_async(databases.close_all)()


@sync_to_async
def stored() -> Call:
    return Call.objects.get()


@sync_to_async
def shift(call: Call, **fields: Any) -> None:
    Call.objects.filter(pk=call.pk).update(**fields)


async def nothing(*devices: Device) -> None:
    for device in devices:
        await device.nothing()


def frame(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "payload": payload}


async def ring(caller: Device, callees: list[Device], *watchers: Device) -> Call:
    """caller offers a video call to Bob: every device of the caller's learns the call_id (the
    watchers), every device of Bob's rings."""
    await caller.send(
        "call.offer",
        {"to_user": callees[0].user.pk, "call_type": "video", "sdp": SDP, "ice_candidates": [CANDIDATE]},
    )
    first = await caller.frame()  # the call is stored once its first frame is out
    call = await stored()
    status = frame(
        "call.status", {"call_id": call.call_id, "status": "ringing", "to_user": callees[0].user.pk}
    )
    assert first == status
    for device in watchers:
        assert await device.frame() == status
    offer = frame("call.offer", await sync_to_async(offer_payload)(call))
    for device in callees:
        assert await device.frame() == offer
    return call


async def hear_end(call: Call, *devices: Device) -> dict[str, Any]:
    """Each device gets the same call.end, as stored (read once the first frame is out); its payload."""
    got = [await device.frame() for device in devices]
    expected = frame("call.end", await sync_to_async(end_payload)(call))
    assert got == [expected] * len(devices)
    return expected["payload"]


async def answer(device: Device, call: Call, *, caller: Device, others: list[Device]) -> None:
    await device.send(
        "call.answer", {"call_id": call.call_id, "sdp": ANSWER_SDP, "ice_candidates": [CANDIDATE]}
    )
    assert await caller.frame() == frame("call.answer", await sync_to_async(answer_payload)(call))
    elsewhere = await sync_to_async(end_payload)(call, "answered_elsewhere")
    for other in others:
        assert await other.frame() == frame("call.end", elsewhere | {"ended_at": wire(call.answered_at)})
    await device.nothing()  # the answering device hears nothing back


@pytest.mark.parametrize("hangs_up", ["caller", "callee"])
async def test_offer_answer_ice_and_hang_up(hangs_up, phones, alice, bob):
    a1, a2 = await phones.open(alice), await phones.open(alice)
    b1, b2 = await phones.open(bob), await phones.open(bob)
    call = await ring(a1, [b1, b2], a2)

    # ringing: the caller's candidates reach every device of Bob's
    await a1.send("call.ice", {"call_id": call.call_id, "ice_candidate": CANDIDATE_2})
    for device in (b1, b2):
        assert await device.frame() == frame("call.ice", ice_payload(call, alice, CANDIDATE_2))

    await answer(b1, call, caller=a1, others=[b2])
    await nothing(a2, b2)  # not the caller's other device; b2 only stopped ringing

    # active: candidates go to the one device in the call on each side
    await b1.send("call.ice", {"call_id": call.call_id, "ice_candidate": CANDIDATE})
    assert await a1.frame() == frame("call.ice", ice_payload(call, bob))
    await a1.send("call.ice", {"call_id": call.call_id, "ice_candidate": CANDIDATE_2})
    assert await b1.frame() == frame("call.ice", ice_payload(call, alice, CANDIDATE_2))
    await nothing(a1, a2, b1, b2)

    await shift(call, answered_at=timezone.now() - timedelta(seconds=30))
    await (a1 if hangs_up == "caller" else b1).send("call.end", {"call_id": call.call_id})
    ended = await hear_end(call, a1, a2, b1)
    assert ended | {"ended_at": None} == {
        "call_id": call.call_id,
        "from_user": alice.pk,
        "to_user": bob.pk,
        "reason": "user_hangup",
        "duration": 30,
        "ended_at": None,
    }
    await nothing(a1, a2, b1, b2)
    assert ((await stored()).state, (await stored()).outcome) == ("ended", "answered")


async def test_the_callee_rejects_on_one_device_and_every_device_stops(phones, alice, bob):
    a1 = await phones.open(alice)
    b1, b2 = await phones.open(bob), await phones.open(bob)
    call = await ring(a1, [b1, b2])
    await b2.send("call.end", {"call_id": call.call_id, "reason": "rejected"})
    ended = await hear_end(call, a1, b1, b2)
    assert (ended["reason"], ended["duration"]) == ("rejected", 0)
    await nothing(a1, b1, b2)
    assert (await stored()).outcome == "rejected"


@pytest.mark.parametrize("callee_is", ["offline", "busy"])
async def test_an_offline_or_busy_callee_ends_the_call_at_once(callee_is, phones, alice, bob, carol):
    a1 = await phones.open(alice)
    devices = [a1]
    if callee_is == "busy":
        devices.append(await phones.open(bob))
        await sync_to_async(Call.objects.create)(
            call_id="call_other", caller=carol, callee=bob, call_type="audio", state="active"
        )
    await a1.send("call.offer", {"to_user": bob.pk, "call_type": "audio", "sdp": SDP})
    got = await a1.frame()
    call = await sync_to_async(Call.objects.exclude(call_id="call_other").get)()
    assert got == frame("call.end", await sync_to_async(end_payload)(call))
    expected = {"offline": ("unavailable", "missed"), "busy": ("busy", "busy")}[callee_is]
    assert (got["payload"]["reason"], call.outcome) == expected
    await nothing(*devices)


@pytest.mark.parametrize(
    ("sender", "event_type", "payload", "field", "reason"),
    [
        ("alice", "call.offer", {"call_type": "phone"}, "call_type", "invalid_choice"),
        ("alice", "call.offer", {"sdp": None}, "sdp", "null"),
        ("alice", "call.offer", {"ice_candidates": TOO_MANY}, "ice_candidates", "too_many"),
        ("alice", "call.offer", {"to_user": "two"}, "to_user", "invalid"),
        ("bob", "call.answer", {"sdp": 5}, "sdp", "invalid"),
        ("bob", "call.answer", {"call_id": None}, "call_id", "null"),
        ("bob", "call.ice", {"ice_candidate": "candidate:1"}, "ice_candidate", "not_a_dict"),
        ("bob", "call.end", {"reason": "Not a reason!"}, "reason", "invalid"),
    ],
)
async def test_invalid_frames_name_the_field_and_keep_the_connection(
    sender, event_type, payload, field, reason, phones, alice, bob
):
    a1, b1 = await phones.open(alice), await phones.open(bob)
    call = await ring(a1, [b1])
    base = {
        "call.offer": {"to_user": bob.pk, "call_type": "audio", "sdp": SDP},
        "call.answer": {"call_id": call.call_id, "sdp": ANSWER_SDP},
        "call.ice": {"call_id": call.call_id, "ice_candidate": CANDIDATE},
        "call.end": {"call_id": call.call_id},
    }[event_type]
    device, other = (a1, b1) if sender == "alice" else (b1, a1)
    await device.send(event_type, base | payload)
    error = await device.frame()
    assert error["type"] == "error"
    assert isinstance(error["payload"].pop("message"), str)
    details = error["payload"]["details"]
    details.pop("fields", None)  # the schema's per-field messages, when a schema refused it
    assert error["payload"] == {
        "error_code": "VALIDATION_ERROR",
        "details": {"field": field, "reason": reason, "event": event_type},
    }
    await nothing(other)
    await device.alive()
    assert ((await stored()).state, await sync_to_async(Call.objects.count)()) == ("ringing", 1)


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("call.answer", {"sdp": ANSWER_SDP}),
        ("call.ice", {"ice_candidate": CANDIDATE}),
        ("call.end", {"reason": "rejected"}),
    ],
)
async def test_a_strangers_call_id_is_not_found_and_nobody_hears(
    event_type, payload, phones, alice, bob, carol
):
    a1, b1, c1 = await phones.open(alice), await phones.open(bob), await phones.open(carol)
    call = await ring(a1, [b1])
    await c1.send(event_type, {"call_id": call.call_id, **payload})
    error = await c1.frame()
    assert isinstance(error["payload"].pop("message"), str)
    assert error == frame("error", {"error_code": "NOT_FOUND", "details": {"event": event_type}})
    await nothing(a1, b1, c1)
    await c1.alive()
    assert (await stored()).state == "ringing"


async def test_the_timers_end_an_unanswered_call(phones, alice, bob):
    a1 = await phones.open(alice)
    b1, b2 = await phones.open(bob), await phones.open(bob)
    call = await ring(a1, [b1, b2])
    await shift(call, created_at=timezone.now() - RING)
    await sync_to_async(call_command)("runtimers", once=True)
    ended = await hear_end(call, a1, b1, b2)
    assert (ended["reason"], ended["duration"]) == ("timeout", 0)
    await nothing(a1, b1, b2)
    assert (await stored()).outcome == "missed"


async def test_a_reconnect_within_the_grace_resumes_and_a_long_absence_ends_the_call(phones, alice, bob):
    a1, b1 = await phones.open(alice), await phones.open(bob)
    call = await ring(a1, [b1])
    await answer(b1, call, caller=a1, others=[])

    await phones.close(b1)  # Bob's last connection: the grace starts
    assert (await stored()).callee_lost_at is not None
    b2 = await phones.open(bob)  # back in time: the call goes on, from the new connection
    resumed = await stored()
    assert (resumed.state, resumed.callee_lost_at) == ("active", None)
    assert resumed.callee_channel not in ("", call.callee_channel)
    await a1.send("call.ice", {"call_id": call.call_id, "ice_candidate": CANDIDATE})
    assert await b2.frame() == frame("call.ice", ice_payload(call, alice))

    await phones.close(b2)  # gone for good
    lost_at = (await stored()).callee_lost_at
    await sync_to_async(services.calls_expire)(now=lost_at + GRACE - timedelta(seconds=1))
    await a1.nothing()
    await sync_to_async(services.calls_expire)(now=lost_at + GRACE)
    assert (await hear_end(call, a1))["reason"] == "connection_lost"
    await nothing(a1)


async def test_offers_past_the_call_limit_are_refused_and_store_nothing(
    phones, alice, bob, settings, monkeypatch
):
    """Every offer counts (here two missed calls to an offline Bob); the third is RATE_LIMITED."""
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_CALLS": 2, "RATE_LIMIT_CALLS_WINDOW_SECONDS": 600}
    monkeypatch.setattr("imsuite.ratelimit.time", SimpleNamespace(time=lambda: 600 * 3_000_000 + 120.5))
    a1 = await phones.open(alice)
    for _ in range(2):
        await a1.send("call.offer", {"to_user": bob.pk, "call_type": "audio", "sdp": SDP})
        assert (await a1.frame())["payload"]["reason"] == "unavailable"
    await a1.send("call.offer", {"to_user": bob.pk, "call_type": "audio", "sdp": SDP})
    error = await a1.frame()
    assert error == frame(
        "error",
        {
            "error_code": "RATE_LIMITED",
            "message": "Too many requests: at most 2 every 600 seconds.",
            "details": {"retry_after": 480, "limit": 2, "window_seconds": 600, "event": "call.offer"},
        },
    )
    await a1.alive()
    assert await sync_to_async(Call.objects.count)() == 2
