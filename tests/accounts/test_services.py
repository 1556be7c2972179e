"""accounts.services called directly: who may do what, what it changes, and what it announces."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Permission
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from accounts.models import BotToken, Friendship, RevokedSession, User
from accounts.sessions import new_refresh_token
from chats.models import Chat
from imsuite.errors import DomainError, ErrorCode
from imsuite.models import AuditEntry
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def refused(code: str, call, **kwargs) -> dict:
    """Run a service that must refuse with this code; its details."""
    with pytest.raises(DomainError) as info:
        call(**kwargs)
    assert info.value.code == code
    return info.value.details


def ref(user) -> dict:
    return {"id": user.pk, "nickname": user.nickname, "avatar_url": user.avatar_url}


def event(name: str, **data) -> dict:
    return {"type": "domain.event", "event": name, "data": data}


def blacklisted(token: RefreshToken) -> bool:
    return BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()


def active(*users: User) -> list[bool]:
    return [User.objects.get(pk=user.pk).is_active for user in users]


# --- user_set_active -------------------------------------------------------------------------


def test_set_active_requires_a_moderator(alice, bob):
    details = refused(
        ErrorCode.PERMISSION_DENIED, services.user_set_active, actor=alice, user_id=bob.pk, active=False
    )
    assert details == {"reason": "not_moderator"}
    assert active(bob) == [True]


def test_staff_without_the_permission_is_no_moderator(make_user, bob):
    staff = make_user("staff")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    staff.refresh_from_db()
    refused(ErrorCode.PERMISSION_DENIED, services.user_set_active, actor=staff, user_id=bob.pk, active=False)
    staff.user_permissions.add(
        Permission.objects.get(codename="change_user", content_type__app_label="accounts")
    )
    staff = User.objects.get(pk=staff.pk)  # a fresh object: permissions are cached per instance
    assert services.user_set_active(actor=staff, user_id=bob.pk, active=False).is_active is False


def test_moderator_cannot_deactivate_themselves(moderator):
    details = refused(
        ErrorCode.PERMISSION_DENIED,
        services.user_set_active,
        actor=moderator,
        user_id=moderator.pk,
        active=False,
    )
    assert details == {"reason": "self"}
    assert active(moderator) == [True]


def test_deactivation_covers_bots_tokens_and_sessions(
    alice, bob, moderator, inbox, django_capture_on_commit_callbacks
):
    bot, token = services.bot_create(actor=alice, username="robo")
    bobs_bot, bobs_token = services.bot_create(actor=bob, username="bobbot")
    sessions = [RefreshToken.for_user(alice), new_refresh_token(alice)]
    bobs_session = RefreshToken.for_user(bob)
    inbox.listen(alice, bot, bob)
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_set_active(actor=moderator, user_id=alice.pk, active=False)
        assert inbox.drain(alice) == []  # announced only once committed
    assert user.is_active is False
    assert active(alice, bot, bob, bobs_bot) == [False, False, True, True]
    assert BotToken.objects.get(bot=bot).revoked_at is not None
    assert services.bot_authenticate(token) is None
    assert services.bot_authenticate(bobs_token) == bobs_bot
    assert [blacklisted(t) for t in [*sessions, bobs_session]] == [True, True, False]
    assert inbox.drain(alice) == [event("user.deactivated", user_id=alice.pk)]
    assert inbox.drain(bot) == [event("user.deactivated", user_id=alice.pk)]
    assert inbox.drain(bob) == []


def test_reactivation_restores_account_and_bots_but_not_revoked_credentials(alice, moderator):
    bot, token = services.bot_create(actor=alice, username="robo")
    session = RefreshToken.for_user(alice)
    services.user_set_active(actor=moderator, user_id=alice.pk, active=False)
    assert authenticate(username="alice", password=PASSWORD) is None
    assert services.user_set_active(actor=moderator, user_id=alice.pk, active=True).is_active is True
    assert active(alice, bot) == [True, True]
    assert authenticate(username="alice", password=PASSWORD) == alice
    assert services.bot_authenticate(token) is None
    with pytest.raises(TokenError):
        RefreshToken(str(session))
    _, new_token = services.bot_token_rotate(actor=alice, bot_id=bot.pk)
    assert services.bot_authenticate(new_token) == bot


def test_deactivating_a_bot_itself_revokes_its_token(alice, moderator):
    bot, token = services.bot_create(actor=alice, username="robo")
    services.user_set_active(actor=moderator, user_id=bot.pk, active=False)
    assert active(alice, bot) == [True, False]
    services.user_set_active(actor=moderator, user_id=bot.pk, active=True)
    assert services.bot_authenticate(token) is None  # a ban's credential does not come back with the bot


# --- user_update -----------------------------------------------------------------------------


def test_user_update_own_profile_tells_friends_after_commit(
    alice, bob, carol, inbox, django_capture_on_commit_callbacks
):
    services.friendship_create(user_a=alice, user_b=bob)
    inbox.listen(alice, bob, carol)
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_update(actor=alice, user_id=alice.pk, nickname="  Ally ", bio="Hi", age=None)
    assert (user.nickname, user.bio, user.age) == ("Ally", "Hi", None)
    assert User.objects.filter(pk=alice.pk).values_list("nickname", "bio", "age").get() == (
        "Ally",
        "Hi",
        None,
    )
    assert inbox.drain(alice) == inbox.drain(bob) == [event("user.updated", user_id=alice.pk)]
    assert inbox.drain(carol) == []


def test_user_update_of_someone_else_is_refused(alice, bob):
    details = refused(
        ErrorCode.PERMISSION_DENIED, services.user_update, actor=alice, user_id=bob.pk, nickname="X"
    )
    assert details == {"reason": "not_moderator"}
    assert User.objects.get(pk=bob.pk).nickname == "Bob"


def test_user_update_of_a_bot_by_its_owner_only(alice, bob):
    bot, _ = services.bot_create(actor=alice, username="robo")
    refused(ErrorCode.PERMISSION_DENIED, services.user_update, actor=bob, user_id=bot.pk, nickname="Mine")
    assert services.user_update(actor=alice, user_id=bot.pk, nickname="Robo").nickname == "Robo"
    assert User.objects.get(pk=bot.pk).nickname == "Robo"


def test_user_update_by_a_moderator(alice, moderator):
    services.user_update(actor=moderator, user_id=alice.pk, bio="Edited by staff")
    assert User.objects.get(pk=alice.pk).bio == "Edited by staff"


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"is_staff": True}, "is_staff", "unknown_field"),
        ({"owner_id": 1}, "owner_id", "unknown_field"),
        ({"sex": "robot"}, "sex", "choice"),
        ({"age": 151}, "age", "range"),
        ({"nickname": "x" * 65}, "nickname", "too_long"),
    ],
)
def test_user_update_checks_fields_whatever_the_adapter(alice, fields, field, reason):
    before = User.objects.filter(pk=alice.pk).values().get()
    details = refused(
        ErrorCode.VALIDATION_ERROR, services.user_update, actor=alice, user_id=alice.pk, **fields
    )
    assert details == {"field": field, "reason": reason}
    assert User.objects.filter(pk=alice.pk).values().get() == before


# --- friendships and bots --------------------------------------------------------------------


def test_friendship_create_is_idempotent(alice, bob, inbox, django_capture_on_commit_callbacks):
    inbox.listen(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        services.friendship_create(user_a=alice, user_b=bob)
        services.friendship_create(user_a=bob, user_b=alice)
        services.friendship_create(user_a=alice, user_b=bob)
    pairs = set(Friendship.objects.values_list("user_id", "friend_id"))
    assert pairs == {(alice.pk, bob.pk), (bob.pk, alice.pk)}
    chat = Chat.objects.get()
    assert sorted(chat.members.values_list("user_id", flat=True)) == sorted([alice.pk, bob.pk])
    assert inbox.drain(alice) == [event("friend.added", user_id=bob.pk, user=ref(bob))]
    assert inbox.drain(bob) == [event("friend.added", user_id=alice.pk, user=ref(alice))]


def test_friendship_with_oneself_is_refused(alice):
    details = refused(ErrorCode.PERMISSION_DENIED, services.friendship_create, user_a=alice, user_b=alice)
    assert details == {"reason": "self"}
    assert not Friendship.objects.exists()


def test_bot_create_announces_after_commit(alice, inbox, django_capture_on_commit_callbacks):
    inbox.listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        bot, token = services.bot_create(actor=alice, username="robo", nickname="Robo")
    assert inbox.drain(alice) == [event("friend.added", user_id=bot.pk, user=ref(bot))]
    assert services.bot_authenticate(token) == bot


def test_bots_cannot_create_bots(alice):
    bot, _ = services.bot_create(actor=alice, username="robo")
    details = refused(ErrorCode.PERMISSION_DENIED, services.bot_create, actor=bot, username="robo2")
    assert details == {"reason": "bot"}
    assert User.objects.filter(is_bot=True).count() == 1


def test_bot_token_rotate_tells_the_bot(alice, inbox, django_capture_on_commit_callbacks):
    bot, _ = services.bot_create(actor=alice, username="robo")
    inbox.listen(bot)
    with django_capture_on_commit_callbacks(execute=True):
        services.bot_token_rotate(actor=alice, bot_id=bot.pk)
    assert inbox.drain(bot) == [event("bot.token_revoked", user_id=bot.pk)]


@pytest.mark.parametrize("token", ["", "garbage", "imb_", "imb_not-a-real-token"])
def test_bot_authenticate_refuses_unknown_tokens(alice, token):
    services.bot_create(actor=alice, username="robo")
    assert services.bot_authenticate(token) is None


# --- sessions --------------------------------------------------------------------------------


def test_session_logout(alice, inbox, django_capture_on_commit_callbacks):
    session = new_refresh_token(alice)
    inbox.listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.session_logout(refresh=str(session)) == alice.pk
    assert blacklisted(session)
    assert inbox.drain(alice) == [event("user.logged_out", user_id=alice.pk, sid=session["sid"])]
    refused(ErrorCode.AUTHENTICATION_FAILED, services.session_logout, refresh=str(session))


def test_user_password_set_signs_out_every_session(
    alice, bob, moderator, inbox, django_capture_on_commit_callbacks
):
    sessions = [new_refresh_token(alice) for _ in range(2)]
    rotated = RefreshToken(str(sessions[1]))  # what a refresh hands out: same session, new token
    rotated.set_jti()
    rotated.outstand()
    others = new_refresh_token(bob)
    inbox.listen(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        services.user_password_set(actor=moderator, user_id=alice.pk, password="another-Strong-passw0rd")
    assert User.objects.get(pk=alice.pk).check_password("another-Strong-passw0rd")
    assert [blacklisted(t) for t in (*sessions, rotated, others)] == [True, True, True, False]
    sids = sorted(s["sid"] for s in sessions)
    assert sorted(RevokedSession.objects.values_list("sid", flat=True)) == sids
    assert sorted(inbox.drain(alice), key=lambda e: e["data"]["sid"]) == [
        event("user.logged_out", user_id=alice.pk, sid=sid) for sid in sids
    ]
    assert inbox.drain(bob) == []


@pytest.mark.parametrize(
    ("actor", "target", "password", "code", "reason"),
    [
        ("alice", "bob", "another-Strong-passw0rd", ErrorCode.PERMISSION_DENIED, "not_moderator"),
        ("alice", "alice", "another-Strong-passw0rd", ErrorCode.PERMISSION_DENIED, "not_moderator"),
        ("moderator", "bot", "another-Strong-passw0rd", ErrorCode.PERMISSION_DENIED, "bot"),
        ("moderator", "bob", "password", ErrorCode.VALIDATION_ERROR, "weak"),
    ],
)
def test_user_password_set_refusals_change_nothing(
    alice, bob, moderator, actor, target, password, code, reason
):
    bot, _ = services.bot_create(actor=alice, username="alicebot")
    people = {"alice": alice, "bob": bob, "moderator": moderator, "bot": bot}
    session = new_refresh_token(people[target])
    before = list(User.objects.order_by("pk").values_list("pk", "password"))
    details = refused(
        code, services.user_password_set, actor=people[actor], user_id=people[target].pk, password=password
    )
    assert details["reason"] == reason
    assert list(User.objects.order_by("pk").values_list("pk", "password")) == before
    assert (blacklisted(session), RevokedSession.objects.count(), AuditEntry.objects.count()) == (False, 0, 0)


@pytest.mark.parametrize("kind", ["garbage", "empty", "access", "expired"])
def test_session_logout_refuses_garbage(alice, kind):
    token = RefreshToken.for_user(alice)
    if kind == "expired":
        token.set_exp(lifetime=-token.lifetime)
    raw = {"garbage": "not-a-token", "empty": "", "access": str(token.access_token)}.get(kind, str(token))
    details = refused(ErrorCode.AUTHENTICATION_FAILED, services.session_logout, refresh=raw)
    assert isinstance(details["reason"], str) and details["reason"]
    assert not BlacklistedToken.objects.exists()


def test_presence_is_heard_by_friends_and_private_peers_only(alice, bob, carol, make_user):
    """presence_audience is one constant statement (imsuite.sql): its answer on this leg's database."""
    from chats.models import ChatMember
    from chats.services import private_chat_ensure
    from groups.services import group_create

    dave, erin = make_user("dave"), make_user("erin")
    services.friendship_create(user_a=alice, user_b=bob)
    private_chat_ensure(user_a=alice, user_b=carol)
    private_chat_ensure(user_a=bob, user_b=erin)  # a private chat Alice is not in
    services.friendship_create(user_a=dave, user_b=erin)
    club = group_create(actor=dave, name="club", member_ids=[erin.pk])
    ChatMember.objects.create(chat=club.chat, user=carol)  # a group is not a private chat
    assert services.presence_audience(alice.pk) == {bob.pk, carol.pk}
    assert services.presence_audience(bob.pk) == {alice.pk, erin.pk}
    assert services.presence_audience(dave.pk) == {erin.pk}  # a friend, not the fellow member
    assert services.presence_audience(carol.pk) == {alice.pk}


def test_the_first_connection_and_the_last_stamp_last_seen(alice):
    services.connection_opened(actor=alice, connection="phone")
    opened = alice.last_seen
    services.connection_opened(actor=alice, connection="laptop")  # not the first: no new stamp
    assert alice.last_seen == opened
    services.connection_closed(actor=alice, connection="phone")
    assert alice.last_seen == opened
    alice.refresh_from_db()
    assert alice.last_seen == opened is not None
    services.connection_closed(actor=alice, connection="laptop")
    closed = alice.last_seen
    alice.refresh_from_db()
    assert alice.last_seen == closed > opened


def test_opening_and_closing_announce_to_the_audience_with_the_stamp(
    alice, bob, carol, inbox, django_capture_on_commit_callbacks
):
    """One statement stamps last_seen and reads the audience on PostgreSQL, two on SQLite: the
    announcement and the row are the same."""
    services.friendship_create(user_a=alice, user_b=bob)
    inbox.listen(bob, carol)
    for open_, is_online in ((True, True), (False, False)):
        with django_capture_on_commit_callbacks(execute=True):
            if open_:
                services.connection_opened(actor=alice, connection="phone")
            else:
                services.connection_closed(actor=alice, connection="phone")
        stamped = alice.last_seen
        alice.refresh_from_db()
        assert alice.last_seen == stamped is not None
        heard = [event["data"] for event in inbox.drain(bob) if event["event"] == "presence"]
        assert [(data["user_id"], data["is_online"]) for data in heard] == [(alice.pk, is_online)]
        assert not [event for event in inbox.drain(carol) if event["event"] == "presence"]
