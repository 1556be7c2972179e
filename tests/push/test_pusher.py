"""The pusher's rules, against a real HTTP endpoint on loopback through the real UnifiedPush sender:
who gets a push (not a connected person, not a muted chat, only mentions for mentions-only, never
the sender or a bot), coalescing with a count, 404/410 removing the device, backoff and retry of the
latest payload, previews, and a slow endpoint delaying nobody. Time is the `now` each tick is given."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from accounts.blocking import block_create
from accounts.presence import registry
from accounts.services import bot_create, friendship_create
from chats.models import ChatMember, Message
from chats.services import message_delete, message_send, private_chat_ensure
from groups.services import group_create
from push.models import PushState, PushSubscription
from push.pusher import Pusher
from tests.push.endpoint import Endpoint

pytestmark = pytest.mark.django_db
LATER = timedelta(seconds=6)  # past the coalescing window (5 s)


def tick(pusher: Pusher, endpoint: Endpoint, now=None) -> list[dict]:
    """One round at `now`; the payloads that reached the endpoint from it."""
    before = len(endpoint.requests)
    pusher.tick(now)
    pusher.drain(10, now)
    return [r.body for r in endpoint.requests[before:]]


@pytest.fixture
def chat(alice, bob, pusher):
    """Alice's and Bob's private chat; the pusher has begun (it starts from the messages after its
    first round)."""
    pusher.tick()
    return private_chat_ensure(user_a=alice, user_b=bob)


def send(user, chat_id, text="hello", mentions=None) -> Message:
    message, _ = message_send(actor=user, chat_id=chat_id, content=text)
    if mentions is not None:  # the mentions helper's parser fills this on send
        Message.objects.filter(pk=message.pk).update(mentions=mentions)
    return message


def pushed(message: Message, title: str, sender: str, **fields) -> dict:
    return {
        "type": "message",
        "chat_id": message.chat_id,
        "chat_title": title,
        "sender_name": sender,
        "text": message.content,
        "count": 1,
        "message_id": message.pk,
        "mentioned": False,
        **fields,
    }


def test_a_person_not_connected_gets_the_message_and_the_sender_nothing(
    alice, bob, chat, pusher, endpoint, subscribe
):
    subscribe(bob, "/bob")
    subscribe(alice, "/alice")
    message = send(alice, chat.pk)
    assert tick(pusher, endpoint) == [pushed(message, "Alice", "Alice")]
    (request,) = endpoint.requests
    assert request.path == "/bob"
    assert (request.headers["content-type"], request.headers["ttl"], request.headers["urgency"]) == (
        "application/json",
        "86400",
        "normal",
    )
    subscription = PushSubscription.objects.get(user=bob)
    assert (subscription.failures, subscription.last_error) == (0, "")
    assert subscription.last_success_at is not None


def test_the_first_round_starts_from_now(alice, bob, endpoint, subscribe):
    chat = private_chat_ensure(user_a=alice, user_b=bob)
    subscribe(bob, "/bob")
    send(alice, chat.pk, "before the pusher ran")
    pusher = Pusher()
    assert tick(pusher, endpoint) == []
    message = send(alice, chat.pk, "after")
    assert tick(pusher, endpoint) == [pushed(message, "Alice", "Alice")]
    assert PushState.objects.get().seq == message.created_seq


def test_a_connected_person_gets_none(alice, bob, chat, pusher, endpoint, subscribe):
    subscribe(bob, "/bob")
    registry().renew(bob.pk, "test-connection")
    try:
        send(alice, chat.pk)
        assert tick(pusher, endpoint) == []
    finally:
        registry().drop(bob.pk, "test-connection")
    message = send(alice, chat.pk, "while away")
    assert tick(pusher, endpoint) == [pushed(message, "Alice", "Alice")]


def test_a_muted_chat_gets_none_until_the_mute_ends(alice, bob, chat, pusher, endpoint, subscribe):
    subscribe(bob, "/bob")
    until = timezone.now() + timedelta(hours=1)
    ChatMember.objects.filter(chat=chat, user=bob).update(notify="muted", notify_until=until)
    send(alice, chat.pk, "@bob hi", mentions=[bob.pk])
    assert tick(pusher, endpoint) == []
    message = send(alice, chat.pk, "an hour later")
    assert tick(pusher, endpoint, until) == [pushed(message, "Alice", "Alice")]  # an until past: all


def test_a_blocked_persons_messages_push_nothing_to_the_blocker(
    alice, bob, carol, pusher, endpoint, subscribe
):
    """In a group they share, Bob's message pushes to Carol, never to Alice, who blocked him."""
    friendship_create(user_a=alice, user_b=bob)
    friendship_create(user_a=alice, user_b=carol)
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])
    block_create(actor=alice, user_id=bob.pk)
    pusher.tick()
    subscribe(alice, "/alice")
    subscribe(carol, "/carol")
    message = send(bob, group.pk, "@all lunch", mentions=["all"])
    assert tick(pusher, endpoint) == [pushed(message, "Team", "Bob", mentioned=True)]
    assert [r.path for r in endpoint.requests] == ["/carol"]


def test_mentions_only_gets_only_mentions(alice, bob, carol, pusher, endpoint, subscribe):
    friendship_create(user_a=alice, user_b=bob)
    friendship_create(user_a=alice, user_b=carol)
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])
    pusher.tick()
    subscribe(bob, "/bob")
    ChatMember.objects.filter(chat_id=group.pk, user=bob).update(notify="mentions")
    send(alice, group.pk, "no one in particular", mentions=None)
    send(alice, group.pk, "@carol look", mentions=[carol.pk])
    assert tick(pusher, endpoint) == []
    mention = send(alice, group.pk, "@bob look", mentions=[bob.pk])
    assert tick(pusher, endpoint, timezone.now() + LATER) == [
        pushed(mention, "Team", "Alice", mentioned=True)
    ]
    assert endpoint.requests[-1].headers["urgency"] == "high"
    everyone = send(carol, group.pk, "@all lunch", mentions=["all"])
    later = timezone.now() + 2 * LATER
    assert tick(pusher, endpoint, later) == [pushed(everyone, "Team", "Carol", mentioned=True)]


def test_bots_and_recalled_messages_get_no_push(alice, bob, pusher, endpoint, subscribe):
    bot, _ = bot_create(actor=alice, username="alicebot")
    friendship_create(user_a=alice, user_b=bob)
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk, bot.pk])
    pusher.tick()
    subscribe(bob, "/bob")
    PushSubscription.objects.create(user=bot, kind="unifiedpush", endpoint=endpoint.url("/bot"))
    recalled = send(alice, group.pk, "oops")
    message_delete(actor=alice, message_id=recalled.pk)
    assert tick(pusher, endpoint) == []
    message = send(alice, group.pk, "hello all")
    assert tick(pusher, endpoint) == [pushed(message, "Team", "Alice")]
    assert endpoint.to("/bot") == []


def test_a_burst_is_one_push_with_its_count(alice, bob, chat, pusher, endpoint, subscribe):
    subscribe(bob, "/bob")
    first = [send(alice, chat.pk, f"burst {i}") for i in range(3)]
    start = timezone.now()
    assert tick(pusher, endpoint, start) == [pushed(first[-1], "Alice", "Alice", count=3)]
    second = [send(alice, chat.pk, f"more {i}") for i in range(2)]
    assert tick(pusher, endpoint, start + timedelta(seconds=1)) == []  # within the window
    assert tick(pusher, endpoint, start + timedelta(seconds=4.9)) == []
    after = tick(pusher, endpoint, start + timedelta(seconds=5))
    assert after == [pushed(second[-1], "Alice", "Alice", count=2)]


@pytest.mark.parametrize("status", [404, 410])
def test_an_endpoint_that_is_gone_is_removed(alice, bob, chat, pusher, endpoint, subscribe, status):
    kept = subscribe(bob, "/kept")
    subscribe(bob, "/gone")
    endpoint.statuses["/gone"] = status
    send(alice, chat.pk)
    assert len(tick(pusher, endpoint)) == 2
    assert list(PushSubscription.objects.filter(user=bob)) == [kept]


def test_a_failing_endpoint_backs_off_and_gets_the_latest_payload_later(
    alice, bob, chat, pusher, endpoint, subscribe
):
    subscribe(bob, "/bob")
    endpoint.statuses["/bob"] = 500
    start = timezone.now()
    send(alice, chat.pk, "first")
    assert len(tick(pusher, endpoint, start)) == 1
    failing = PushSubscription.objects.get(user=bob)
    assert (failing.failures, failing.last_error, failing.retry_at) == (
        1,
        "HTTP 500",
        start + timedelta(seconds=30),
    )
    latest = send(alice, chat.pk, "second")
    assert tick(pusher, endpoint, start + LATER) == []  # backing off: kept for the retry
    endpoint.statuses["/bob"] = 200
    assert tick(pusher, endpoint, start + timedelta(seconds=29)) == []
    assert tick(pusher, endpoint, start + timedelta(seconds=30)) == [pushed(latest, "Alice", "Alice")]
    recovered = PushSubscription.objects.get(user=bob)
    assert (recovered.failures, recovered.retry_at, recovered.retry_payload, recovered.last_error) == (
        0,
        None,
        None,
        "",
    )


def test_backoff_doubles_up_to_the_cap(alice, bob, chat, pusher, endpoint, subscribe, settings):
    settings.IMSUITE = {**settings.IMSUITE, "PUSH_BACKOFF_MAX_SECONDS": 100}
    subscribe(bob, "/bob")
    endpoint.statuses["/bob"] = 503
    send(alice, chat.pk)
    now = timezone.now()
    waits = []
    for _ in range(4):
        tick(pusher, endpoint, now)
        retry_at = PushSubscription.objects.get(user=bob).retry_at
        waits.append((retry_at - now).total_seconds())
        now = retry_at
    assert waits == [30, 60, 100, 100]


@pytest.mark.parametrize("setting", [True, False])
def test_previews_off_leaves_the_text_out(alice, bob, chat, pusher, endpoint, subscribe, settings, setting):
    settings.IMSUITE = {**settings.IMSUITE, "PUSH_PREVIEWS": setting}
    subscribe(bob, "/private", previews=False)
    subscribe(bob, "/shown")
    message = send(alice, chat.pk, "a secret")
    tick(pusher, endpoint)
    without = pushed(message, "Alice", "Alice")
    del without["text"]
    assert [r.body for r in endpoint.to("/private")] == [without]
    assert [r.body for r in endpoint.to("/shown")] == [
        pushed(message, "Alice", "Alice") if setting else without
    ]


def test_a_slow_endpoint_delays_no_one_else(alice, bob, carol, pusher, endpoint, subscribe):
    pusher.tick()
    to_bob = private_chat_ensure(user_a=alice, user_b=bob)
    to_carol = private_chat_ensure(user_a=alice, user_b=carol)
    subscribe(bob, "/slow")
    subscribe(carol, "/fast")
    endpoint.delays["/slow"] = 3
    send(alice, to_bob.pk, "to bob")
    send(alice, to_carol.pk, "to carol")
    started = time.monotonic()
    pusher.tick()
    assert time.monotonic() - started < 1
    fast = endpoint.wait_for(2, timeout=2)
    assert {r.path for r in fast} == {"/slow", "/fast"}
    assert max(r.at for r in fast) - started < 1  # Carol's push did not wait for Bob's endpoint
    started = time.monotonic()
    pusher.tick()  # the next round does not wait either
    assert time.monotonic() - started < 1
    assert PushSubscription.objects.get(user=bob).last_success_at is None  # still answering


@pytest.mark.django_db(transaction=True)
def test_a_slow_endpoint_does_not_delay_a_message(alice, bob, endpoint, subscribe, inbox):
    """Messages go through the normal service while the pusher runs in a thread of its own."""
    chat = private_chat_ensure(user_a=alice, user_b=bob)
    subscribe(bob, "/slow")
    endpoint.delays["/slow"] = 3
    pusher, stop = Pusher(), threading.Event()
    pusher.tick()

    def run() -> None:
        try:
            while not stop.is_set():
                pusher.tick()
                stop.wait(0.05)  # the tick period
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        inbox.listen(bob)
        send(alice, chat.pk, "first")
        (slow,) = endpoint.wait_for(1, timeout=5)
        started = time.monotonic()
        message = send(alice, chat.pk, "second")
        events = inbox.drain(bob, wait=0.5)
        assert time.monotonic() - started < 1.5
        assert [e["data"]["message"]["id"] for e in events if e["event"] == "message.new"][-1] == message.pk
        assert time.monotonic() - slow.at < 3  # the slow endpoint had not answered yet
    finally:
        stop.set()
        thread.join(timeout=10)
        pusher.drain(10)
