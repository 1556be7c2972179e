"""REST API of friends: requests, answers, the friend list and unfriending, with their real-time events."""

from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import FriendRequest, Friendship, User
from accounts.presence import registry
from chats.models import Chat, ChatMember, Message
from chats.services import message_send
from tests.accounts.test_api import PUBLIC_KEYS, assert_error, check

pytestmark = pytest.mark.django_db

REQUESTS = "/api/friends/requests"


# --- helpers ---------------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """A datetime as the API and events carry it (ISO 8601, UTC as Z)."""
    return value and value.isoformat().replace("+00:00", "Z")


def ref(user: User) -> dict:
    return {"id": user.pk, "nickname": user.nickname, "avatar_url": user.avatar_url}


def request_body(row: FriendRequest) -> dict:
    """The exact API shape of a stored friend request."""
    row.refresh_from_db()
    return {
        "id": row.pk,
        "from_user": ref(row.from_user),
        "to_user": ref(row.to_user),
        "message": row.message,
        "status": row.status,
        "created_at": iso(row.created_at),
        "responded_at": iso(row.responded_at),
    }


def event(name: str, data: dict) -> dict:
    return {"type": "domain.event", "event": name, "data": data}


def ask(client, user_id: Any, **extra: Any):
    return client.post(REQUESTS, {"user_id": user_id, **extra}, format="json")


def answer(client, request_id: int, action: str):
    return client.post(f"{REQUESTS}/{request_id}/{action}")


def friend_pairs() -> set[tuple[int, int]]:
    return set(Friendship.objects.values_list("user_id", "friend_id"))


def both_ways(a: User, b: User) -> set[tuple[int, int]]:
    return {(a.pk, b.pk), (b.pk, a.pk)}


def private_chat(a: User, b: User) -> Chat | None:
    low, high = sorted((a.pk, b.pk))
    return Chat.objects.filter(private_key=f"{low}:{high}").first()


def snapshot() -> tuple[list[dict], set[tuple[int, int]], int]:
    """Every friend-related row, to prove a refusal changed nothing."""
    return list(FriendRequest.objects.order_by("pk").values()), friend_pairs(), Chat.objects.count()


@pytest.fixture
def dave(make_user) -> User:
    return make_user("dave", nickname="Dave")


@pytest.fixture
def online():
    """Marks users online like an open connection does; leases are dropped afterwards."""
    leases: list[int] = []

    def renew(user: User) -> None:
        registry().renew(user.pk, "friends-api-conn")
        leases.append(user.pk)

    yield renew
    for user_id in leases:
        registry().drop(user_id, "friends-api-conn")


# --- asking ----------------------------------------------------------------------------------


def test_request_is_pending_and_announced_to_both(
    alice, bob, carol, client_for, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice, bob, carol)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        body = check(ask(client_for(alice), bob.pk, comment="  hi, it's Alice  "), 201)
    row = FriendRequest.objects.get()
    assert (row.from_user_id, row.to_user_id, row.message, row.status, row.responded_at) == (
        alice.pk,
        bob.pk,
        "hi, it's Alice",
        "pending",
        None,
    )
    assert before <= row.created_at <= timezone.now()
    assert body == {
        "id": row.pk,
        "from_user": {"id": alice.pk, "nickname": "Alice", "avatar_url": ""},
        "to_user": {"id": bob.pk, "nickname": "Bob", "avatar_url": ""},
        "message": "hi, it's Alice",
        "status": "pending",
        "created_at": iso(row.created_at),
        "responded_at": None,
    }
    assert inbox.drain(alice) == [event("friend.request", {"request": body})]
    assert inbox.drain(bob) == [event("friend.request", {"request": body})]
    assert inbox.drain(carol) == []
    assert friend_pairs() == set()


def test_comment_is_optional(alice, bob, client_for):
    body = check(ask(client_for(alice), bob.pk), 201)
    assert (body["message"], body["status"]) == ("", "pending")
    assert FriendRequest.objects.get().message == ""


@pytest.mark.parametrize(
    ("situation", "status", "code", "reason"),
    [
        ("already_requested", 409, "CONFLICT", "already_requested"),
        ("already_friends", 409, "CONFLICT", "already_friends"),
        ("self", 403, "PERMISSION_DENIED", "self"),
        ("unknown", 404, "NOT_FOUND", None),
        ("deactivated", 404, "NOT_FOUND", None),
    ],
)
def test_request_refusals(
    alice, bob, client_for, inbox, django_capture_on_commit_callbacks, situation, status, code, reason
):
    target = {"self": alice.pk, "unknown": 987654}.get(situation, bob.pk)
    if situation == "already_requested":
        services.friend_request_send(actor=alice, user_id=bob.pk)
    elif situation == "already_friends":
        services.friendship_create(user_a=alice, user_b=bob)
    elif situation == "deactivated":
        User.objects.filter(pk=bob.pk).update(is_active=False)
    before = snapshot()
    inbox.listen(alice, bob)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = assert_error(ask(client_for(alice), target), status, code)
    assert body["details"] == ({"reason": reason} if reason else {})
    assert callbacks == []
    assert snapshot() == before
    assert inbox.drain(alice) == inbox.drain(bob) == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "user_id"),
        ({"user_id": "2"}, "user_id"),
        ({"user_id": True}, "user_id"),
        ({"user_id": 0}, "user_id"),
        ({"user_id": None}, "user_id"),
        ({"user_id": ["bob-id"]}, "user_id"),
        ({"user_id": "bob-id", "comment": 5}, "comment"),
        ({"user_id": "bob-id", "comment": "x" * 201}, "comment"),
        ({"user_id": "bob-id", "note": "hi"}, "note"),
    ],
)
def test_request_validation(alice, bob, client_for, data, field):
    data = {key: bob.pk if value == "bob-id" else value for key, value in data.items()}
    body = assert_error(client_for(alice).post(REQUESTS, data, format="json"), 400, "VALIDATION_ERROR")
    assert body["details"]["field"] == field
    assert not FriendRequest.objects.exists()


def test_asking_someone_who_asked_you_makes_friends_at_once(
    alice, bob, client_for, inbox, django_capture_on_commit_callbacks
):
    theirs = services.friend_request_send(actor=bob, user_id=alice.pk, comment="be my friend")
    inbox.listen(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        body = check(ask(client_for(alice), bob.pk, comment="sure"), 201)
    assert FriendRequest.objects.count() == 1
    assert body == request_body(theirs)
    assert (body["id"], body["from_user"]["id"], body["status"]) == (theirs.pk, bob.pk, "accepted")
    assert body["message"] == "be my friend"
    assert body["responded_at"] is not None
    assert friend_pairs() == both_ways(alice, bob)
    assert private_chat(alice, bob) is not None
    updated = event("friend.request_updated", {"request": body})
    assert inbox.drain(alice) == [updated, event("friend.added", {"user_id": bob.pk, "user": ref(bob)})]
    assert inbox.drain(bob) == [updated, event("friend.added", {"user_id": alice.pk, "user": ref(alice)})]


def test_asking_again_after_a_rejection_is_a_new_request(alice, bob, client_for):
    first = services.friend_request_send(actor=alice, user_id=bob.pk)
    services.friend_request_answer(actor=bob, request_id=first.pk, accept=False)
    body = check(ask(client_for(alice), bob.pk, comment="please?"), 201)
    assert body["id"] != first.pk
    assert list(FriendRequest.objects.order_by("pk").values_list("status", "message")) == [
        ("rejected", ""),
        ("pending", "please?"),
    ]


# --- listing requests ------------------------------------------------------------------------


def test_list_shows_pending_sent_and_received_only(alice, bob, carol, dave, make_user, client_for):
    erin, frank = make_user("erin"), make_user("frank")
    received = services.friend_request_send(actor=carol, user_id=alice.pk, comment="hello")
    sent = services.friend_request_send(actor=alice, user_id=bob.pk)
    rejected = services.friend_request_send(actor=dave, user_id=alice.pk)
    services.friend_request_answer(actor=alice, request_id=rejected.pk, accept=False)
    accepted = services.friend_request_send(actor=alice, user_id=erin.pk)
    services.friend_request_answer(actor=erin, request_id=accepted.pk, accept=True)
    services.friend_request_send(actor=frank, user_id=bob.pk)  # not Alice's business
    assert check(client_for(alice).get(REQUESTS), 200) == [request_body(sent), request_body(received)]
    assert check(client_for(carol).get(REQUESTS), 200) == [request_body(received)]
    assert check(client_for(erin).get(REQUESTS), 200) == []


# --- answering -------------------------------------------------------------------------------


def test_accept_makes_friends_with_a_private_chat(
    alice, bob, carol, client_for, inbox, django_capture_on_commit_callbacks
):
    pending = services.friend_request_send(actor=alice, user_id=bob.pk, comment="hi")
    inbox.listen(alice, bob, carol)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        body = check(answer(client_for(bob), pending.pk, "accept"), 200)
    assert body == request_body(pending)
    assert body["status"] == "accepted"
    assert before <= datetime.fromisoformat(body["responded_at"]) <= timezone.now()
    assert friend_pairs() == both_ways(alice, bob)
    chat = private_chat(alice, bob)
    assert chat.type == "private"
    assert set(ChatMember.objects.filter(chat=chat).values_list("user_id", flat=True)) == {alice.pk, bob.pk}
    updated = event("friend.request_updated", {"request": body})
    assert inbox.drain(alice) == [updated, event("friend.added", {"user_id": bob.pk, "user": ref(bob)})]
    assert inbox.drain(bob) == [updated, event("friend.added", {"user_id": alice.pk, "user": ref(alice)})]
    assert inbox.drain(carol) == []


def test_reject_makes_no_friends(alice, bob, client_for, inbox, django_capture_on_commit_callbacks):
    pending = services.friend_request_send(actor=alice, user_id=bob.pk)
    inbox.listen(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        body = check(answer(client_for(bob), pending.pk, "reject"), 200)
    assert body == request_body(pending)
    assert (body["status"], body["responded_at"] is not None) == ("rejected", True)
    assert friend_pairs() == set()
    assert private_chat(alice, bob) is None
    assert inbox.drain(alice) == inbox.drain(bob) == [event("friend.request_updated", {"request": body})]


@pytest.mark.parametrize("action", ["accept", "reject"])
@pytest.mark.parametrize("who", ["alice", "carol", "unknown"])
def test_only_the_recipient_answers(
    request, alice, bob, carol, client_for, django_capture_on_commit_callbacks, action, who
):
    pending = services.friend_request_send(actor=alice, user_id=bob.pk)
    actor, request_id = (bob, 987654) if who == "unknown" else (request.getfixturevalue(who), pending.pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = assert_error(answer(client_for(actor), request_id, action), 404, "NOT_FOUND")
    assert body["details"] == {}
    assert callbacks == []
    assert request_body(pending)["status"] == "pending"
    assert friend_pairs() == set()


@pytest.mark.parametrize("first", ["accept", "reject"])
@pytest.mark.parametrize("second", ["accept", "reject"])
def test_answering_twice_conflicts(alice, bob, client_for, django_capture_on_commit_callbacks, first, second):
    pending = services.friend_request_send(actor=alice, user_id=bob.pk)
    check(answer(client_for(bob), pending.pk, first), 200)
    done = request_body(pending)
    pairs = friend_pairs()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = assert_error(answer(client_for(bob), pending.pk, second), 409, "CONFLICT")
    status = {"accept": "accepted", "reject": "rejected"}[first]
    assert body["details"] == {"reason": status}
    assert callbacks == []
    assert request_body(pending) == done
    assert friend_pairs() == pairs


# --- friends ---------------------------------------------------------------------------------


def test_friend_list_with_presence(alice, bob, carol, dave, client_for, online):
    for friend in (carol, bob):
        services.friendship_create(user_a=alice, user_b=friend)
    services.friendship_create(user_a=bob, user_b=dave)
    online(bob)
    online(dave)
    body = check(client_for(alice).get("/api/friends"), 200)
    assert [list(item) for item in body] == [PUBLIC_KEYS, PUBLIC_KEYS]
    assert [(f["id"], f["username"], f["nickname"], f["is_online"]) for f in body] == [
        (bob.pk, "bob", "Bob", True),
        (carol.pk, "carol", "Carol", False),
    ]
    assert [f["id"] for f in check(client_for(dave).get("/api/friends"), 200)] == [bob.pk]
    assert [f["id"] for f in check(client_for(carol).get("/api/friends"), 200)] == [alice.pk]


def test_friend_list_is_empty_for_someone_without_friends(alice, bob, client_for):
    services.friend_request_send(actor=alice, user_id=bob.pk)  # pending is not friends
    assert check(client_for(alice).get("/api/friends"), 200) == []


def test_unfriend_removes_both_rows_and_keeps_the_chat(
    alice, bob, carol, client_for, inbox, django_capture_on_commit_callbacks
):
    services.friendship_create(user_a=alice, user_b=bob)
    services.friendship_create(user_a=alice, user_b=carol)
    chat = private_chat(alice, bob)
    said, _ = message_send(actor=bob, chat_id=chat.pk, content="see you")
    inbox.listen(alice, bob, carol)
    with django_capture_on_commit_callbacks(execute=True):
        assert check(client_for(alice).delete(f"/api/friends/{bob.pk}"), 204) is None
    assert friend_pairs() == both_ways(alice, carol)
    assert Chat.objects.filter(pk=chat.pk).exists()
    assert ChatMember.objects.filter(chat=chat).count() == 2
    assert list(Message.objects.filter(chat=chat).values_list("pk", "content")) == [(said.pk, "see you")]
    assert inbox.drain(alice) == [event("friend.removed", {"user_id": bob.pk})]
    assert inbox.drain(bob) == [event("friend.removed", {"user_id": alice.pk})]
    assert inbox.drain(carol) == []
    assert [f["id"] for f in check(client_for(alice).get("/api/friends"), 200)] == [carol.pk]


@pytest.mark.parametrize("target", ["stranger", "pending", "self", "unknown", "removed"])
def test_unfriend_someone_who_is_not_a_friend(
    alice, bob, carol, client_for, django_capture_on_commit_callbacks, target
):
    services.friendship_create(user_a=bob, user_b=carol)
    if target == "pending":
        services.friend_request_send(actor=alice, user_id=carol.pk)
    if target == "removed":
        services.friendship_create(user_a=alice, user_b=carol)
        services.friend_remove(actor=carol, user_id=alice.pk)
    user_id = {"self": alice.pk, "unknown": 987654}.get(target, carol.pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = assert_error(client_for(alice).delete(f"/api/friends/{user_id}"), 404, "NOT_FOUND")
    assert body["details"] == {}
    assert callbacks == []
    assert friend_pairs() == both_ways(bob, carol)


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", REQUESTS),
        ("post", REQUESTS),
        ("post", f"{REQUESTS}/1/accept"),
        ("post", f"{REQUESTS}/1/reject"),
        ("get", "/api/friends"),
        ("delete", "/api/friends/1"),
    ],
)
def test_friend_endpoints_need_a_signed_in_user(api, alice, method, url):
    assert_error(getattr(api, method)(url), 401, "AUTHENTICATION_FAILED")
