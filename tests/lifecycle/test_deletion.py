"""Account deletion: asked with the password (and the second factor), everyone signed out at once,
cancelled by signing in within the grace, then anonymised by the timers process: messages stay
under "Deleted account", files, profile, friends, pushes and sessions go, owned groups pass on."""

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.blocking import block_create
from accounts.models import Block, BotToken, FriendRequest, Friendship, User, UserSession
from accounts.services import bot_create, friend_request_send, friendship_create
from accounts.sessions import start_session
from chats.models import Chat, ChatMember, Message, Role
from chats.services import message_send
from groups.models import Group
from groups.services import group_create, member_update
from imsuite.management.commands.runtimers import run_due
from imsuite.models import AuditEntry
from lifecycle.deletion import account_anonymise, deletions_due
from lifecycle.models import AccountDeletion
from media.models import Attachment
from push.models import PushSubscription
from sso.models import ExternalIdentity
from tests.accounts.test_api import PASSWORD, assert_error, check
from tests.db_state import assert_unchanged, whole_database
from tests.media.conftest import files_exist
from twofactor import services as two_factor

pytestmark = pytest.mark.django_db
URL = "/api/users/me/deletion"


def ask(client: Any, **data: str) -> Any:
    return client.post(URL, {"password": PASSWORD, **data}, format="json")


def force_due(user: User) -> None:
    AccountDeletion.objects.filter(user=user).update(due_at=timezone.now() - timedelta(seconds=1))


def test_a_request_signs_out_everywhere_and_waits_the_grace(
    alice: User, client_for: Any, settings: Any
) -> None:
    session = start_session(alice)
    client = client_for(alice)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access_token}")
    before = timezone.now()
    body = check(ask(client), 202)
    due = AccountDeletion.objects.get(user=alice).due_at
    assert timedelta(days=7) <= due - before <= timedelta(days=7, seconds=5)
    assert set(body) == {"requested_at", "due_at"}
    assert_error(client.get("/api/users/me"), 401, "AUTHENTICATION_FAILED")
    assert deletions_due() == 0  # not due yet
    assert User.objects.get(pk=alice.pk).username == "alice"
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["account.deletion_requested"]


def test_signing_in_within_the_grace_cancels_it(alice: User, api: Any, client_for: Any) -> None:
    check(ask(client_for(alice)), 202)
    check(api.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json"), 200)
    assert not AccountDeletion.objects.exists()
    force_due(alice)
    assert deletions_due() == 0
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["account.deletion_requested", "account.deletion_cancelled"]


def test_with_two_factor_on_a_code_is_needed(alice: User, client_for: Any) -> None:
    client = client_for(alice)
    secret = (
        check(client.post("/api/users/me/two-factor/enrol"), 200)["otpauth_uri"]
        .split("secret=")[1]
        .split("&")[0]
    )
    totp = pyotp.TOTP(secret)
    check(
        client.post(
            "/api/users/me/two-factor/confirm", {"code": totp.at(two_factor.clock() - 30)}, format="json"
        ),
        200,
    )
    before = whole_database()
    assert_error(ask(client), 400, "VALIDATION_ERROR", reason="required")
    assert_error(ask(client, code="000000"), 400, "VALIDATION_ERROR", reason="code_invalid")
    assert_error(ask(client, password="wrong"), 400, "VALIDATION_ERROR", reason="wrong_password")
    assert_unchanged(before)
    check(ask(client, code=totp.now()), 202)


MATRIX = [
    # actor, status, error code, details.reason
    ("anonymous", 401, "AUTHENTICATION_FAILED", None),
    ("bot", 403, "PERMISSION_DENIED", "bot"),
    ("wrong_password", 400, "VALIDATION_ERROR", "wrong_password"),
    ("deactivated", 401, "AUTHENTICATION_FAILED", None),
]


@pytest.mark.parametrize(("actor", "status", "code", "reason"), MATRIX)
def test_refusals_change_nothing(
    actor: str, status: int, code: str, reason: str | None, alice: User, api: Any, client_for: Any
) -> None:
    bot, _ = bot_create(actor=alice, username="alicebot")
    if actor == "deactivated":
        User.objects.filter(pk=alice.pk).update(is_active=False)
    client = {"anonymous": api, "bot": client_for(bot)}.get(actor) or client_for(alice)
    before = whole_database()
    data = {"password": "wrong"} if actor == "wrong_password" else {}
    response = ask(client, **data)
    details = {"reason": reason} if reason else {}
    assert_error(response, status, code, **details)
    assert_unchanged(before)


def test_staff_ask_for_their_own_deletion_like_anyone(moderator: User, client_for: Any) -> None:
    check(ask(client_for(moderator)), 202)
    assert list(AccountDeletion.objects.values_list("user_id", flat=True)) == [moderator.pk]


def test_after_the_grace_the_account_is_anonymised(
    alice: User, bob: User, carol: User, make_user: Any, upload: Any, client_for: Any, settings: Any
) -> None:
    dave = make_user("dave")
    for friend in (bob, carol, dave):
        friendship_create(user_a=alice, user_b=friend)
    erin = make_user("erin")
    friend_request_send(actor=alice, user_id=erin.pk)
    bot, _ = bot_create(actor=alice, username="alicebot")
    private = Chat.objects.get(type=Chat.Type.PRIVATE, members__user=bob)
    picture = upload(alice, image=True)
    sent, _ = message_send(actor=alice, chat_id=private.pk, content="hello bob", attachment_ids=[picture.pk])
    reply, _ = message_send(actor=bob, chat_id=private.pk, content="hi alice")
    handed_on = group_create(actor=alice, name="Handed on", member_ids=[bob.pk, carol.pk, dave.pk])
    member_update(actor=alice, group_id=handed_on.pk, user_id=carol.pk, role="admin")
    alone = group_create(actor=alice, name="Alone")
    PushSubscription.objects.create(user=alice, kind="unifiedpush", endpoint="https://push.example/alice")
    block_create(actor=alice, user_id=erin.pk)
    block_create(actor=dave, user_id=alice.pk)
    ExternalIdentity.objects.create(user=alice, issuer="https://id.example", subject="alice-at-id")
    User.objects.filter(pk=alice.pk).update(
        avatar_url="https://pics.example/a.png", bio="about me", email="a@x.example", email_verified=True
    )
    check(ask(client_for(alice)), 202)
    force_due(alice)

    assert run_due() == 0  # the timers process's round (it counts mutes and calls only)
    alice.refresh_from_db()
    assert (alice.username, alice.nickname, alice.bio, alice.avatar_url, alice.email) == (
        f"deleted-{alice.pk}",
        "Deleted account",
        "",
        "",
        "",
    )
    assert not alice.is_active and not alice.has_usable_password() and not alice.email_verified
    assert (
        not Block.objects.filter(blocker=alice).exists() and not Block.objects.filter(blocked=alice).exists()
    )
    assert not ExternalIdentity.objects.filter(user=alice).exists()  # a new sign-in makes a new account
    assert not UserSession.objects.filter(user=alice).exists()
    assert Message.objects.get(pk=sent.pk).sender_id == alice.pk
    assert Message.objects.get(pk=sent.pk).content == "hello bob"
    assert Message.objects.get(pk=sent.pk).attachments == []
    assert Message.objects.get(pk=reply.pk).content == "hi alice"
    assert not Attachment.objects.filter(pk=picture.pk).exists() and not files_exist(picture)
    assert (
        not Friendship.objects.filter(user=alice).exists()
        and not Friendship.objects.filter(friend=alice).exists()
    )
    assert not FriendRequest.objects.filter(from_user=alice).exists()
    assert not PushSubscription.objects.filter(user=alice).exists()
    bot.refresh_from_db()
    assert (bot.username, bot.nickname, bot.is_active) == (f"deleted-{bot.pk}", "Deleted account", False)
    assert not BotToken.objects.filter(bot=bot, revoked_at__isnull=True).exists()
    handed_on.refresh_from_db()
    assert handed_on.owner_id == carol.pk and handed_on.dissolved_at is None
    assert ChatMember.objects.get(chat_id=handed_on.pk, user=carol).role == Role.OWNER
    assert not ChatMember.objects.filter(chat_id=handed_on.pk, user=alice).exists()
    assert Group.objects.get(pk=alone.pk).dissolved_at is not None
    assert AccountDeletion.objects.get(user=alice).completed_at is not None
    assert AuditEntry.objects.filter(action="account.deleted", target_id=alice.pk).count() == 1

    before = whole_database()  # carried out once: running again changes nothing
    account_anonymise(alice.pk)
    assert deletions_due() == 0
    assert_unchanged(before)
    assert_error(
        client_for(bob).post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json"),
        401,
        "AUTHENTICATION_FAILED",
    )


def test_the_longest_standing_member_inherits_when_there_is_no_admin(
    alice: User, bob: User, carol: User, client_for: Any
) -> None:
    for friend in (bob, carol):
        friendship_create(user_a=alice, user_b=friend)
    group = group_create(actor=alice, name="Team", member_ids=[carol.pk])
    ChatMember.objects.create(chat_id=group.pk, user=bob)  # joined later
    check(ask(client_for(alice)), 202)
    force_due(alice)
    assert deletions_due() == 1
    assert Group.objects.get(pk=group.pk).owner_id == carol.pk


def test_a_failed_step_is_resumed_next_round(
    alice: User, bob: User, upload: Any, client_for: Any, monkeypatch: Any
) -> None:
    friendship_create(user_a=alice, user_b=bob)
    check(ask(client_for(alice)), 202)
    force_due(alice)
    monkeypatch.setattr(
        "lifecycle.deletion.files_remove", lambda rows: (_ for _ in ()).throw(OSError("storage away"))
    )
    assert deletions_due() == 0
    assert AccountDeletion.objects.get(user=alice).completed_at is None
    assert not User.objects.get(pk=alice.pk).is_active
    monkeypatch.undo()
    assert deletions_due() == 1
    assert AccountDeletion.objects.get(user=alice).completed_at is not None


def test_refresh_tokens_die_at_once(alice: User, api: Any, client_for: Any) -> None:
    session = start_session(alice)
    check(ask(client_for(alice)), 202)
    assert_error(
        api.post("/api/auth/token/refresh", {"refresh": str(session)}, format="json"),
        401,
        "AUTHENTICATION_FAILED",
    )
    assert isinstance(session, RefreshToken)
