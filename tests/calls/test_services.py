"""The call state machine (calls.services): every transition and every refusal of issue 5.

Time is passed in (calls_expire / call_party_left take now=) or written into rows with queryset
updates, never slept. Events are read from the real channel layer with the inbox fixture; device
targeting shows in the events' only_channels (these devices only) and origin (all but this one).
"""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from accounts import presence
from accounts import services as account_services
from accounts.models import User
from calls import services
from calls.models import Call
from chats.services import private_chat_ensure
from imsuite.errors import DomainError
from tests.shared_state import forget_shared_state

SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
ANSWER_SDP = SDP.replace("4611731400430051336", "8123456789012345678")
CANDIDATE = {
    "candidate": "candidate:1 1 UDP 2113667326 127.0.0.1 54400 typ host",
    "sdpMLineIndex": 0,
    "sdpMid": "0",
}
T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
RING = timedelta(seconds=settings.IMSUITE["CALL_RING_SECONDS"])
GRACE = timedelta(seconds=settings.IMSUITE["CALL_GRACE_SECONDS"])
SECOND = timedelta(seconds=1)
# Each party's device in the `place` fixture: alice offers from A1, bob answers from B1.
A1, B1 = "alice-device-1", "bob-device-1"

pytestmark = pytest.mark.django_db


# ---- shared by the calls tests --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_leases() -> Iterator[None]:
    forget_shared_state()
    yield
    forget_shared_state()


def online(*users: User) -> None:
    """Give each user a presence lease, as an open connection does."""
    for user in users:
        presence.registry().renew(user.pk, f"lease-{user.pk}")


def wire(data: Any) -> Any:
    """Data as the channel layer carries it (datetimes in ISO 8601 with Z)."""
    return json.loads(json.dumps(data, cls=JSONEncoder))


def end_payload(call: Call, reason: str | None = None) -> dict[str, Any]:
    """The call.end payload for a stored call, built from its row."""
    call.refresh_from_db()
    return wire(
        {
            "call_id": call.call_id,
            "from_user": call.caller_id,
            "to_user": call.callee_id,
            "reason": reason or call.end_reason,
            "duration": call.duration,
            "ended_at": call.ended_at,
        }
    )


def offer_payload(call: Call, sdp: str = SDP, candidates: list[Any] | None = None) -> dict[str, Any]:
    call.refresh_from_db()
    return wire(
        {
            "call_id": call.call_id,
            "from_user": call.caller_id,
            "to_user": call.callee_id,
            "call_type": call.call_type,
            "sdp": sdp,
            "ice_candidates": [CANDIDATE] if candidates is None else candidates,
            "created_at": call.created_at,
        }
    )


def answer_payload(call: Call, sdp: str = ANSWER_SDP) -> dict[str, Any]:
    call.refresh_from_db()
    return wire(
        {
            "call_id": call.call_id,
            "from_user": call.callee_id,
            "to_user": call.caller_id,
            "sdp": sdp,
            "ice_candidates": [CANDIDATE],
            "answered_at": call.answered_at,
        }
    )


def ice_payload(call: Call, sender: User, candidate: dict[str, Any] = CANDIDATE) -> dict[str, Any]:
    receiver = call.callee_id if sender.pk == call.caller_id else call.caller_id
    return {"call_id": call.call_id, "from_user": sender.pk, "to_user": receiver, "ice_candidate": candidate}


def event(name: str, data: dict[str, Any], **targeting: Any) -> dict[str, Any]:
    """A domain event as the inbox receives it; targeting: only_channels / origin."""
    return {"type": "domain.event", "event": name, "data": wire(data) | targeting}


def heard(inbox: Any, *users: User) -> list[list[dict[str, Any]]]:
    return [inbox.drain(user) for user in users]


def row(call: Call) -> Call:
    return Call.objects.get(pk=call.pk)


# ---- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def act(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Run a service and deliver what it published once it committed."""

    def run(service: Callable[..., Any], /, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


@pytest.fixture
def refusal(act: Callable[..., Any]) -> Callable[..., tuple[str, dict[str, Any]]]:
    """Run a service that must refuse; its (error code, details)."""

    def run(service: Callable[..., Any], /, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        with pytest.raises(DomainError) as refused:
            act(service, **kwargs)
        return refused.value.code, refused.value.details

    return run


@pytest.fixture
def friends(alice: User, bob: User, carol: User, inbox: Any) -> None:
    """Alice and Bob are friends; Carol is a stranger to both. All three are online and heard."""
    account_services.friendship_create(user_a=alice, user_b=bob)
    online(alice, bob, carol)
    inbox.listen(alice, bob, carol)


@pytest.fixture
def place(friends: None, alice: User, bob: User) -> Callable[[str], Call]:
    """A call from Alice (device A1) to Bob in the given state (Bob answered from B1). What led there
    is never delivered: outside `act`, events wait for a commit that never comes."""

    def make(state: str) -> Call:
        call = services.call_offer(
            actor=alice, to_user=bob.pk, call_type="video", sdp=SDP, ice_candidates=[CANDIDATE], channel=A1
        )
        if state in ("active", "ended"):
            services.call_answer(
                actor=bob, call_id=call.call_id, sdp=ANSWER_SDP, ice_candidates=[CANDIDATE], channel=B1
            )
        if state == "ended":
            services.call_end(actor=alice, call_id=call.call_id, channel=A1)
        call.refresh_from_db()
        assert call.state == state
        return call

    return make


# ---- offer ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("relation", ["friend", "private_chat_peer"])
def test_offer_rings_the_callee_and_tells_the_caller_the_call_id(relation, alice, bob, carol, inbox, act):
    if relation == "friend":
        account_services.friendship_create(user_a=alice, user_b=bob)
    else:
        private_chat_ensure(user_a=bob, user_b=alice)
    online(alice, bob, carol)
    inbox.listen(alice, bob, carol)
    call = act(
        services.call_offer,
        actor=alice,
        to_user=bob.pk,
        call_type="video",
        sdp=SDP,
        ice_candidates=[CANDIDATE],
        channel=A1,
    )
    stored = row(call)
    assert re.fullmatch(r"call_[0-9a-f]{24}", stored.call_id)
    assert (stored.caller, stored.callee, stored.call_type, stored.state, stored.outcome) == (
        alice,
        bob,
        "video",
        "ringing",
        "",
    )
    assert (stored.caller_channel, stored.callee_channel, stored.answered_at, stored.ended_at) == (
        A1,
        "",
        None,
        None,
    )
    status = {"call_id": stored.call_id, "status": "ringing", "to_user": bob.pk}
    assert heard(inbox, alice, bob, carol) == [
        [event("call.status", status)],
        [event("call.offer", offer_payload(stored))],  # every device of Bob's rings
        [],
    ]


def test_limits_are_inclusive_and_call_ids_fresh(friends, alice, bob, carol, inbox, act):
    sdp = "v" * settings.IMSUITE["CALL_SDP_MAX_BYTES"]
    candidates = [
        CANDIDATE | {"sdpMLineIndex": i} for i in range(settings.IMSUITE["CALL_MAX_ICE_CANDIDATES"])
    ]
    first = act(
        services.call_offer,
        actor=alice,
        to_user=bob.pk,
        call_type="audio",
        sdp=sdp,
        ice_candidates=candidates,
    )
    assert inbox.drain(bob) == [event("call.offer", offer_payload(first, sdp, candidates))]
    act(services.call_end, actor=alice, call_id=first.call_id)
    second = act(services.call_offer, actor=alice, to_user=bob.pk, call_type="audio", sdp=SDP)
    assert second.call_id != first.call_id
    assert row(second).state == "ringing"


@pytest.mark.parametrize("callee", ["stranger", "self", "unknown"])
def test_offer_to_anyone_but_a_friend_or_peer_is_refused(callee, friends, alice, bob, carol, inbox, refusal):
    to_user = {"stranger": carol.pk, "self": alice.pk, "unknown": carol.pk + 1000}[callee]
    got = refusal(services.call_offer, actor=alice, to_user=to_user, call_type="audio", sdp=SDP)
    assert got == ("PERMISSION_DENIED", {"reason": "not_friends"})
    assert not Call.objects.exists()
    assert heard(inbox, alice, bob, carol) == [[], [], []]


def test_offer_to_an_offline_callee_is_missed_as_unavailable(friends, alice, bob, inbox, act):
    presence.registry().drop(bob.pk, f"lease-{bob.pk}")
    call = act(services.call_offer, actor=alice, to_user=bob.pk, call_type="audio", sdp=SDP, channel=A1)
    stored = row(call)
    assert (stored.state, stored.outcome, stored.end_reason, stored.duration) == (
        "ended",
        "missed",
        "unavailable",
        0,
    )
    assert stored.ended_at is not None
    assert heard(inbox, alice, bob) == [[event("call.end", end_payload(call))], []]


@pytest.mark.parametrize("other_state", ["ringing", "active"])
@pytest.mark.parametrize("bob_is", ["caller", "callee"])
def test_offer_to_a_callee_in_another_call_is_busy(
    other_state, bob_is, friends, alice, bob, carol, inbox, act
):
    ends = (bob, carol) if bob_is == "caller" else (carol, bob)
    other = Call.objects.create(
        call_id="call_other", caller=ends[0], callee=ends[1], call_type="audio", state=other_state
    )
    call = act(services.call_offer, actor=alice, to_user=bob.pk, call_type="audio", sdp=SDP, channel=A1)
    stored = row(call)
    assert (stored.state, stored.outcome, stored.end_reason, stored.duration) == ("ended", "busy", "busy", 0)
    assert heard(inbox, alice, bob, carol) == [[event("call.end", end_payload(call))], [], []]
    assert row(other).state == other_state


@pytest.mark.parametrize("other_state", ["ringing", "active"])
@pytest.mark.parametrize("alice_is", ["caller", "callee"])
def test_offer_while_in_a_call_is_a_conflict(
    other_state, alice_is, friends, alice, bob, carol, inbox, refusal
):
    ends = (alice, carol) if alice_is == "caller" else (carol, alice)
    Call.objects.create(
        call_id="call_other", caller=ends[0], callee=ends[1], call_type="audio", state=other_state
    )
    got = refusal(services.call_offer, actor=alice, to_user=bob.pk, call_type="audio", sdp=SDP)
    assert got == ("CONFLICT", {"reason": "in_call"})
    assert Call.objects.count() == 1
    assert heard(inbox, alice, bob, carol) == [[], [], []]


# ---- answer ---------------------------------------------------------------------------------------


def test_answer_goes_to_the_offering_device_and_stops_the_other_devices(place, alice, bob, carol, inbox, act):
    call = place("ringing")
    act(
        services.call_answer,
        actor=bob,
        call_id=call.call_id,
        sdp=ANSWER_SDP,
        ice_candidates=[CANDIDATE],
        channel=B1,
    )
    stored = row(call)
    assert (stored.state, stored.callee_channel, stored.outcome, stored.ended_at) == ("active", B1, "", None)
    assert stored.answered_at is not None
    elsewhere = end_payload(stored, "answered_elsewhere") | {"ended_at": wire(stored.answered_at)}
    assert heard(inbox, alice, bob, carol) == [
        [event("call.answer", answer_payload(stored), only_channels=[A1])],
        [event("call.end", elsewhere, origin=B1)],  # every device of Bob's but the one that answered
        [],
    ]


@pytest.mark.parametrize(
    ("state", "who", "code", "details"),
    [
        ("ringing", "alice", "PERMISSION_DENIED", {"reason": "not_callee"}),
        ("active", "bob", "CONFLICT", {"reason": "active", "state": "active"}),
        ("ended", "bob", "CONFLICT", {"reason": "ended", "state": "ended"}),
    ],
)
def test_answer_refusals(state, who, code, details, place, request, alice, bob, inbox, refusal):
    call = place(state)
    actor = request.getfixturevalue(who)
    got = refusal(services.call_answer, actor=actor, call_id=call.call_id, sdp=ANSWER_SDP, channel="b2")
    assert got == (code, details)
    assert (row(call).state, row(call).callee_channel) == (state, "" if state == "ringing" else B1)
    assert heard(inbox, alice, bob) == [[], []]


# ---- ICE ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "sender", "receiver", "devices"),
    [
        ("ringing", "alice", "bob", None),  # nobody answered yet: every device of Bob's
        ("ringing", "bob", "alice", [A1]),
        ("active", "alice", "bob", [B1]),
        ("active", "bob", "alice", [A1]),
    ],
)
def test_ice_goes_to_the_other_party_only(
    state, sender, receiver, devices, place, request, carol, inbox, act
):
    call = place(state)
    sender, receiver = request.getfixturevalue(sender), request.getfixturevalue(receiver)
    candidate = CANDIDATE | {"candidate": "candidate:2 1 UDP 1694498814 127.0.0.1 54402 typ host"}
    act(services.call_ice, actor=sender, call_id=call.call_id, ice_candidate=candidate, channel="any")
    assert heard(inbox, receiver, sender, carol) == [
        [event("call.ice", ice_payload(call, sender, candidate), only_channels=devices)],
        [],
        [],
    ]


# ---- end ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "reason", "outcome"),
    [
        ("bob", "rejected", "rejected"),
        ("bob", "user_hangup", "missed"),
        ("alice", "user_hangup", "missed"),
        ("alice", "rejected", "missed"),  # only the callee rejects
    ],
)
def test_ending_a_ringing_call(who, reason, outcome, place, request, alice, bob, carol, inbox, act):
    call = place("ringing")
    act(
        services.call_end,
        actor=request.getfixturevalue(who),
        call_id=call.call_id,
        reason=reason,
        channel="x",
    )
    stored = row(call)
    assert (stored.state, stored.outcome, stored.end_reason, stored.duration) == ("ended", outcome, reason, 0)
    expected = end_payload(stored)
    assert heard(inbox, alice, bob, carol) == [
        [event("call.end", expected)],
        [event("call.end", expected, only_channels=None)],  # still ringing on every device
        [],
    ]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_hang_up_counts_whole_seconds_since_the_answer(who, place, request, alice, bob, inbox, act):
    call = place("active")
    Call.objects.filter(pk=call.pk).update(
        answered_at=timezone.now() - timedelta(seconds=42, milliseconds=300)
    )
    act(services.call_end, actor=request.getfixturevalue(who), call_id=call.call_id)
    stored = row(call)
    assert (stored.state, stored.outcome, stored.end_reason, stored.duration) == (
        "ended",
        "answered",
        "user_hangup",
        42,
    )
    expected = end_payload(stored)
    assert set(expected) == {"call_id", "from_user", "to_user", "reason", "duration", "ended_at"}
    assert heard(inbox, alice, bob) == [
        [event("call.end", expected)],
        [event("call.end", expected, only_channels=[B1])],  # the device in the call
    ]


# ---- timers: ring timeout and grace -----------------------------------------------------------------


def test_unanswered_call_times_out_after_the_ring_time(place, alice, bob, inbox, act):
    call = place("ringing")
    Call.objects.filter(pk=call.pk).update(created_at=T0)
    assert act(services.calls_expire, now=T0 + RING - SECOND) == 0
    assert row(call).state == "ringing"
    assert heard(inbox, alice, bob) == [[], []]
    assert act(services.calls_expire, now=T0 + RING) == 1
    stored = row(call)
    assert (stored.state, stored.outcome, stored.end_reason, stored.duration) == (
        "ended",
        "missed",
        "timeout",
        0,
    )
    assert stored.ended_at == T0 + RING
    expected = end_payload(stored)
    assert heard(inbox, alice, bob) == [
        [event("call.end", expected)],
        [event("call.end", expected, only_channels=None)],
    ]
    assert act(services.calls_expire, now=T0 + 2 * RING) == 0  # ended once
    assert heard(inbox, alice, bob) == [[], []]


def test_an_answered_call_never_rings_out(place, act):
    call = place("active")
    Call.objects.filter(pk=call.pk).update(created_at=T0, answered_at=T0 + SECOND)
    assert act(services.calls_expire, now=T0 + 100 * RING) == 0
    assert row(call).state == "active"


@pytest.mark.parametrize("state", ["ringing", "active"])
@pytest.mark.parametrize("leaver", ["alice", "bob"])
def test_a_party_gone_past_the_grace_ends_the_call(state, leaver, place, request, alice, bob, inbox, act):
    call = place(state)
    start = timezone.now()
    if state == "active":
        Call.objects.filter(pk=call.pk).update(answered_at=start - timedelta(seconds=5))
    act(services.call_party_left, user=request.getfixturevalue(leaver), now=start)
    stored = row(call)
    assert (stored.caller_lost_at, stored.callee_lost_at) == (
        (start, None) if leaver == "alice" else (None, start)
    )
    assert act(services.calls_expire, now=start + GRACE - SECOND) == 0
    assert heard(inbox, alice, bob) == [[], []]
    assert act(services.calls_expire, now=start + GRACE) == 1
    stored = row(call)
    duration = int((GRACE + timedelta(seconds=5)).total_seconds()) if state == "active" else 0
    outcome = "answered" if state == "active" else "missed"
    assert (stored.state, stored.outcome, stored.end_reason, stored.duration) == (
        "ended",
        outcome,
        "connection_lost",
        duration,
    )
    expected = end_payload(stored)
    bob_devices = [B1] if state == "active" else None
    assert heard(inbox, alice, bob) == [
        [event("call.end", expected)],
        [event("call.end", expected, only_channels=bob_devices)],
    ]


@pytest.mark.parametrize(
    ("state", "returner", "devices"),
    [
        ("active", "alice", ["new-device"]),
        ("active", "bob", ["new-device"]),
        ("ringing", "alice", ["new-device"]),
        ("ringing", "bob", None),  # nobody answered: it rings wherever Bob is
    ],
)
def test_returning_within_the_grace_resumes_on_the_new_connection(
    state, returner, devices, place, request, alice, bob, inbox, act
):
    call = place(state)
    returner = request.getfixturevalue(returner)
    other = bob if returner == alice else alice
    start = timezone.now()
    act(services.call_party_left, user=returner, now=start)
    act(services.call_party_returned, user=returner, channel="new-device")
    stored = row(call)
    assert (stored.caller_lost_at, stored.callee_lost_at, stored.state) == (None, None, state)
    assert act(services.calls_expire, now=start + GRACE + SECOND) == 0
    act(services.call_ice, actor=other, call_id=call.call_id, ice_candidate=CANDIDATE)
    assert heard(inbox, returner, other) == [
        [event("call.ice", ice_payload(call, other), only_channels=devices)],
        [],
    ]


def test_connections_opening_and_closing_drive_the_grace(place, bob):
    """accounts.services reports the last connection closing and a connection coming back."""
    call = place("active")
    account_services.connection_opened(actor=bob, connection="b2")
    account_services.connection_closed(actor=bob, connection=f"lease-{bob.pk}")
    assert (row(call).callee_lost_at, row(call).callee_channel) == (None, B1)  # b2 is still open
    account_services.connection_closed(actor=bob, connection="b2")
    assert row(call).callee_lost_at is not None
    account_services.connection_opened(actor=bob, connection="b3")
    assert (row(call).callee_lost_at, row(call).callee_channel, row(call).state) == (None, "b3", "active")


# ---- multi-step writes are all or nothing ---------------------------------------------------------


@contextmanager
def failing(statement: str, nth: int = 1) -> Iterator[None]:
    """The nth statement containing `statement` fails, as a database that went away would."""
    seen = 0

    def fail(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal seen
        if statement in sql:
            seen += 1
            if seen == nth:
                raise OperationalError("injected failure")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        yield


def parties(call: Call) -> tuple:
    stored = row(call)
    return (
        stored.state,
        stored.caller_lost_at,
        stored.caller_channel,
        stored.callee_lost_at,
        stored.callee_channel,
    )


CALL_UPDATE = f'UPDATE "{Call._meta.db_table}"'


def test_a_return_that_fails_halfway_resumes_nothing(place, bob, act):
    call = place("active")
    services.call_party_left(user=bob)
    before = parties(call)
    with pytest.raises(OperationalError), failing(CALL_UPDATE, nth=3):  # its second and third writes
        act(services.call_party_returned, user=bob, channel="b2")
    assert parties(call) == before
    assert before[3] is not None


def test_a_connection_opening_that_fails_halfway_writes_nothing_and_leaves_no_lease(
    place, alice, bob, inbox, act
):
    call = place("active")
    account_services.connection_closed(actor=bob, connection=f"lease-{bob.pk}")  # his only one
    inbox.drain(alice)
    before, seen = parties(call), User.objects.get(pk=bob.pk).last_seen
    with pytest.raises(OperationalError), failing("last_seen"):  # after the call resumed
        act(account_services.connection_opened, actor=bob, connection="b2", call_waiting=True)
    assert parties(call) == before
    assert User.objects.get(pk=bob.pk).last_seen == seen
    assert presence.online_user_ids([bob.pk]) == set()
    assert heard(inbox, alice, bob) == [[], []]


def test_a_last_connection_closing_that_fails_halfway_writes_nothing(place, alice, bob, inbox, act):
    call = place("active")
    before, seen = parties(call), User.objects.get(pk=bob.pk).last_seen
    with pytest.raises(OperationalError), failing("last_seen"):  # after the grace period started
        act(account_services.connection_closed, actor=bob, connection=f"lease-{bob.pk}")
    assert parties(call) == before
    assert before[3] is None
    assert User.objects.get(pk=bob.pk).last_seen == seen
    assert heard(inbox, alice, bob) == [[], []]


# ---- refusals -------------------------------------------------------------------------------------

TOO_MANY = [CANDIDATE] * (settings.IMSUITE["CALL_MAX_ICE_CANDIDATES"] + 1)
TOO_LONG = "x" * (settings.IMSUITE["CALL_SDP_MAX_BYTES"] + 1)
TOO_LONG_IN_BYTES = "é" * (settings.IMSUITE["CALL_SDP_MAX_BYTES"] // 2 + 1)  # fewer characters than the limit


@pytest.mark.parametrize(
    ("action", "fields", "field", "reason"),
    [
        ("offer", {"call_type": "phone"}, "call_type", "choice"),
        ("offer", {"call_type": None}, "call_type", "choice"),
        ("offer", {"sdp": 42}, "sdp", "invalid"),
        ("offer", {"sdp": ""}, "sdp", "invalid"),
        ("offer", {"sdp": TOO_LONG}, "sdp", "too_long"),
        ("offer", {"sdp": TOO_LONG_IN_BYTES}, "sdp", "too_long"),
        ("offer", {"ice_candidates": TOO_MANY}, "ice_candidates", "too_many"),
        ("offer", {"ice_candidates": "candidate"}, "ice_candidates", "invalid"),
        ("offer", {"ice_candidates": [1]}, "ice_candidates", "invalid"),
        ("answer", {"sdp": None}, "sdp", "invalid"),
        ("answer", {"sdp": TOO_LONG}, "sdp", "too_long"),
        ("answer", {"ice_candidates": TOO_MANY}, "ice_candidates", "too_many"),
        ("answer", {"call_id": 7}, "call_id", "invalid"),
        ("ice", {"ice_candidate": "candidate:1 1 UDP 1 127.0.0.1 1 typ host"}, "ice_candidate", "invalid"),
        ("ice", {"ice_candidate": [CANDIDATE]}, "ice_candidate", "invalid"),
        ("ice", {"ice_candidate": None}, "ice_candidate", "invalid"),
        ("end", {"reason": "Hang up!"}, "reason", "invalid"),
        ("end", {"reason": ""}, "reason", "invalid"),
        ("end", {"reason": "x" * 33}, "reason", "invalid"),
        ("end", {"reason": "timeout"}, "reason", "invalid"),  # the server's own reasons are not a client's
        ("end", {"reason": "answered_elsewhere"}, "reason", "invalid"),
        ("end", {"reason": 3}, "reason", "invalid"),
    ],
)
def test_validation(action, fields, field, reason, place, alice, bob, inbox, refusal):
    call = place("ringing")
    actor, service, base = {
        "offer": (alice, services.call_offer, {"to_user": bob.pk, "call_type": "audio", "sdp": SDP}),
        "answer": (bob, services.call_answer, {"call_id": call.call_id, "sdp": ANSWER_SDP}),
        "ice": (alice, services.call_ice, {"call_id": call.call_id, "ice_candidate": CANDIDATE}),
        "end": (bob, services.call_end, {"call_id": call.call_id, "reason": "rejected"}),
    }[action]
    got = refusal(service, actor=actor, **(base | fields))
    assert got == ("VALIDATION_ERROR", {"field": field, "reason": reason})
    assert (Call.objects.count(), row(call).state) == (1, "ringing")
    assert heard(inbox, alice, bob) == [[], []]


ACTIONS = {
    "answer": (services.call_answer, {"sdp": ANSWER_SDP}),
    "ice": (services.call_ice, {"ice_candidate": CANDIDATE}),
    "end": (services.call_end, {"reason": "rejected"}),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("state", ["ringing", "active", "ended"])
@pytest.mark.parametrize("who", ["stranger", "unknown_call"])
def test_anyone_not_in_the_call_gets_not_found_and_nobody_hears(
    action, state, who, place, alice, bob, carol, inbox, refusal
):
    call = place(state)
    before = Call.objects.values().get(pk=call.pk)
    actor, call_id = (carol, call.call_id) if who == "stranger" else (alice, "call_" + "0" * 24)
    service, fields = ACTIONS[action]
    assert refusal(service, actor=actor, call_id=call_id, channel="c1", **fields) == ("NOT_FOUND", {})
    assert Call.objects.values().get(pk=call.pk) == before
    assert heard(inbox, alice, bob, carol) == [[], [], []]


@pytest.mark.parametrize("action", list(ACTIONS))
def test_nothing_but_history_is_left_of_an_ended_call(action, place, alice, bob, inbox, refusal):
    call = place("ended")
    service, fields = ACTIONS[action]
    got = refusal(service, actor=bob, call_id=call.call_id, channel=B1, **fields)
    assert got == ("CONFLICT", {"reason": "ended", "state": "ended"})
    assert heard(inbox, alice, bob) == [[], []]


def test_leaving_keeps_an_earlier_loss_and_leaves_ended_calls_alone(place, alice, bob, act):
    """call_party_left is one statement for both roles (imsuite.sql): each call only where the
    user is that party, only while the call is live, and never over an earlier stamp."""
    ended, live = place("ended"), place("active")
    first, later = timezone.now(), timezone.now() + timedelta(seconds=3)
    act(services.call_party_left, user=bob, now=first)
    act(services.call_party_left, user=bob, now=later)
    act(services.call_party_left, user=alice, now=later)
    assert (row(live).caller_lost_at, row(live).callee_lost_at) == (later, first)
    assert (row(ended).caller_lost_at, row(ended).callee_lost_at) == (None, None)


def test_both_parties_leaving_together_are_each_stamped_in_one_statement(place, alice, bob, act):
    """Connections closing together (chats.connection_queues): call_parties_left marks each user
    where they are a party, with the one moment, and leaves an earlier stamp alone."""
    ended, live = place("ended"), place("active")
    first, later = timezone.now(), timezone.now() + timedelta(seconds=3)
    act(services.call_party_left, user=bob, now=first)
    act(services.call_parties_left, users=[alice, bob], now=later)
    assert (row(live).caller_lost_at, row(live).callee_lost_at) == (later, first)
    assert (row(ended).caller_lost_at, row(ended).callee_lost_at) == (None, None)
