"""Blocking (issue 21, point 2): the authorization matrix of block and unblock, every operation a
block refuses (both directions, over REST and the services), with the whole database unchanged
after each refusal, and the block's other effects (friend requests, presence, mentions, push)."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache

from accounts import blocking, services
from accounts.models import Block, FriendRequest, Friendship, User
from calls import services as call_services
from chats import services as chat_services
from chats.models import Chat, ChatMember, Message
from groups.services import group_create
from imsuite.errors import DomainError
from tests.accounts.test_api import assert_error, check
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@pytest.fixture
def w(make_user: Callable[..., User]) -> SimpleNamespace:
    """Alice blocked Bob (friends, with their private chat); Carol is Alice's friend, unblocked;
    Erin is a stranger to everyone; Dave is deactivated (a banned person); Bob owns a bot; the
    moderator is staff. Alice, Bob and Carol share a group."""
    people = {name: make_user(name, nickname=name.title()) for name in ("alice", "bob", "carol", "erin")}
    world = SimpleNamespace(**people)
    world.dave, world.moderator = make_user("dave"), make_user("mod")
    User.objects.filter(pk=world.dave.pk).update(is_active=False)
    User.objects.filter(pk=world.moderator.pk).update(is_staff=True, is_superuser=True)
    world.dave.refresh_from_db()
    world.moderator.refresh_from_db()
    world.bot, _ = services.bot_create(actor=world.bob, username="bobsbot")
    for friend in (world.bob, world.carol):
        services.friendship_create(user_a=world.alice, user_b=friend)
    world.group = group_create(actor=world.alice, name="Team", member_ids=[world.bob.pk, world.carol.pk])
    Block.objects.create(blocker=world.alice, blocked=world.bob)
    world.pair = private_chat(world.alice, world.bob)
    return world


def private_chat(a: User, b: User) -> Chat:
    low, high = sorted((a.pk, b.pk))
    return Chat.objects.get(private_key=f"{low}:{high}")


def blocks() -> set[tuple[int, int]]:
    return set(Block.objects.values_list("blocker_id", "blocked_id"))


# ---- block / unblock: every kind of actor ------------------------------------------------------


# (actor, target, answer): a number is the REST status of a success; a word the details.reason of a
# 403 PERMISSION_DENIED; 404 NOT_FOUND; 401 no (or no longer a valid) sign-in.
BLOCK_MATRIX = [
    ("anonymous", "erin", 401),
    ("carol", "erin", 201),  # a stranger to the target
    ("alice", "carol", 201),  # a friend
    ("alice", "bob", 200),  # already blocked: idempotent
    ("bob", "alice", 201),  # the blocked person may block back
    ("moderator", "erin", 201),
    ("alice", "bot", 201),  # a bot may be blocked
    ("bot", "erin", "bot"),  # a bot may not block
    ("dave", "erin", 401),  # banned (deactivated): the token no longer counts
    ("alice", "alice", "self"),
    ("alice", "dave", 404),  # deactivated people are not found
    ("alice", None, 404),  # nobody
]


def _client(client_for: Callable[[User], Any], api: Any, user: User | None) -> Any:
    return api if user is None else client_for(user)


@pytest.mark.parametrize(("actor", "target", "answer"), BLOCK_MATRIX)
def test_block_matrix(w, api, client_for, actor, target, answer):
    user = None if actor == "anonymous" else getattr(w, actor)
    target_id = getattr(w, target).pk if target else 999_999
    client = _client(client_for, api, user) if user is None or not user.is_bot else None
    before, rows = whole_database(), blocks()
    if client is None:  # bots have no REST token: the service is their door
        with pytest.raises(DomainError) as refused:
            blocking.block_create(actor=user, user_id=target_id)
        assert (refused.value.code, refused.value.details) == ("PERMISSION_DENIED", {"reason": answer})
        assert_unchanged(before)
        return
    response = client.post("/api/users/blocks", {"user_id": target_id}, format="json")
    if answer in (200, 201):
        body = check(response, answer)
        blocked = getattr(w, target)
        assert body == {
            "user_id": blocked.pk,
            "user": {"id": blocked.pk, "nickname": blocked.display_name, "avatar_url": ""},
            "created_at": body["created_at"],
        }
        assert blocks() == rows | {(user.pk, blocked.pk)}
        if answer == 200:
            assert_unchanged(before)
    else:
        if answer == 401:
            assert check(response, 401)["error_code"] == "AUTHENTICATION_FAILED"
        elif answer == 404:
            assert_error(response, 404, "NOT_FOUND")
        else:
            assert_error(response, 403, "PERMISSION_DENIED", reason=answer)
        assert_unchanged(before)


UNBLOCK_MATRIX = [
    ("anonymous", "bob", 401),
    ("alice", "bob", 204),  # the blocker
    ("bob", "alice", 404),  # the blocked person cannot lift it (there is no block of theirs)
    ("carol", "bob", 404),  # someone else
    ("moderator", "bob", 404),  # a moderator has no block of their own to lift here
    ("dave", "bob", 401),
]


@pytest.mark.parametrize(("actor", "target", "answer"), UNBLOCK_MATRIX)
def test_unblock_matrix(w, api, client_for, actor, target, answer):
    user = None if actor == "anonymous" else getattr(w, actor)
    client = _client(client_for, api, user)
    before = whole_database()
    response = client.delete(f"/api/users/blocks/{getattr(w, target).pk}")
    if answer == 204:
        check(response, 204)
        assert blocks() == set()
        return
    if answer == 401:
        assert check(response, 401)["error_code"] == "AUTHENTICATION_FAILED"
    else:
        assert_error(response, 404, "NOT_FOUND")
    assert_unchanged(before)


def test_unblock_as_a_bot_is_not_found(w):
    before = whole_database()
    with pytest.raises(DomainError) as refused:
        blocking.block_remove(actor=w.bot, user_id=w.bob.pk)
    assert refused.value.code == "NOT_FOUND"
    assert_unchanged(before)


def test_block_list_is_the_actors_own_newest_first(w, client_for):
    check(client_for(w.alice).post("/api/users/blocks", {"user_id": w.erin.pk}, format="json"), 201)
    listed = check(client_for(w.alice).get("/api/users/blocks"), 200)
    assert [row["user_id"] for row in listed] == [w.erin.pk, w.bob.pk]
    assert check(client_for(w.bob).get("/api/users/blocks"), 200) == []


# ---- what a block refuses: both directions, the database unchanged ------------------------------


REFUSED = {
    "private chat start": lambda w, a, b: (
        lambda client: client.post("/api/chats/private", {"user_id": b.pk}, format="json")
    ),
    "private send": lambda w, a, b: (
        lambda client: client.post(f"/api/chats/{w.pair.pk}/messages", {"content": "hi"}, format="json")
    ),
    "friend request": lambda w, a, b: (
        lambda client: client.post("/api/friends/requests", {"user_id": b.pk}, format="json")
    ),
}


@pytest.mark.parametrize("operation", sorted(REFUSED))
@pytest.mark.parametrize("direction", ["blocked person", "blocker"])
def test_a_block_refuses_over_rest(w, client_for, operation, direction):
    a, b = (w.bob, w.alice) if direction == "blocked person" else (w.alice, w.bob)
    if operation == "friend request":  # between friends the answer would be "already friends"
        services.friend_remove(actor=w.alice, user_id=w.bob.pk)
    client = client_for(a)
    before = whole_database()
    response = REFUSED[operation](w, a, b)(client)
    assert_error(response, 403, "PERMISSION_DENIED", reason="blocked")
    assert_unchanged(before)


@pytest.mark.parametrize("direction", ["blocked person", "blocker"])
def test_a_block_refuses_a_call(w, direction, settings):
    a, b = (w.bob, w.alice) if direction == "blocked person" else (w.alice, w.bob)
    before = whole_database()
    with pytest.raises(DomainError) as refused:
        call_services.call_offer(actor=a, to_user=b.pk, call_type="audio", sdp=SDP)
    assert (refused.value.code, refused.value.details) == ("PERMISSION_DENIED", {"reason": "blocked"})
    assert_unchanged(before)


def test_a_blocked_bot_cannot_write_privately_to_the_blocker(w):
    """A bot's sends go through the same service (its protocol's send action calls it)."""
    services.friendship_create(user_a=w.carol, user_b=w.bot)
    blocking.block_create(actor=w.carol, user_id=w.bot.pk)
    before = whole_database()
    with pytest.raises(DomainError) as refused:
        chat_services.message_send(actor=w.bot, chat_id=private_chat(w.carol, w.bot).pk, content="buy now")
    assert (refused.value.code, refused.value.details) == ("PERMISSION_DENIED", {"reason": "blocked"})
    assert_unchanged(before)


def test_after_unblocking_everything_works_again(w, client_for):
    check(client_for(w.alice).delete(f"/api/users/blocks/{w.bob.pk}"), 204)
    check(client_for(w.bob).post(f"/api/chats/{w.pair.pk}/messages", {"content": "hi"}, format="json"), 201)
    check(client_for(w.alice).post(f"/api/chats/{w.pair.pk}/messages", {"content": "hi"}, format="json"), 201)
    check(client_for(w.bob).post("/api/chats/private", {"user_id": w.alice.pk}, format="json"), 200)


def test_others_are_not_refused(w, client_for):
    """Carol (Alice's unblocked friend) and Bob's bot (its own account) still reach Alice; Bob
    still writes in the group they share."""
    check(client_for(w.carol).post("/api/chats/private", {"user_id": w.alice.pk}, format="json"), 200)
    chat_services.message_send(actor=w.bot, chat_id=private_chat(w.bot, w.bob).pk, content="beep")
    check(client_for(w.bob).post(f"/api/chats/{w.group.pk}/messages", {"content": "hi"}, format="json"), 201)


# ---- the block's other effects ---------------------------------------------------------------------


def test_blocking_cancels_pending_friend_requests_both_ways_and_keeps_friendships(w):
    services.friend_request_send(actor=w.erin, user_id=w.carol.pk)
    before_friends = set(Friendship.objects.values_list("user_id", "friend_id"))
    blocking.block_create(actor=w.carol, user_id=w.erin.pk)
    assert list(FriendRequest.objects.values_list("from_user_id", "to_user_id", "status")) == [
        (w.erin.pk, w.carol.pk, "cancelled")
    ]
    blocking.block_create(actor=w.alice, user_id=w.carol.pk)  # friends: the friendship stays
    assert set(Friendship.objects.values_list("user_id", "friend_id")) == before_friends


def test_presence_audience_leaves_out_whom_the_user_blocked(w):
    assert services.presence_audience(w.alice.pk) == {w.carol.pk}
    assert services.presence_audience(w.alice.pk, include_blocked=True) == {w.bob.pk, w.carol.pk}
    assert services.presence_audience(w.bob.pk) == {w.alice.pk, w.bot.pk}  # Bob blocked nobody


def test_rest_profiles_show_no_presence_of_a_blocker(w, client_for, settings):
    cache.clear()
    services.connection_opened(actor=w.alice, connection="c1")
    seen_by = {
        viewer: check(client_for(viewer).get(f"/api/users/{w.alice.pk}"), 200) for viewer in (w.bob, w.carol)
    }
    assert (seen_by[w.carol]["is_online"], seen_by[w.carol]["last_seen"] is not None) == (True, True)
    assert (seen_by[w.bob]["is_online"], seen_by[w.bob]["last_seen"]) == (False, None)
    friends = check(client_for(w.bob).get("/api/friends"), 200)
    assert [(f["id"], f["is_online"], f["last_seen"]) for f in friends] == [
        (w.alice.pk, False, None),
        (w.bot.pk, False, None),
    ]
    services.connection_closed(actor=w.alice, connection="c1")


def test_a_blocked_persons_mention_does_not_count_for_the_blocker(w):
    chat_services.message_send(actor=w.bob, chat_id=w.group.pk, content="@Alice @Carol look")
    counts = dict(ChatMember.objects.filter(chat_id=w.group.pk).values_list("user_id", "unread_mentions"))
    assert counts == {w.alice.pk: 0, w.bob.pk: 0, w.carol.pk: 1}
    assert Message.objects.filter(chat_id=w.group.pk).count() == 1  # visible to everyone


def test_admin_shows_a_persons_blocks_read_only(w, client):
    client.force_login(w.moderator)
    page = client.get(f"/admin/accounts/user/{w.alice.pk}/change/").content.decode()
    block = Block.objects.get()
    assert f"bob (since {block.created_at:%Y-%m-%d %H:%M})" in page
    assert 'name="blocked_people"' not in page  # shown, not a field to edit
    assert "bob (since" not in client.get(f"/admin/accounts/user/{w.bob.pk}/change/").content.decode()
